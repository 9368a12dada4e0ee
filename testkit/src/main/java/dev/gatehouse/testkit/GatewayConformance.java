package dev.gatehouse.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.gatehouse.core.Secret;
import dev.gatehouse.testkit.AuditRecord.Effect;
import dev.gatehouse.testkit.AuditRecord.Type;
import dev.gatehouse.testkit.GatewayUnderTest.Caller;
import dev.gatehouse.testkit.GatewayUnderTest.ClientSession;
import dev.gatehouse.testkit.GatewayUnderTest.Opening;
import dev.gatehouse.testkit.GatewayUnderTest.Reply;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Test;

/**
 * The behaviours every protocol's gateway must show, written once against {@link GatewayUnderTest}
 * (CONVENTIONS.md, "Tests"): a denial yields a native error and leaves the session usable; the
 * audit sequence of a session is complete and in order and names the caller; refused connections
 * are native errors and audited; credentials never appear in logs, audit events or client
 * messages; a target that drops the connection is reported cleanly. Session recording joins the
 * suite when the recording module exists.
 *
 * <p>Usage: the protocol's integration test class implements this interface and {@link #gateway()}
 * (JUnit runs the default methods as its tests):
 *
 * <pre>{@code
 * class PostgresConformanceTest implements GatewayConformance {
 *   static final PostgresGatewayAdapter gateway = PostgresGatewayAdapter.start();
 *   public GatewayUnderTest gateway() { return gateway; }
 * }
 * }</pre>
 *
 * <p>Events are matched by session id, so tests may share one gateway. Audit events written after
 * a session ends (its close) are awaited for up to {@link #AUDIT_WAIT}; that is a bound on waiting,
 * not a timing assertion.
 */
public interface GatewayConformance {
  /** How long the suite waits for asynchronously written audit events to show up. */
  Duration AUDIT_WAIT = Duration.ofSeconds(15);

  /** The gateway under test; the same instance for every call within a test. */
  GatewayUnderTest gateway();

  @Test
  default void allowedCommandReturnsTheTargetsAnswer() {
    try (ClientSession s = openPermitted()) {
      assertOutput(s.run(gateway().allowed().command()));
    }
  }

  @Test
  default void deniedCommandYieldsTheNativeErrorAndLeavesTheSessionUsable() {
    GatewayUnderTest g = gateway();
    try (ClientSession s = openPermitted()) {
      for (int i = 0; i < 2; i++) {
        Reply denied = s.run(g.deniedCommand());
        assertThat(denied).as("reply to the denied command %s", g.deniedCommand()).isInstanceOf(Reply.Error.class);
        Reply.Error error = (Reply.Error) denied;
        assertThat(error.code()).as("native error code of a denial").isEqualTo(g.deniedErrorCode());
        assertThat(error.message()).as("message of a denial").isNotBlank();
        assertThat(error.connectionClosed()).as("connection closed by a denial").isFalse();
      }
      assertOutput(s.run(g.allowed().command()));
    }
  }

  @Test
  default void auditHoldsEverySessionEventInOrder() {
    GatewayUnderTest g = gateway();
    String allowed = g.allowed().command();
    String id;
    try (ClientSession s = openPermitted()) {
      id = s.sessionId();
      assertOutput(s.run(allowed));
      assertThat(s.run(g.deniedCommand())).isInstanceOf(Reply.Error.class);
      assertOutput(s.run(allowed));
    }
    List<AuditRecord> events = awaitEvents(e -> e.of(id), list -> list.stream().anyMatch(e -> e.type() == Type.SESSION_CLOSED));

    assertThat(events.getFirst().type()).as("first event of session %s", id).isEqualTo(Type.SESSION_OPENED);
    assertThat(events.getLast().type()).as("last event of session %s", id).isEqualTo(Type.SESSION_CLOSED);
    assertThat(events.stream().filter(e -> e.type() == Type.SESSION_OPENED || e.type() == Type.SESSION_CLOSED))
        .as("session open/close events").hasSize(2);
    for (AuditRecord e : events) assertThat(e.resource()).as("resource of %s", e).isEqualTo(g.resource());

    // Clients may run statements of their own (drivers set session parameters); the suite's
    // commands must appear among them, each decision followed by its completion before the next.
    List<String> ours = events.stream()
        .filter(e -> e.command().filter(c -> same(c, allowed) || same(c, g.deniedCommand())).isPresent())
        .map(e -> e.type() + " " + e.effect().map(Enum::name).orElse("") + e.outcome().map(Enum::name).orElse("")
            + " " + (same(e.command().get(), allowed) ? "allowed" : "denied"))
        .toList();
    assertThat(ours).as("audit sequence of the suite's commands in session %s", id).containsExactly(
        "COMMAND_DECIDED ALLOW allowed",
        "COMMAND_COMPLETED OK allowed",
        "COMMAND_DECIDED DENY denied",
        "COMMAND_DECIDED ALLOW allowed",
        "COMMAND_COMPLETED OK allowed");
    AuditRecord denial = events.stream().filter(e -> e.effect().equals(java.util.Optional.of(Effect.DENY))).findFirst().orElseThrow();
    assertThat(denial.rule()).as("rule named by the denial").hasValueSatisfying(r -> assertThat(r).isNotBlank());

    // No completion without a decision before it, in any event of the session.
    List<String> open = new ArrayList<>();
    for (AuditRecord e : events) {
      if (e.type() == Type.COMMAND_DECIDED && e.effect().equals(java.util.Optional.of(Effect.ALLOW))) open.add(e.command().orElse(""));
      if (e.type() == Type.COMMAND_COMPLETED) {
        assertThat(open).as("a decision before completion %s", e).contains(e.command().orElse(""));
        open.remove(e.command().orElse(""));
      }
    }
  }

  @Test
  default void everyEventOfASessionNamesTheCaller() {
    GatewayUnderTest g = gateway();
    String id;
    try (ClientSession s = openPermitted()) {
      id = s.sessionId();
      s.run(g.allowed().command());
      s.run(g.deniedCommand());
    }
    List<AuditRecord> events = awaitEvents(e -> e.of(id), list -> list.stream().anyMatch(e -> e.type() == Type.SESSION_CLOSED));
    assertThat(events).isNotEmpty().allSatisfy(e ->
        assertThat(e.subject()).as("subject of %s", e.type()).contains(g.subject(Caller.PERMITTED)));
  }

  @Test
  default void forbiddenCallerIsRefusedNativelyAndAudited() {
    GatewayUnderTest g = gateway();
    int before = g.audit().size();
    Opening opening = g.open(Caller.FORBIDDEN);
    if (opening instanceof Opening.Opened opened) {
      opened.session().close();
      fail("the gateway admitted the FORBIDDEN caller to " + g.resource());
    }
    Opening.Refused refused = (Opening.Refused) opening;
    assertThat(refused.code()).as("native code of an admission refusal").isEqualTo(g.refusedErrorCode(Caller.FORBIDDEN));
    assertThat(refused.message()).as("refusal message names the resource").contains(g.resource());
    List<AuditRecord> refusals = awaitEvents(e -> e.type() == Type.ADMISSION_REFUSED, list -> list.size() > 0, before);
    assertThat(refusals).as("admission refusals audited").anySatisfy(e -> {
      assertThat(e.subject()).contains(g.subject(Caller.FORBIDDEN));
      assertThat(e.resource()).isEqualTo(g.resource());
      assertThat(e.rule()).hasValueSatisfying(r -> assertThat(r).isNotBlank());
    });
  }

  @Test
  default void rejectedTokenIsRefusedNativelyAndAuditedWithoutTheToken() {
    GatewayUnderTest g = gateway();
    int before = g.audit().size();
    Opening opening = g.open(Caller.BAD_TOKEN);
    if (opening instanceof Opening.Opened opened) {
      opened.session().close();
      fail("the gateway accepted a token it must reject, for " + g.resource());
    }
    Opening.Refused refused = (Opening.Refused) opening;
    assertThat(refused.code()).as("native code of a rejected token").isEqualTo(g.refusedErrorCode(Caller.BAD_TOKEN));
    assertNoCredentialIn("the refusal message", refused.message());
    List<AuditRecord> refusals = awaitEvents(e -> e.type() == Type.ADMISSION_REFUSED, list -> list.size() > 0, before);
    assertThat(refusals).as("the rejected token is audited").anySatisfy(e -> assertThat(e.resource()).isEqualTo(g.resource()));
  }

  @Test
  default void credentialsNeverAppearInLogsAuditOrClientMessages() {
    GatewayUnderTest g = gateway();
    List<String> clientText = new ArrayList<>();
    try (ClientSession s = openPermitted()) {
      clientText.add(describe(s.run(g.allowed().command())));
      clientText.add(describe(s.run(g.deniedCommand())));
    }
    for (Caller c : List.of(Caller.FORBIDDEN, Caller.BAD_TOKEN)) {
      if (g.open(c) instanceof Opening.Refused r) clientText.add(r.message());
    }
    assertThat(g.credentials()).as("credentials the adapter declares").isNotEmpty();
    assertNoCredentialIn("client messages", String.join("\n", clientText));
    assertNoCredentialIn("the gateway's logs", g.logs());
    for (AuditRecord e : g.audit()) assertNoCredentialIn("audit event " + e.type(), e.toString());
  }

  @Test
  default void droppedTargetConnectionIsReportedCleanly() {
    GatewayUnderTest g = gateway();
    Assertions.assertTimeoutPreemptively(Duration.ofSeconds(120), () -> {
      String id;
      try (ClientSession s = openPermitted()) {
        id = s.sessionId();
        assertOutput(s.run(g.allowed().command()));
        g.dropTargetConnection(s);
        Reply after = s.run(g.allowed().command());
        if (after instanceof Reply.Output) {
          // The drop may reach the client only with the next exchange; it must then be an error.
          after = s.run(g.allowed().command());
        }
        assertThat(after).as("reply after the target dropped the connection").isInstanceOf(Reply.Error.class);
        Reply.Error error = (Reply.Error) after;
        assertThat(error.code()).as("native error code when the target is gone").isNotBlank();
        assertNoCredentialIn("the error after the drop", error.message());
        if (!error.connectionClosed()) {
          assertThat(s.run(g.allowed().command())).as("a session whose target is gone").isInstanceOf(Reply.Error.class);
        }
      }
      awaitEvents(e -> e.of(id), list -> list.stream().anyMatch(e -> e.type() == Type.SESSION_CLOSED));
      try (ClientSession again = openPermitted()) {
        assertOutput(again.run(g.allowed().command()));
      }
    }, "the gateway hung after the target dropped the connection");
  }

  // ---- helpers (not tests) -------------------------------------------------------------------

  private ClientSession openPermitted() {
    Opening opening = gateway().open(Caller.PERMITTED);
    if (opening instanceof Opening.Refused r) {
      fail("the PERMITTED caller was refused by " + gateway().resource() + ": " + r.code() + " " + r.message());
    }
    return ((Opening.Opened) opening).session();
  }

  private void assertOutput(Reply reply) {
    GatewayUnderTest.Probe probe = gateway().allowed();
    assertThat(reply).as("reply to the allowed command %s", probe.command()).isInstanceOf(Reply.Output.class);
    assertThat(((Reply.Output) reply).text().strip()).as("output of %s", probe.command()).isEqualTo(probe.expectedOutput().strip());
  }

  private void assertNoCredentialIn(String where, String text) {
    for (Secret secret : gateway().credentials()) {
      String value = secret.reveal();
      if (value.isEmpty()) continue;
      if (text.contains(value)) fail("a credential (" + value.length() + " chars) appears in " + where);
      // A JWT's signature or payload is as telling as the whole token.
      for (String part : value.split("\\.")) {
        if (part.length() >= 20 && text.contains(part)) fail("part of a credential appears in " + where);
      }
    }
  }

  private List<AuditRecord> awaitEvents(Predicate<AuditRecord> filter, Predicate<List<AuditRecord>> done) {
    return awaitEvents(filter, done, 0);
  }

  private List<AuditRecord> awaitEvents(Predicate<AuditRecord> filter, Predicate<List<AuditRecord>> done, int skip) {
    long deadline = System.nanoTime() + AUDIT_WAIT.toNanos();
    while (true) {
      List<AuditRecord> all = gateway().audit();
      List<AuditRecord> matching = all.subList(Math.min(skip, all.size()), all.size()).stream().filter(filter).toList();
      if (done.test(matching)) return matching;
      if (System.nanoTime() > deadline) {
        return fail("audit events not complete after " + AUDIT_WAIT + "; found " + matching);
      }
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return fail("interrupted while waiting for audit events");
      }
    }
  }

  private static boolean same(String stored, String sent) {
    return normalize(stored).equals(normalize(sent));
  }

  private static String normalize(String sql) {
    String s = sql.strip();
    while (s.endsWith(";")) s = s.substring(0, s.length() - 1).strip();
    return s;
  }

  private static String describe(Reply reply) {
    return switch (reply) {
      case Reply.Output o -> o.text();
      case Reply.Error e -> e.code() + " " + e.message();
    };
  }
}
