package dev.gatehouse.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gatehouse.postgres.wire.BackendMessage;
import java.nio.ByteBuffer;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Each connection in startup holds a platform thread (so its socket stays blocking for the
 * session), so their number is capped: a flood of silent connections cannot exhaust threads.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS) // a hang guard, not a timing assertion
class GatewayStartupLimitTest {
  private static GatewayHarness h;

  @BeforeAll
  static void start() {
    h = new GatewayHarness(PostgresListenerConfig.loopback(0).withStartupTimeout(Duration.ofSeconds(30)).withMaxStartups(4));
  }

  @AfterAll
  static void stop() {
    h.close();
  }

  @Test
  void connectionsBeyondTheStartupLimitAreRefusedWithTooManyConnectionsAndFreedSlotsServeAgain() throws Exception {
    List<RawClient> silent = new ArrayList<>();
    try {
      for (int i = 0; i < 4; i++) {
        RawClient c = new RawClient(h.gateway.port());
        silent.add(c);
        // Half a startup packet: the connection stays in startup until its 30 s deadline.
        c.sendBytes(ByteBuffer.allocate(6).putInt(40).putShort((short) 3).array());
      }
      try (RawClient extra = new RawClient(h.gateway.port())) {
        List<BackendMessage> got = extra.untilClosed();
        assertThat(RawClient.firstError(got)).get().satisfies(e -> {
          assertThat(e.severity()).isEqualTo("FATAL");
          assertThat(e.sqlstate()).isEqualTo("53300");
          assertThat(e.message()).contains("too many connections are starting up");
        });
      }
    } finally {
      for (RawClient c : silent) c.close();
    }
    // Once the silent ones are gone, sessions start again.
    assertThat(GatewayHarness.eventually(() -> {
      try (Connection c = h.jdbc(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT 1")) {
        return rs.next();
      } catch (java.sql.SQLException e) {
        return false;
      }
    })).isTrue();
  }
}
