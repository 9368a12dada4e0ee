package dev.gatehouse.it;

import static dev.gatehouse.it.GatewayStack.ALICE;
import static dev.gatehouse.it.GatewayStack.BOB;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operator's side of a running gateway: the control plane's health, readiness and metrics, and
 * a policy file edited under it: a broken edit is rejected (the previous policy stays, readiness
 * says why), a valid one takes effect for new connections and ends open sessions it no longer
 * admits.
 */
class ControlPlaneAndReloadTest {
  static final ObjectMapper JSON = new ObjectMapper();
  static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

  @TempDir static Path dir;
  static EndToEnd e2e;
  static GatewayStack stack;

  @BeforeAll
  static void start() {
    e2e = EndToEnd.start(dir);
    stack = e2e.stack();
  }

  @AfterAll
  static void stop() {
    if (e2e != null) e2e.close();
  }

  @Test
  void controlPlaneAnswersHealthReadinessAndMetrics() throws Exception {
    assertThat(stack.psql(ALICE).command("SELECT 1").succeeded()).isTrue();
    HttpResponse<String> health = get("/healthz");
    assertThat(health.statusCode()).isEqualTo(200);
    assertThat(JSON.readTree(health.body()).path("status").asText()).isEqualTo("ok");
    HttpResponse<String> ready = get("/readyz");
    assertThat(ready.statusCode()).as(ready.body()).isEqualTo(200);
    assertThat(JSON.readTree(ready.body()).path("checks").path("audit").asText()).isEqualTo("ok");
    HttpResponse<String> metrics = get("/metrics");
    assertThat(metrics.statusCode()).isEqualTo(200);
    assertThat(metrics.body()).contains("gatehouse_sessions_opened_total{resource=\"pg-demo\"}");
    assertThat(metrics.body()).contains("gatehouse_commands_decided_total{decision=\"allow\",resource=\"pg-demo\"}")
        .contains("gatehouse_audit_unindexed_events").contains("gatehouse_audit_lost_events 0.0")
        .contains("gatehouse_classifier_template_hits_total").contains("gatehouse_classifier_cached_texts");
    // Each of Gatehouse's own metrics says what it counts (review round 44: every HELP line was empty).
    assertThat(metrics.body()).contains("# HELP gatehouse_sessions_opened_total Sessions admitted, by resource")
        .contains("# HELP gatehouse_audit_lost_events Audit events that could not be recorded")
        .doesNotContainPattern("# HELP gatehouse_\\w+ *\n");
    assertThat(metrics.body()).doesNotContain(stack.credentials().getLast().reveal());
  }

  @Test
  void onLoopbackTheControlPlaneAnswersOnlyRequestsForLoopbackNames() throws Exception {
    // Red-team round 26: a web page whose host name resolves to 127.0.0.1 (DNS rebinding) could
    // read /metrics and /readyz; on loopback, another Host is refused (421, a JSON body).
    int port = stack.gatehouse().controlPlanePort();
    String refused = rawGet(port, "rebind.attacker.example:" + port, "/metrics");
    assertThat(refused).startsWith("HTTP/1.1 421").contains("misdirected request").doesNotContain("gatehouse_");
    for (String host : new String[] {"localhost:" + port, "127.0.0.1:" + port, "127.0.0.1", "LOCALHOST"}) {
      assertThat(rawGet(port, host, "/healthz")).as(host).startsWith("HTTP/1.1 200").contains("\"ok\"");
    }
  }

  /** A GET with the Host header given (HttpClient does not let a caller set it), its whole answer. */
  private static String rawGet(int port, String host, String path) throws Exception {
    try (java.net.Socket socket = new java.net.Socket("127.0.0.1", port)) {
      socket.setSoTimeout(20_000);
      socket.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n")
          .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      return new String(socket.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    }
  }

  @Test
  void policyEditsAreRejectedWhenBrokenAndApplyToOpenSessionsWhenValid() throws Exception {
    Path policy = dir.resolve("policy.yaml");
    String original = Files.readString(policy);
    try (Connection bob = stack.jdbc(BOB)) {
      assertThat(count(bob)).isEqualTo(3);

      // A broken edit: rejected, readiness says so, the previous policy stays in force.
      Files.writeString(policy, original + "\n  - name: [broken\n");
      await("readiness reports the rejected policy").atMost(Duration.ofSeconds(30))
          .until(() -> JSON.readTree(get("/readyz").body()).path("checks").path("policy").asText().contains("rejected"));
      HttpResponse<String> rejected = get("/readyz");
      JsonNode ready = JSON.readTree(rejected.body());
      assertThat(ready.path("checks").path("policy").asText()).contains("the previous policy stays in force");
      // The node serves on under the previous policy, so it stays ready (round 40: 503 took every
      // node out of its load balancer over one typo).
      assertThat(rejected.statusCode()).isEqualTo(200);
      assertThat(ready.path("status").asText()).isEqualTo("ready");
      assertThat(count(bob)).as("bob's session under the previous policy").isEqualTo(3);
      try (Connection alice = stack.jdbc(ALICE); Statement s = alice.createStatement()) {
        assertThatThrownBy(() -> s.execute("DROP TABLE orders")).isInstanceOfSatisfying(SQLException.class,
            e -> assertThat(e.getSQLState()).isEqualTo("42501"));
      }

      // A deny rule pinned to an issuer the configuration does not trust would guard nothing (no
      // token comes from it): rejected as well, naming the issuer and the ones trusted.
      String untrusted = original.replace("\n# DDL (ALTER", "\n  - name: partner-blocked\n    effect: deny\n"
          + "    subjects: {issuers: [partner-idp]}\n\n# DDL (ALTER");
      assertThat(untrusted).as("the edit adds a rule").isNotEqualTo(original);
      Files.writeString(policy, untrusted);
      await("readiness reports the untrusted issuer").atMost(Duration.ofSeconds(30))
          .until(() -> JSON.readTree(get("/readyz").body()).path("checks").path("policy").asText().contains("partner-idp"));
      assertThat(JSON.readTree(get("/readyz").body()).path("checks").path("policy").asText())
          .contains("unknown issuer \"partner-idp\": identity.issuers defines corp").contains("rejected");
      assertThat(count(bob)).as("bob's session under the previous policy").isEqualTo(3);

      // A valid edit that no longer lets analysts connect: bob's open session ends, new ones are refused.
      String withoutAnalysts = original.replace("applies_to: [connect]\n    subjects: {groups: [analysts]}",
          "applies_to: [connect]\n    subjects: {groups: [auditors]}");
      assertThat(withoutAnalysts).as("the edit changes the analysts' connect rule").isNotEqualTo(original);
      Files.writeString(policy, withoutAnalysts);
      await("readiness after the valid edit").atMost(Duration.ofSeconds(30))
          .until(() -> JSON.readTree(get("/readyz").body()).path("checks").path("policy").asText().equals("ok"));
      await("bob's session ended by the new policy").atMost(Duration.ofSeconds(30)).until(() -> {
        try {
          count(bob);
          return false;
        } catch (SQLException e) {
          return true;
        }
      });
      assertThatThrownBy(() -> stack.jdbc(BOB).close()).isInstanceOfSatisfying(SQLException.class,
          e -> assertThat(e.getSQLState()).isEqualTo("28000"));
      try (Connection alice = stack.jdbc(ALICE)) {
        assertThat(count(alice)).as("alice is still admitted").isEqualTo(3);
      }
    } finally {
      Files.writeString(policy, original);
      await("the original policy back").atMost(Duration.ofSeconds(30)).until(() -> {
        try (Connection bob = stack.jdbc(BOB)) {
          return count(bob) == 3;
        } catch (SQLException e) {
          return false;
        }
      });
    }
  }

  private static int count(Connection c) throws SQLException {
    try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT count(*) FROM customers")) {
      rs.next();
      return rs.getInt(1);
    }
  }

  private static HttpResponse<String> get(String path) throws Exception {
    return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + stack.gatehouse().controlPlanePort() + path))
        .timeout(Duration.ofSeconds(20)).build(), HttpResponse.BodyHandlers.ofString());
  }
}
