package dev.gatehouse.it;

import static dev.gatehouse.it.GatewayStack.DANA;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.gatehouse.audit.EventType;
import dev.gatehouse.testkit.Psql;
import dev.gatehouse.testkit.TcpRelay;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two gateways configured as a user configures a cluster ({@code node.id}, {@code node.peers} with
 * verified TLS towards the peer) behind a round-robin TCP load balancer: psql's Ctrl-C cancel lands
 * on the other node, which passes it on to the node holding the session. Real psql, a real
 * PostgreSQL, a real OIDC provider, each node with its own audit store.
 */
class ClusterCancelTest {
  @TempDir static Path dir;
  static EndToEnd e2e;
  static GatewayStack node1;
  static GatewayStack node2;

  @BeforeAll
  static void start() {
    e2e = EndToEnd.start(dir.resolve("node1"), GatewayStack.Settings.DEFAULT.asNode(1, "[]"));
    node1 = e2e.stack();
    // Node 2 reaches node 1 over TLS, verifying node 1's certificate (its generated CA).
    String peers = "[{id: 1, host: localhost, port: %d, tls: {mode: verify-full, ca: \"%s\"}}]"
        .formatted(node1.port(), node1.ca().toAbsolutePath());
    node2 = GatewayStack.start(dir.resolve("node2"), e2e.oidc(), GatewayStack.Target.of(e2e.target()),
        GatewayStack.Settings.DEFAULT.asNode(2, peers));
  }

  @AfterAll
  static void stop() {
    try {
      if (node2 != null) node2.close();
    } finally {
      if (e2e != null) e2e.close();
    }
  }

  /** Dana is a DBA: the reference policy lets only that group run pg_sleep (code it cannot see into). */
  @Test
  void psqlsCancelLandingOnTheOtherNodeStopsItsQuery() throws Exception {
    try (TcpRelay balancer = new TcpRelay(node1.port(), node2.port())) { // session: node 1, cancel: node 2
      ProcessBuilder builder = new ProcessBuilder(Psql.psql().toString(), "-X", "-v", "VERBOSITY=verbose",
          "-c", "SELECT pg_sleep(60)",
          "host=localhost port=" + balancer.port() + " dbname=" + GatewayStack.RESOURCE + " user=dana"
              + " sslmode=verify-full sslrootcert=" + node1.ca());
      builder.environment().put("PGPASSWORD", node1.token(DANA));
      Path err = dir.resolve("psql.err");
      builder.redirectOutput(dir.resolve("psql.out").toFile()).redirectError(err.toFile());
      Process psql = builder.start();
      try {
        // Running on the target (a cancel that arrives before the query starts cancels nothing).
        await("the sleep running on the target").atMost(Duration.ofSeconds(30)).until(() -> sleeping() || !psql.isAlive());
        assertThat(psql.isAlive()).as("psql still running; it wrote: %s", Files.readString(err)).isTrue();
        // Ctrl-C: psql sends a CancelRequest on a new connection, which the balancer gives node 2.
        Process kill = new ProcessBuilder("kill", "-INT", Long.toString(psql.pid())).start();
        assertThat(kill.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(psql.waitFor(30, TimeUnit.SECONDS)).as("psql ended well before its 60 s sleep").isTrue();
        assertThat(Files.readString(err, StandardCharsets.UTF_8)).contains("57014", "canceling statement due to user request");
        assertThat(psql.exitValue()).isEqualTo(1);
      } finally {
        psql.destroyForcibly();
      }
    }
    // Node 1's audit log has the statement ending in 57014 (awaitEvents fails after 30 s without it).
    node1.awaitEvents("pg_sleep(60)'s outcome 57014 in node 1's audit log", all -> all.stream().anyMatch(e ->
        e.type() == EventType.COMMAND_COMPLETED
            && e.body().outcome().flatMap(o -> o.errorCode()).filter("57014"::equals).isPresent()));
    // Node 2 held no session: it only passed the request on, and its metrics say so.
    assertThat(node2.events()).noneMatch(e -> e.type() == EventType.COMMAND_DECIDED);
    assertThat(metrics(node2)).contains("gatehouse_cancel_requests_total{outcome=\"passed_on\"} 1.0")
        .contains("gatehouse_cancel_requests_total{outcome=\"misrouted\"} 0.0");
    assertThat(metrics(node1)).contains("gatehouse_cancel_requests_total{outcome=\"local\"} 1.0")
        .contains("gatehouse_cancel_requests_total{outcome=\"passed_on\"} 0.0");
  }

  private static String metrics(GatewayStack node) throws Exception {
    HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
            URI.create("http://127.0.0.1:" + node.gatehouse().controlPlanePort() + "/metrics"))
        .timeout(Duration.ofSeconds(20)).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(200);
    return r.body();
  }

  private static boolean sleeping() throws SQLException {
    try (Connection c = e2e.target().admin(); ResultSet rs = c.createStatement().executeQuery(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            + " AND query = 'SELECT pg_sleep(60)' AND state = 'active'")) {
      rs.next();
      return rs.getInt(1) > 0;
    }
  }
}
