package dev.gatehouse.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gatehouse.postgres.wire.BackendMessage;
import dev.gatehouse.postgres.wire.DataRow;
import dev.gatehouse.postgres.wire.Query;
import dev.gatehouse.postgres.wire.ReadyForQuery;
import dev.gatehouse.testkit.ScramPostgres;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Sessions to a target reached over verified TLS (testkit's {@link ScramPostgres}, whose role
 * {@code tlsUser} may only sign in over TLS), relayed by the event loop: the target's TLS runs over
 * the loop's channel as the client's does.
 */
class GatewayTargetTlsTest {
  static ScramPostgres server;
  static GatewayHarness h;

  @BeforeAll
  static void start() {
    server = ScramPostgres.shared();
    TargetTls verified = new TargetTls(TargetTls.Mode.VERIFY_FULL, Optional.of(server.caCertificateFile()),
        Optional.of(server.certificateOnlyHostName()));
    h = new GatewayHarness(PostgresListenerConfig.loopback(0), new PostgresTarget(server.host(), server.port(),
        server.database(), server.tlsUser(), server.tlsPassword(), verified, false));
  }

  @AfterAll
  static void stop() {
    if (h != null) h.close();
  }

  @Test
  void aSessionToATlsTargetRunsOnTheEventLoopOverTls() throws Exception {
    try (Connection c = h.jdbc(); Statement s = c.createStatement()) {
      try (ResultSet rs = s.executeQuery("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")) {
        assertThat(rs.next()).isTrue();
        assertThat(rs.getBoolean(1)).as("the target sees its session on TLS").isTrue();
      }
      long relayThreads = Thread.getAllStackTraces().keySet().stream()
          .filter(t -> t.getName().startsWith("pg-backend-"))
          .count();
      assertThat(relayThreads).as("threads relaying a session's target side").isZero();
    }
  }

  @Test
  void aLargeResultFromATlsTargetArrivesWhole() throws Exception {
    // Many TLS records from the target, more than one run of its handler takes.
    try (Connection c = h.jdbc(); Statement s = c.createStatement()) {
      long rows = 0;
      long length = 0;
      try (ResultSet rs = s.executeQuery("SELECT g, repeat('q', g % 500) FROM generate_series(1, 60000) g")) {
        while (rs.next()) {
          rows++;
          length += rs.getString(2).length();
        }
      }
      long expected = 0;
      for (int g = 1; g <= 60_000; g++) expected += g % 500;
      assertThat(rows).isEqualTo(60_000);
      assertThat(length).isEqualTo(expected);
    }
  }

  @Test
  void resultsOfAFewHundredKilobytesFromATlsTargetArriveWhole() throws Exception {
    // The target sends each result at once, more than one run of its handler takes (four reads,
    // 120 KiB); what TLS decrypted but the run left wakes no selector once the socket is drained.
    try (RawClient c = new RawClient(h.gateway.port())) {
      c.login(GatewayHarness.TOKEN);
      for (int i = 0; i < 100; i++) {
        int rows = 120 + i;
        c.send(new Query("SELECT repeat('r', 1000) FROM generate_series(1, " + rows + ")"));
        List<BackendMessage> got = c.untilReady();
        assertThat(RawClient.firstError(got)).isEmpty();
        assertThat(got.stream().filter(DataRow.class::isInstance).count()).isEqualTo(rows);
      }
    }
  }

  @Test
  void burstsOfAnswersFromATlsTargetAreRelayedWhole() throws Exception {
    // Bursts of Syncs: the target answers each with a ReadyForQuery, many to a TLS record, and sends
    // nothing more until the next burst; answers decrypted but not yet relayed wake no selector.
    int count = 40_000;
    byte[] burst = RawClient.syncs(count);
    try (RawClient c = new RawClient(h.gateway.port())) {
      c.login(GatewayHarness.TOKEN);
      for (int round = 0; round < 5; round++) {
        c.sendBytes(burst);
        for (int ready = 0; ready < count; ready++) {
          BackendMessage m = c.read().orElseThrow(() -> new AssertionError("the gateway closed"));
          assertThat(m).isInstanceOf(ReadyForQuery.class);
        }
      }
      c.send(new Query("SELECT name FROM public.items ORDER BY id"));
      List<BackendMessage> got = c.untilReady();
      assertThat(RawClient.firstError(got)).isEmpty();
      assertThat(got.stream().filter(DataRow.class::isInstance).count()).isEqualTo(3);
    }
  }
}
