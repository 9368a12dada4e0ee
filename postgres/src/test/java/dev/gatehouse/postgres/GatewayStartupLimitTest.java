package dev.gatehouse.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gatehouse.postgres.wire.BackendKeyData;
import dev.gatehouse.postgres.wire.BackendMessage;
import dev.gatehouse.postgres.wire.ErrorResponse;
import dev.gatehouse.postgres.wire.Query;
import java.io.IOException;
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
 * session), so their number is capped: a flood of silent connections cannot exhaust threads; and
 * one source's share is capped, so its flood cannot lock others out.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS) // a hang guard, not a timing assertion
class GatewayStartupLimitTest {
  private static GatewayHarness h;
  /** Eight in startup at once, three from one source. */
  private static GatewayHarness perSource;

  @BeforeAll
  static void start() {
    h = new GatewayHarness(PostgresListenerConfig.loopback(0).withStartupTimeout(Duration.ofSeconds(30)).withMaxStartups(4));
    perSource = new GatewayHarness(PostgresListenerConfig.loopback(0).withStartupTimeout(Duration.ofSeconds(30))
        .withMaxStartups(8).withMaxStartupsPerSource(3));
  }

  @AfterAll
  static void stop() {
    h.close();
    perSource.close();
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

  @Test
  void oneSourceHoldingItsShareOfStartupsLocksOutNeitherOtherLoginsNorTheirCancels() throws Exception {
    int port = perSource.gateway.port();
    List<RawClient> silent = new ArrayList<>();
    try (RawClient victim = new RawClient(port, "127.0.0.2")) {
      BackendKeyData key = victim.login(GatewayHarness.TOKEN);
      victim.send(new Query("SELECT pg_sleep(60)"));
      for (int i = 0; i < 3; i++) {
        RawClient c = new RawClient(port, "127.0.0.1");
        silent.add(c);
        c.sendBytes(ByteBuffer.allocate(6).putInt(40).putShort((short) 3).array());
      }
      try (RawClient extra = new RawClient(port, "127.0.0.1")) {
        assertThat(RawClient.firstError(extra.untilClosed())).get().satisfies(e -> {
          assertThat(e.sqlstate()).isEqualTo("53300");
          assertThat(e.message()).contains("from your address");
        });
      }
      // Another source logs in, and a cancel from a third stops the victim's query.
      try (RawClient other = new RawClient(port, "127.0.0.3")) {
        other.login(GatewayHarness.TOKEN);
        other.send(new Query("SELECT 1"));
        assertThat(RawClient.firstError(other.untilReady())).isEmpty();
      }
      assertThat(GatewayHarness.eventually(() -> GatewayRelayTest.runningSleepsIn(perSource) > 0)).isTrue();
      assertThat(RawClient.cancel(port, "127.0.0.4", key.processId(), key.secretKey())).isEmpty();
      assertThat(RawClient.firstError(victim.untilReady())).get().extracting(ErrorResponse::sqlstate).isEqualTo("57014");
    } finally {
      for (RawClient c : silent) c.close();
    }
    // The silent connections' slots come back with them.
    assertThat(GatewayHarness.eventually(() -> {
      try (RawClient again = new RawClient(port, "127.0.0.1")) {
        again.login(GatewayHarness.TOKEN);
        return true;
      } catch (IOException | RuntimeException | AssertionError e) {
        return false;
      }
    })).isTrue();
  }
}
