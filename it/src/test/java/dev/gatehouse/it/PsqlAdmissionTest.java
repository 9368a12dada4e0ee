package dev.gatehouse.it;

import static dev.gatehouse.it.GatewayStack.ALICE;
import static dev.gatehouse.it.GatewayStack.DANA;
import static dev.gatehouse.it.GatewayStack.EVE;
import static org.assertj.core.api.Assertions.assertThat;

import dev.gatehouse.audit.AuditEvent;
import dev.gatehouse.audit.EventBody;
import dev.gatehouse.audit.EventType;
import dev.gatehouse.testkit.OidcFixture;
import dev.gatehouse.testkit.Psql;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The real psql through the gateway over TLS it verifies ({@code sslmode=verify-full} against the CA
 * the gateway generated), with the token as its password: who gets in, who does not and with which
 * native error, and that the refusals are audited. The gateway runs with a per-user cap of 2.
 */
class PsqlAdmissionTest {
  static final int MAX_PER_USER = 2;
  static final GatewayStack.User CAROL = new GatewayStack.User("carol", "carol@corp.example", List.of("developers"));

  @TempDir static Path dir;
  static EndToEnd e2e;
  static GatewayStack stack;

  @BeforeAll
  static void start() {
    e2e = EndToEnd.start(dir, new GatewayStack.Settings(MAX_PER_USER, Duration.ZERO));
    stack = e2e.stack();
  }

  @AfterAll
  static void stop() {
    if (e2e != null) e2e.close();
  }

  @Test
  void psqlWithTheTokenAsPasswordRunsOverTlsItVerified() {
    Psql.Result r = stack.psql(ALICE).withArgs("-At").script("""
        \\conninfo
        SELECT count(*) FROM customers;
        SELECT current_user;
        """);
    assertThat(r.succeeded()).as(PsqlOutput.describe(r)).isTrue();
    assertThat(r.stdout()).as("psql's \\conninfo").contains("SSL connection (protocol: TLSv1.3");
    List<String> lines = r.stdout().lines().filter(l -> !l.startsWith("You are connected") && !l.startsWith("SSL connection")).toList();
    // The target sees the gateway's own least-privileged role, not the name the client claimed.
    assertThat(lines).containsExactly("3", e2e.target().role());
  }

  @Test
  void psqlRefusesAGatewayWhoseCertificateItCannotVerify() throws Exception {
    // A CA that did not sign the gateway's certificate: psql must refuse the gateway.
    Path otherCa = dir.resolve("other-ca");
    var prepared = dev.gatehouse.tls.CertificateAuthority.prepare(otherCa, List.of());
    Psql.Result r = Psql.connect("host=127.0.0.1 port=" + stack.port() + " dbname=" + GatewayStack.RESOURCE
            + " user=alice sslmode=verify-full sslrootcert=" + prepared.caCertificate())
        .withPassword(dev.gatehouse.core.Secret.of(stack.token(ALICE))).command("SELECT 1");
    assertThat(r.succeeded()).isFalse();
    assertThat(r.stderr()).contains("certificate verify failed");
  }

  @Test
  void tokenOfSeveralKibibytesIsAccepted() {
    String token = stack.remember(e2e.oidc().token(GatewayStack.ISSUER, ALICE.subject(), GatewayStack.AUDIENCE,
        Map.of("email", ALICE.email(), "groups", ALICE.groups(), "padding", "p".repeat(7000)), Duration.ofMinutes(10)));
    assertThat(token.length()).as("token length").isGreaterThan(8 * 1024);
    Psql.Result r = stack.psql(ALICE, token).withArgs("-At").command("SELECT count(*) FROM orders");
    assertThat(r.succeeded()).as(PsqlOutput.describe(r)).isTrue();
    assertThat(r.stdout().strip()).isEqualTo("5");
  }

  static Stream<Arguments> rejectedTokens() {
    return Stream.of(
        Arguments.of("a token for another audience", (Function<OidcFixture, String>) o ->
            o.token(GatewayStack.ISSUER, "alice", "some-other-service", ALICE.claims(), Duration.ofMinutes(10))),
        Arguments.of("an expired token", (Function<OidcFixture, String>) o ->
            o.token(GatewayStack.ISSUER, "alice", GatewayStack.AUDIENCE, ALICE.claims(), Duration.ofMinutes(-5))),
        Arguments.of("a token of an issuer the gateway does not trust", (Function<OidcFixture, String>) o ->
            o.token("elsewhere", "alice", GatewayStack.AUDIENCE, ALICE.claims(), Duration.ofMinutes(10))),
        Arguments.of("an unsigned token (alg none)", (Function<OidcFixture, String>) o ->
            o.forgedToken(OidcFixture.Forgery.ALG_NONE, GatewayStack.ISSUER, "alice", GatewayStack.AUDIENCE, ALICE.claims(), Duration.ofMinutes(10))),
        Arguments.of("a token HMAC-signed with the issuer's public key", (Function<OidcFixture, String>) o ->
            o.forgedToken(OidcFixture.Forgery.HMAC_WITH_PUBLIC_KEY, GatewayStack.ISSUER, "alice", GatewayStack.AUDIENCE, ALICE.claims(), Duration.ofMinutes(10))),
        Arguments.of("a token that is not a JWT at all", (Function<OidcFixture, String>) o -> "hunter2-not-a-token"));
  }

  @ParameterizedTest(name = "{0} is refused with 28P01 and audited")
  @MethodSource("rejectedTokens")
  void rejectedTokenIsRefusedWithInvalidPasswordAndAudited(String what, Function<OidcFixture, String> mint) {
    String token = stack.remember(mint.apply(e2e.oidc()));
    int before = stack.events().size();
    Psql.Result r = stack.psql(ALICE, token).command("SELECT 1");
    assertThat(r.succeeded()).as(PsqlOutput.describe(r)).isFalse();
    assertThat(r.stderr()).contains("FATAL:  authentication failed for resource \"pg-demo\"").doesNotContain(token);
    assertThat(refusalCode(ALICE, token)).isEqualTo("28P01");
    List<AuditEvent> refusals = refusalsAfter(before, e -> true);
    assertThat(refusals).as("ADMISSION_REFUSED for " + what).anySatisfy(e -> {
      assertThat(e.body().resource()).contains(GatewayStack.RESOURCE);
      assertThat(e.body().decision().map(EventBody.Ruling::rule)).contains("authentication");
      assertThat(e.body().principal()).as("no principal for a token that was not accepted").isEmpty();
      assertThat(dev.gatehouse.audit.AuditFormatter.line(e)).doesNotContain(token);
    });
  }

  @Test
  void userThePolicyDoesNotLetConnectIsToldWhatAResourceThatDoesNotExistWouldSayAndTheAuditTellsThemApart() {
    // Red-team round 18a: eve's valid token told existing resources ("may not connect ... rule
    // default-deny") from missing ones ("no postgres resource named ..."), listing resource names.
    int before = stack.events().size();
    Psql.Result existing = stack.psql(EVE).command("SELECT 1");
    Psql.Result missing = Psql.connect(stack.conninfo(EVE).replace("dbname=" + GatewayStack.RESOURCE, "dbname=pg-nope"))
        .withPassword(dev.gatehouse.core.Secret.of(stack.token(EVE))).withArgs("-v", "VERBOSITY=verbose").command("SELECT 1");
    assertThat(existing.succeeded()).isFalse();
    assertThat(missing.succeeded()).isFalse();
    assertThat(existing.stderr()).contains("FATAL:  no postgres resource named \"pg-demo\" is available to eve@corp.example")
        .doesNotContain("default-deny");
    assertThat(fatalLine(existing)).isEqualTo(fatalLine(missing).replace("pg-nope", GatewayStack.RESOURCE));
    assertThat(refusalCode(EVE, stack.token(EVE))).isEqualTo("28000");
    refusalsAfter(before, e -> e.body().resource().equals(Optional.of("pg-nope"))); // waits for the second one
    List<AuditEvent> refusals = refusalsAfter(before, e -> e.body().principal().map(EventBody.Actor::subject).equals(Optional.of("eve")));
    assertThat(refusals).anySatisfy(e -> {
      assertThat(e.body().resource()).contains(GatewayStack.RESOURCE);
      assertThat(e.body().decision().map(EventBody.Ruling::rule)).contains("default-deny");
    }).anySatisfy(e -> {
      assertThat(e.body().resource()).contains("pg-nope");
      assertThat(e.body().decision().map(EventBody.Ruling::rule)).contains("resource");
    });
  }

  private static String fatalLine(Psql.Result r) {
    return r.stderr().lines().filter(l -> l.contains("FATAL:")).findFirst().orElseThrow(() -> new AssertionError(r.stderr()));
  }

  @Test
  void perUserConnectionCapRefusesOneSessionTooManyWithTooManyConnections() throws Exception {
    try (Connection first = stack.jdbc(CAROL); Connection second = stack.jdbc(CAROL)) {
      int before = stack.events().size();
      Psql.Result third = stack.psql(CAROL).command("SELECT 1");
      assertThat(third.succeeded()).isFalse();
      assertThat(third.stderr()).contains("FATAL:  carol@corp.example already holds 2 sessions (the per-user limit)");
      assertThat(refusalCode(CAROL, stack.token(CAROL))).isEqualTo("53300");
      refusalsAfter(before, e -> e.body().decision().map(EventBody.Ruling::rule).equals(Optional.of("connection-limits")));
      // Another user is not affected by carol's cap.
      assertThat(stack.psql(ALICE).command("SELECT 1").succeeded()).isTrue();
    }
    // Closing frees the slots again.
    org.awaitility.Awaitility.await("carol's slots released").atMost(Duration.ofSeconds(30))
        .until(() -> stack.psql(CAROL).command("SELECT 1").succeeded());
  }

  @Test
  void aClientThatQuitsIsAuditedAsEndingItsSessionNotAsALostResource() {
    // psql sends Terminate and leaves; the target's connection closes right after. Each time the
    // close's reason must be the client's, not "connection to resource lost" (a race it once lost
    // between one time in 6 and one in 30).
    int before = stack.events().size();
    int runs = 120;
    for (int i = 0; i < runs; i++) assertThat(stack.psql(ALICE).command("SELECT 1").succeeded()).isTrue();
    List<AuditEvent> all = stack.awaitEvents("the sessions' closes", events -> closesOf(events, before, "alice").size() >= runs);
    assertThat(closesOf(all, before, "alice")).extracting(e -> e.body().attributes().get("reason"))
        .containsOnly("client terminated the session");
  }

  private static List<AuditEvent> closesOf(List<AuditEvent> events, int from, String subject) {
    return events.subList(Math.min(from, events.size()), events.size()).stream()
        .filter(e -> e.type() == EventType.SESSION_CLOSED && e.body().principal().map(EventBody.Actor::subject).equals(Optional.of(subject)))
        .toList();
  }

  @Test
  void tokenThatExpiresDuringTheSessionEndsItWithAClearMessage() {
    // dana (dba) may call pg_sleep, which the reference policy counts as opaque code for others.
    String token = stack.token(DANA, Duration.ofSeconds(15));
    // The second statement outlives the token: the gateway must end the session under it.
    Psql.Result r = stack.psql(DANA, token).withArgs("-At").withTimeout(Duration.ofSeconds(150)).script("""
        SELECT 'connected';
        SELECT pg_sleep(100);
        SELECT 'still here';
        """);
    assertThat(r.succeeded()).as(PsqlOutput.describe(r)).isFalse();
    assertThat(r.stdout()).contains("connected").doesNotContain("still here");
    assertThat(r.stderr()).contains("session expired: your token expired; reconnect with a fresh token");
    assertThat(PsqlOutput.sqlState(r)).as(PsqlOutput.describe(r)).contains("57P01");
    stack.awaitEvents("the expired session's close", events -> events.stream().anyMatch(e ->
        e.type() == EventType.SESSION_CLOSED && e.body().principal().map(EventBody.Actor::subject).equals(Optional.of("dana"))
            && "session expired".equals(e.body().attributes().get("reason"))));
  }

  /**
   * psql does not print the SQLSTATE of an error during connection start; pgjdbc, presenting the
   * same token, reports it.
   */
  private static String refusalCode(GatewayStack.User user, String token) {
    try (Connection c = stack.jdbc(user, token, new java.util.Properties())) {
      throw new AssertionError("the gateway admitted " + user.subject() + " with a token it must refuse");
    } catch (java.sql.SQLException e) {
      assertThat(e.getMessage()).doesNotContain(token);
      return e.getSQLState();
    }
  }

  private List<AuditEvent> refusalsAfter(int before, java.util.function.Predicate<AuditEvent> match) {
    List<AuditEvent> events = stack.awaitEvents("an ADMISSION_REFUSED event", all -> all.subList(Math.min(before, all.size()), all.size())
        .stream().anyMatch(e -> e.type() == EventType.ADMISSION_REFUSED && match.test(e)));
    return events.subList(before, events.size()).stream().filter(e -> e.type() == EventType.ADMISSION_REFUSED && match.test(e)).toList();
  }
}
