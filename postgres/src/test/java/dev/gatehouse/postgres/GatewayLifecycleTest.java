package dev.gatehouse.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.gatehouse.core.Outcome;
import dev.gatehouse.postgres.wire.BackendMessage;
import dev.gatehouse.postgres.wire.ProtocolVersion;
import java.nio.ByteBuffer;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** How sessions end: stalled startups, expired tokens, a target that dies, a gateway that stops. */
class GatewayLifecycleTest {
  static GatewayHarness h;

  @BeforeAll
  static void start() {
    h = new GatewayHarness(PostgresListenerConfig.loopback(0).withStartupTimeout(Duration.ofSeconds(1)));
  }

  @AfterAll
  static void stop() {
    h.close();
  }

  @Test
  void aClientThatStallsDuringStartupIsClosedWithAProtocolError() throws Exception {
    try (RawClient c = new RawClient(h.gateway.port())) {
      // Half a startup packet, then nothing.
      c.sendBytes(ByteBuffer.allocate(6).putInt(40).putShort((short) 3).array());
      List<BackendMessage> got = c.untilClosed();
      assertThat(RawClient.firstError(got)).get().satisfies(e -> {
        assertThat(e.severity()).isEqualTo("FATAL");
        assertThat(e.sqlstate()).isEqualTo("08P01");
        assertThat(e.message()).contains("timeout");
      });
    }
  }

  @Test
  void aClientTricklingBytesIsCutOffAtTheStartupDeadline() throws Exception {
    try (RawClient c = new RawClient(h.gateway.port())) {
      byte[] packet = ByteBuffer.allocate(8).putInt(8).putInt(ProtocolVersion.V3_0).array();
      boolean closed = false;
      // One byte every 300 ms would never trip a per-read timeout of 1 s; the deadline must.
      for (int i = 0; i < 40 && !closed; i++) {
        try {
          c.sendBytes(new byte[] {packet[i % 4]});
          Thread.sleep(300);
        } catch (java.io.IOException e) {
          closed = true;
        }
        if (!closed && c.in.available() > 0) closed = true;
      }
      assertThat(closed).as("connection ended before 40 slow bytes were accepted").isTrue();
    }
  }

  @Test
  void aSessionEndsWhenItsTokenExpires() throws Exception {
    String shortToken = "short-lived-token";
    h.tokens.put(shortToken, Instant.now().plusSeconds(2));
    Properties p = new Properties();
    p.setProperty("password", shortToken);
    try (Connection c = h.jdbc(p); Statement s = c.createStatement()) {
      try (ResultSet rs = s.executeQuery("SELECT 1")) {
        assertThat(rs.next()).isTrue();
      }
      assertThat(GatewayHarness.eventually(() -> h.closedSessions().stream()
          .anyMatch(e -> e.reason().equals("session expired")))).isTrue();
      assertThatThrownBy(() -> s.executeQuery("SELECT 1"))
          .isInstanceOf(SQLException.class)
          .hasMessageContaining("session expired: your token expired; reconnect with a fresh token");
    }
  }

  @Test
  void aTargetBackendKilledMidQueryEndsTheSessionWithAbortedOutcome() throws Exception {
    try (Connection c = h.jdbc(); Statement s = c.createStatement()) {
      Thread killer = Thread.ofVirtual().start(() -> {
        GatewayHarness.eventually(() -> GatewayRelayTest.runningSleepsIn(h) > 0);
        try (Connection admin = h.admin()) {
          admin.createStatement().execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
              + " WHERE query = 'SELECT pg_sleep(60) AS killed_here' AND state = 'active'");
        } catch (SQLException e) {
          throw new IllegalStateException(e);
        }
      });
      assertThatThrownBy(() -> s.execute("SELECT pg_sleep(60) AS killed_here"))
          .isInstanceOf(SQLException.class);
      killer.join();
      assertThat(c.isValid(5)).isFalse();
    }
    assertThat(GatewayHarness.eventually(() -> h.audit.outcomeOf("killed_here").isPresent())).isTrue();
    assertThat(h.audit.outcomeOf("killed_here")).get().extracting(Outcome::status).isEqualTo(Outcome.Status.ABORTED);
  }

  @Test
  void everySessionIsClosedExactlyOnceInTheCheckpoint() throws Exception {
    int before = h.closedSessions().size();
    try (Connection c = h.jdbc()) {
      c.createStatement().execute("SELECT 1");
    }
    try (RawClient raw = new RawClient(h.gateway.port())) {
      raw.login(GatewayHarness.TOKEN);
    } // client EOF without Terminate
    assertThat(GatewayHarness.eventually(() -> h.closedSessions().size() == before + 2)).isTrue();
    Thread.sleep(200);
    assertThat(h.closedSessions()).hasSize(before + 2);
    assertThat(h.checkpoint.sessions()).isEmpty();
  }

  @Test
  void closingTheGatewayEndsLiveSessionsWithAMessage() throws Exception {
    try (GatewayHarness own = new GatewayHarness(); RawClient c = new RawClient(own.gateway.port())) {
      c.login(GatewayHarness.TOKEN);
      own.gateway.close();
      List<BackendMessage> got = c.untilClosed();
      assertThat(RawClient.firstError(got)).get().satisfies(e -> {
        assertThat(e.sqlstate()).isEqualTo("57P01");
        assertThat(e.message()).contains("shutting down");
      });
      assertThat(own.closedSessions()).singleElement()
          .satisfies(e -> assertThat(e.reason()).isEqualTo("gateway shutdown"));
    }
  }

}
