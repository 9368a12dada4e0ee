package dev.gatehouse.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.gatehouse.postgres.wire.BackendKeyData;
import dev.gatehouse.postgres.wire.ErrorResponse;
import dev.gatehouse.postgres.wire.Query;
import dev.gatehouse.testkit.Psql;
import dev.gatehouse.testkit.TcpRelay;
import dev.gatehouse.tls.CertificateAuthority;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.assertj.core.api.InstanceOfAssertFactories;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Cancel requests in a cluster: behind a TCP load balancer a client's cancel request opens a new
 * connection that may land on another node than its session; that node passes it on to the node
 * whose id the key carries, once, over TLS when the peer is so configured. Real gateways in
 * process, a real PostgreSQL, real pgjdbc and psql.
 */
class GatewayPeerCancelTest {
  @TempDir Path dir;

  private final List<AutoCloseable> open = new java.util.ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (AutoCloseable c : open.reversed()) c.close();
  }

  private GatewayHarness node(PostgresListenerConfig config) {
    GatewayHarness h = new GatewayHarness(config);
    open.add(h);
    return h;
  }

  private TcpRelay balancer(int... ports) throws IOException {
    TcpRelay relay = new TcpRelay(ports);
    open.add(relay);
    return relay;
  }

  private static PeerNode plain(int id, GatewayHarness h) {
    return new PeerNode(id, "127.0.0.1", h.gateway.port(), TargetTls.disabled());
  }

  /** pg_sleep calls running in this harness's database. */
  private static int sleepsIn(GatewayHarness h) {
    try (Connection c = h.admin(); ResultSet rs = c.createStatement().executeQuery(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            + " AND query LIKE 'SELECT pg_sleep%' AND state = 'active'")) {
      rs.next();
      return rs.getInt(1);
    } catch (SQLException e) {
      return 0;
    }
  }

  @Test
  void pgjdbcsCancelLandingOnAnotherNodeStopsTheQueryOnTheNodeHoldingTheSession() throws Exception {
    GatewayHarness a = node(PostgresListenerConfig.loopback(0).withNode(1, List.of()));
    GatewayHarness b = node(PostgresListenerConfig.loopback(0).withNode(2, List.of(plain(1, a))));
    TcpRelay lb = balancer(a.gateway.port(), b.gateway.port()); // session to node 1, cancel to node 2

    Properties p = new Properties();
    p.setProperty("user", "alice");
    p.setProperty("password", GatewayHarness.TOKEN);
    p.setProperty("sslmode", "disable");
    try (Connection c = DriverManager.getConnection(
            "jdbc:postgresql://127.0.0.1:" + lb.port() + "/" + GatewayHarness.RESOURCE, p);
        Statement s = c.createStatement()) {
      Thread canceller = Thread.ofVirtual().start(() -> {
        GatewayHarness.eventually(() -> sleepsIn(a) > 0);
        try {
          s.cancel();
        } catch (SQLException e) {
          throw new IllegalStateException(e);
        }
      });
      long started = System.nanoTime();
      assertThatThrownBy(() -> s.execute("SELECT pg_sleep(60)"))
          .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("57014"));
      assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(30));
      canceller.join();
      try (ResultSet rs = s.executeQuery("SELECT 1")) { // the session goes on
        assertThat(rs.next()).isTrue();
      }
    }
  }

  @Test
  void psqlsCancelOnControlCLandingOnAnotherNodeStopsTheQuery() throws Exception {
    GatewayHarness a = node(PostgresListenerConfig.loopback(0).withNode(1, List.of()));
    GatewayHarness b = node(PostgresListenerConfig.loopback(0).withNode(2, List.of(plain(1, a))));
    TcpRelay lb = balancer(a.gateway.port(), b.gateway.port());

    ProcessBuilder builder = new ProcessBuilder(Psql.psql().toString(), "-X", "-c", "SELECT pg_sleep(60)",
        "host=127.0.0.1 port=" + lb.port() + " dbname=" + GatewayHarness.RESOURCE + " user=alice sslmode=disable");
    builder.environment().put("PGPASSWORD", GatewayHarness.TOKEN);
    builder.redirectOutput(dir.resolve("psql.out").toFile()).redirectError(dir.resolve("psql.err").toFile());
    Process psql = builder.start();
    try {
      assertThat(GatewayHarness.eventually(() -> sleepsIn(a) > 0)).isTrue();
      // What Ctrl-C does: psql's SIGINT handler sends a CancelRequest on a new connection.
      Process kill = new ProcessBuilder("kill", "-INT", Long.toString(psql.pid())).start();
      assertThat(kill.waitFor(10, TimeUnit.SECONDS)).isTrue();
      assertThat(psql.waitFor(30, TimeUnit.SECONDS)).as("psql ended well before its 60 s sleep").isTrue();
      assertThat(java.nio.file.Files.readString(dir.resolve("psql.err"), StandardCharsets.UTF_8))
          .contains("canceling statement due to user request");
      assertThat(psql.exitValue()).isEqualTo(1);
    } finally {
      psql.destroyForcibly();
    }
  }

  /** Node 1 with TLS, node 2 reaching it through a relay that records what node 1 sends. */
  private record TlsPair(GatewayHarness one, TcpRelay wire, GatewayHarness two) {}

  /** @param trusted the CA node 2 verifies node 1 against */
  private TlsPair tlsPair(CertificateAuthority.Prepared material, Path trusted) throws IOException {
    GatewayHarness one = node(PostgresListenerConfig.loopback(0)
        .withTls(Optional.of(material.serverTls().context()), false).withNode(1, List.of()));
    TcpRelay wire = balancer(one.gateway.port());
    GatewayHarness two = node(PostgresListenerConfig.loopback(0).withNode(2, List.of(
        new PeerNode(1, "localhost", wire.port(), TargetTls.verifyFull(trusted)))));
    return new TlsPair(one, wire, two);
  }

  @Test
  void theCancelTravelsToAPeerOverVerifiedTls() throws Exception {
    CertificateAuthority.Prepared material = CertificateAuthority.prepare(dir.resolve("tls-a"), List.of());
    TlsPair nodes = tlsPair(material, material.caCertificate());

    try (RawClient c = new RawClient(nodes.one().gateway.port())) {
      BackendKeyData key = c.login(GatewayHarness.TOKEN);
      assertThat(CancelKeys.nodeOf(key.processId())).isEqualTo(1);
      c.send(new Query("SELECT pg_sleep(60)"));
      assertThat(GatewayHarness.eventually(() -> sleepsIn(nodes.one()) > 0)).isTrue();
      // As from PostgreSQL: no answer.
      assertThat(RawClient.cancel(nodes.two().gateway.port(), key.processId(), key.secretKey())).isEmpty();
      assertThat(RawClient.firstError(c.untilReady())).get().extracting(ErrorResponse::sqlstate).isEqualTo("57014");
    }
    // Node 1 answered the SSLRequest with 'S', then a TLS handshake record (0x16, version 3.x).
    assertThat(nodes.wire().received()).startsWith("S\u0016\u0003");
  }

  @Test
  void aPeerWhoseCertificateDoesNotVerifyGetsNoCancel() throws Exception {
    CertificateAuthority.Prepared material = CertificateAuthority.prepare(dir.resolve("tls-a"), List.of());
    CertificateAuthority.Prepared other = CertificateAuthority.prepare(dir.resolve("tls-other"), List.of());
    TlsPair nodes = tlsPair(material, other.caCertificate());

    try (RawClient c = new RawClient(nodes.one().gateway.port())) {
      BackendKeyData key = c.login(GatewayHarness.TOKEN);
      c.send(new Query("SELECT pg_sleep(1.5)"));
      assertThat(GatewayHarness.eventually(() -> sleepsIn(nodes.one()) > 0)).isTrue();
      assertThat(RawClient.cancel(nodes.two().gateway.port(), key.processId(), key.secretKey())).isEmpty();
      assertThat(RawClient.firstError(c.untilReady())).isEmpty(); // the sleep ran to its end
    }
    assertCounted(nodes.two(), CancelOutcome.PASS_ON_FAILED, 1);
    // The handshake failed before any application data: the key never left node 2.
    assertThat(nodes.wire().received()).startsWith("S\u0016\u0003");
    // What node 2 logs says which peer, and why.
    PeerNode peer = new PeerNode(1, "localhost", nodes.wire().port(), TargetTls.verifyFull(other.caCertificate()));
    assertThat(new BackendConnector().forwardCancel(peer, 1 << 24, new byte[4])).get(InstanceOfAssertFactories.STRING)
        .startsWith("TLS handshake with peer node 1 at localhost:" + nodes.wire().port() + " failed (mode VERIFY_FULL")
        .doesNotContain("with target");
  }

  @Test
  void aRelayedCancelIsNeverPassedOnAgain() throws Exception {
    GatewayHarness a = node(PostgresListenerConfig.loopback(0).withNode(1, List.of()));
    GatewayHarness b = node(PostgresListenerConfig.loopback(0).withNode(2, List.of(plain(1, a))));
    // Node 3 is misconfigured: it believes node 1 listens where node 2 does.
    GatewayHarness c3 = node(PostgresListenerConfig.loopback(0).withNode(3, List.of(plain(1, b))));

    try (RawClient c = new RawClient(a.gateway.port())) {
      BackendKeyData key = c.login(GatewayHarness.TOKEN);
      c.send(new Query("SELECT pg_sleep(1.5)"));
      assertThat(GatewayHarness.eventually(() -> sleepsIn(a) > 0)).isTrue();
      assertThat(RawClient.cancel(c3.gateway.port(), key.processId(), key.secretKey())).isEmpty();
      // Node 2 got it from node 3 as relayed, for node 1: it dropped it rather than pass it on.
      assertThat(RawClient.firstError(c.untilReady())).isEmpty();
      assertCounted(c3, CancelOutcome.PASSED_ON, 1);
      assertCounted(b, CancelOutcome.MISROUTED, 1);
      assertThat(a.gateway.cancelRequests(CancelOutcome.LOCAL)).isZero();

      // Sent by a client to node 2, the same key is passed on to node 1 and cancels.
      c.send(new Query("SELECT pg_sleep(60)"));
      assertThat(GatewayHarness.eventually(() -> sleepsIn(a) > 0)).isTrue();
      assertThat(RawClient.cancel(b.gateway.port(), key.processId(), key.secretKey())).isEmpty();
      assertThat(RawClient.firstError(c.untilReady())).get().extracting(ErrorResponse::sqlstate).isEqualTo("57014");
      assertCounted(b, CancelOutcome.PASSED_ON, 1);
      assertCounted(a, CancelOutcome.LOCAL, 1);
    }
  }

  @Test
  void aWrongKeyPassedOnCancelsNothingAndKeysOfUnknownNodesAreDropped() throws Exception {
    GatewayHarness a = node(PostgresListenerConfig.loopback(0).withNode(1, List.of()));
    GatewayHarness b = node(PostgresListenerConfig.loopback(0).withNode(2, List.of(plain(1, a))));

    try (RawClient c = new RawClient(a.gateway.port())) {
      BackendKeyData key = c.login(GatewayHarness.TOKEN);
      c.send(new Query("SELECT pg_sleep(1.5)"));
      assertThat(GatewayHarness.eventually(() -> sleepsIn(a) > 0)).isTrue();
      byte[] wrong = key.secretKey().clone();
      wrong[3] ^= 1;
      assertThat(RawClient.cancel(b.gateway.port(), key.processId(), wrong)).isEmpty();
      int otherNode = (9 << 24) | (key.processId() & 0xffffff);
      assertThat(RawClient.cancel(b.gateway.port(), otherNode, key.secretKey())).isEmpty();
      assertThat(RawClient.firstError(c.untilReady())).isEmpty();
    }
    assertCounted(b, CancelOutcome.PASSED_ON, 1); // the wrong key ...
    assertCounted(a, CancelOutcome.UNKNOWN_KEY, 1); // ... which node 1 did not know
    assertCounted(b, CancelOutcome.UNKNOWN_NODE, 1);
    assertThat(a.gateway.cancelRequests(CancelOutcome.LOCAL)).isZero();
  }

  /** The counters are bumped just before the cancel's connection closes: wait for them (bounded). */
  private static void assertCounted(GatewayHarness h, CancelOutcome outcome, long expected) {
    GatewayHarness.eventually(() -> h.gateway.cancelRequests(outcome) == expected);
    assertThat(h.gateway.cancelRequests(outcome)).as(outcome.tag()).isEqualTo(expected);
  }
}
