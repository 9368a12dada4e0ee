package dev.gatehouse.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gatehouse.testkit.GatewayConformance;
import dev.gatehouse.testkit.GatewayUnderTest;
import dev.gatehouse.testkit.OidcFixture;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * testkit's conformance suite run against the whole PostgreSQL gateway: configuration file, OIDC
 * provider over HTTP, reference policy, SQLite audit store, a least-privileged target role, pgjdbc
 * over verified TLS. The suite's tests are the interface's default methods.
 */
class PostgresConformanceTest implements GatewayConformance {
  @TempDir static Path dir;

  static LogCapture logs;
  static OidcFixture oidc;
  static TargetDatabase target;
  static GatewayStack stack;
  static PostgresGatewayAdapter adapter;

  @BeforeAll
  static void start() {
    logs = LogCapture.attach();
    oidc = OidcFixture.start();
    target = TargetDatabase.create();
    stack = GatewayStack.start(dir, oidc, GatewayStack.Target.of(target));
    adapter = new PostgresGatewayAdapter(stack, target, oidc, logs);
  }

  @AfterAll
  static void stop() {
    if (stack != null) stack.close();
    if (target != null) target.close();
    if (oidc != null) oidc.close();
    if (logs != null) logs.close();
  }

  @Override
  public GatewayUnderTest gateway() {
    return adapter;
  }

  /** Beyond the events as read back: the store's files themselves (database and WAL) hold no credential. */
  @Test
  void noCredentialIsInTheAuditStoresFiles() throws Exception {
    try (var session = ((GatewayUnderTest.Opening.Opened) adapter.open(GatewayUnderTest.Caller.PERMITTED)).session()) {
      session.run("SELECT count(*) FROM customers");
    }
    adapter.open(GatewayUnderTest.Caller.BAD_TOKEN);
    int checked = 0;
    for (String file : List.of("gatehouse.db", "gatehouse.db-wal")) {
      Path p = stack.auditDatabase().resolveSibling(file);
      if (!Files.exists(p)) continue;
      String bytes = new String(Files.readAllBytes(p), StandardCharsets.ISO_8859_1);
      for (var secret : stack.credentials()) {
        assertThat(bytes).as("a credential in " + file).doesNotContain(secret.reveal());
        for (String part : secret.reveal().split("\\.")) {
          if (part.length() >= 20) assertThat(bytes).as("part of a token in " + file).doesNotContain(part);
        }
      }
      checked++;
    }
    assertThat(checked).as("audit store files found").isPositive();
  }

  /**
   * The suite's "no credential in the logs" check means something only if the logs are really
   * captured: the session's own lines, JSON, each carrying the session id.
   */
  @Test
  void gatewayLogsAreCapturedAsJsonLinesCarryingTheSessionId() throws Exception {
    String id;
    try (var session = ((GatewayUnderTest.Opening.Opened) adapter.open(GatewayUnderTest.Caller.PERMITTED)).session()) {
      id = session.sessionId();
      session.run("SELECT 1");
    }
    ObjectMapper json = new ObjectMapper();
    List<JsonNode> lines = new ArrayList<>();
    for (String line : logs.text().split("\n")) {
      if (!line.isBlank()) lines.add(json.readTree(line));
    }
    assertThat(lines).as("captured log lines").anySatisfy(l -> {
      assertThat(l.path("message").asText()).startsWith("session opened for alice@corp.example")
          .matches(".*; target backend process [0-9]+$"); // what pg_stat_activity shows a DBA
      assertThat(l.path("session").asText()).isEqualTo(id);
    });
  }
}
