package dev.gatehouse.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class CheckpointTest {
  private static final Instant NOW = Instant.parse("2026-11-22T12:00:00Z");
  private static final Resource PG = new Resource("pg-prod", ResourceType.POSTGRES, "db:5432", Map.of("env", "prod"));
  private static final ClientInfo CLIENT = new ClientInfo("10.0.0.7:50000", "alice", "psql");

  /** A fake of our own audit port: records what it is told, can be switched off. */
  static final class RecordingAudit implements AuditTrail {
    final List<String> events = new ArrayList<>();
    final List<String> refusalReasons = new ArrayList<>();
    boolean down;

    private void check() {
      if (down) throw new AuditUnavailableException("store down", new RuntimeException());
    }

    @Override public void sessionOpened(Session s) { check(); events.add("opened " + s.principal().subject()); }
    @Override public void admissionRefused(Optional<Principal> p, String r, ClientInfo c, String rule, String reason) {
      check();
      events.add("refused " + p.map(Principal::subject).orElse("?") + " " + rule);
      refusalReasons.add(reason);
    }
    @Override public AuditHandle commandDecided(Session s, Command c, Decision d) {
      check();
      events.add("decided " + c.text() + " " + d.getClass().getSimpleName() + " " + d.rule());
      return new AuditHandle("e" + events.size());
    }
    @Override public void commandCompleted(Session s, AuditHandle h, Outcome o) { events.add("completed " + h.eventId() + " " + o.status()); }
    @Override public void sessionClosed(Session s, String reason) { check(); events.add("closed " + reason); }
  }

  private final RecordingAudit audit = new RecordingAudit();
  private final AtomicReference<Policy> policy = new AtomicReference<>(allowAll());
  private Clock clock = Clock.fixed(NOW, ZoneOffset.UTC);

  private static Policy allowAll() {
    return new Policy() {
      @Override public Decision admit(Principal p, Resource r, ClientInfo c) { return new Decision.Allow("connect", Obligations.NONE); }
      @Override public Decision decide(Session s, Command c) {
        return c.classification().kinds().contains("DROP TABLE")
            ? new Decision.Deny("no-drop", "DROP is not allowed")
            : new Decision.Allow("work", Obligations.NONE);
      }
    };
  }

  private static Principal principal(String subject, Instant expires) {
    return new Principal(subject, subject + "@example.com", Set.of("developers"), Principal.Kind.HUMAN, "corp", Map.of(), expires);
  }

  private Checkpoint checkpoint(SessionLimits limits) {
    Authenticator tokens = token -> {
      String t = token.reveal();
      if (!t.startsWith("token-")) throw new AuthenticationException("token is not a JWT");
      return principal(t.substring(6), NOW.plus(Duration.ofHours(1)));
    };
    Policy delegating = new Policy() {
      @Override public Decision admit(Principal p, Resource r, ClientInfo c) { return policy.get().admit(p, r, c); }
      @Override public Decision decide(Session s, Command c) { return policy.get().decide(s, c); }
    };
    return new Checkpoint(tokens, name -> name.equals(PG.name()) ? Optional.of(PG) : Optional.empty(), delegating, audit,
        limits, new MutableClock(), List.of());
  }

  /** Reads the test's current clock at each call, so a test can move time. */
  private final class MutableClock extends Clock {
    @Override public java.time.ZoneId getZone() { return ZoneOffset.UTC; }
    @Override public Clock withZone(java.time.ZoneId zone) { return this; }
    @Override public Instant instant() { return clock.instant(); }
  }

  private Checkpoint checkpoint() {
    return checkpoint(new SessionLimits(2, 3, Duration.ZERO));
  }

  private static Command sql(String text, String kind) {
    return new Command("sql", text, new Classification(List.of(kind), Set.of(), Set.of(), Set.of()), Map.of());
  }

  private static Session admitted(Admission a) {
    assertThat(a).isInstanceOf(Admission.Admitted.class);
    return ((Admission.Admitted) a).session();
  }

  @Test
  void validTokenOpensAnAuditedSessionThatEndsWithTheToken() {
    Session s = admitted(checkpoint().admit(Secret.of("token-alice"), "pg-prod", ResourceType.POSTGRES, CLIENT));
    assertThat(s.principal().subject()).isEqualTo("alice");
    assertThat(s.deadline()).isEqualTo(NOW.plus(Duration.ofHours(1)));
    assertThat(audit.events).containsExactly("opened alice");
  }

  @Test
  void rejectedTokenIsRefusedAndAuditedWithoutAPrincipal() {
    Admission a = checkpoint().admit(Secret.of("garbage"), "pg-prod", ResourceType.POSTGRES, CLIENT);
    assertThat(a).isInstanceOfSatisfying(Admission.Refused.class, r -> {
      assertThat(r.reason()).isEqualTo(Admission.Reason.INVALID_TOKEN);
      assertThat(r.message()).contains("pg-prod").contains("token is not a JWT").doesNotContain("garbage");
    });
    assertThat(audit.events).containsExactly("refused ? authentication");
  }

  @Test
  void resourceOfAnotherProtocolIsUnknown() {
    Admission a = checkpoint().admit(Secret.of("token-alice"), "pg-prod", ResourceType.MYSQL, CLIENT);
    assertThat(a).isInstanceOfSatisfying(Admission.Refused.class, r -> assertThat(r.reason()).isEqualTo(Admission.Reason.UNKNOWN_RESOURCE));
  }

  @Test
  void aRefusedUnreadableCommandIsAuditedWithoutAskingThePolicyAndIsRefusedEvenWhenTheAuditIsDown() {
    policy.set(new Policy() {
      @Override public Decision admit(Principal p, Resource r, ClientInfo c) { return new Decision.Allow("connect", Obligations.NONE); }
      @Override public Decision decide(Session s, Command c) { throw new AssertionError("the policy is not asked"); }
    });
    Checkpoint cp = checkpoint();
    Session s = admitted(cp.admit(Secret.of("token-alice"), "pg-prod", ResourceType.POSTGRES, CLIENT));
    Decision.Deny unreadable = new Decision.Deny(Checkpoint.RULE_UNREADABLE, "not UTF-8");
    Verdict v = cp.refuse(s, new Command("sql", "<query of 9 bytes>", Classification.unclassified(), Map.of()), unreadable);
    assertThat(v.allowed()).isFalse();
    assertThat(audit.events).containsExactly("opened alice", "decided <query of 9 bytes> Deny unreadable-command");
    audit.down = true;
    assertThat(cp.refuse(s, new Command("sql", "<query>", Classification.unclassified(), Map.of()), unreadable).allowed()).isFalse();
  }

  @Test
  void aResourceThePolicyRefusesIsToldTheClientAsOneThatDoesNotExistAndAuditedWithTheRule() {
    // Red-team round 18a: any valid token could tell existing resources from missing ones.
    policy.set(new Policy() {
      @Override public Decision admit(Principal p, Resource r, ClientInfo c) { return new Decision.Deny("contractors-out", "contractors may not use prod"); }
      @Override public Decision decide(Session s, Command c) { throw new AssertionError(); }
    });
    Checkpoint cp = checkpoint();
    Admission.Refused existing = (Admission.Refused) cp.admit(Secret.of("token-eve"), "pg-prod", ResourceType.POSTGRES, CLIENT);
    Admission.Refused missing = (Admission.Refused) cp.admit(Secret.of("token-eve"), "pg-nope", ResourceType.POSTGRES, CLIENT);
    assertThat(existing.message()).isEqualTo("no postgres resource named \"pg-prod\" is available to eve@example.com")
        .isEqualTo(missing.message().replace("pg-nope", "pg-prod"));
    // What the gateway logs and the audit records keep the difference.
    assertThat(existing.detail()).contains("contractors may not use prod").contains("contractors-out");
    assertThat(missing.detail()).isEqualTo(missing.message());
    assertThat(audit.events).containsExactly("refused eve contractors-out", "refused eve resource");
    assertThat(audit.refusalReasons).containsExactly(
        "eve@example.com may not connect to \"pg-prod\": contractors may not use prod (rule contractors-out)",
        "no postgres resource named \"pg-nope\" is available to eve@example.com");
  }

  @Test
  void perUserCapRefusesTheNextSessionUntilOneCloses() {
    Checkpoint cp = checkpoint();
    Session one = admitted(cp.admit(Secret.of("token-alice"), "pg-prod", ResourceType.POSTGRES, CLIENT));
    admitted(cp.admit(Secret.of("token-alice"), "pg-prod", ResourceType.POSTGRES, CLIENT));
    Admission third = cp.admit(Secret.of("token-alice"), "pg-prod", ResourceType.POSTGRES, CLIENT);
    assertThat(third).isInstanceOfSatisfying(Admission.Refused.class,
        r -> assertThat(r.reason()).isEqualTo(Admission.Reason.TOO_MANY_CONNECTIONS));
    cp.close(one, "client terminated");
    admitted(cp.admit(Secret.of("token-alice"), "pg-prod", ResourceType.POSTGRES, CLIENT));
  }

  @Test
  void perResourceCapCountsEveryone() {
    Checkpoint cp = checkpoint();
    admitted(cp.admit(Secret.of("token-a"), "pg-prod", ResourceType.POSTGRES, CLIENT));
    admitted(cp.admit(Secret.of("token-b"), "pg-prod", ResourceType.POSTGRES, CLIENT));
    admitted(cp.admit(Secret.of("token-c"), "pg-prod", ResourceType.POSTGRES, CLIENT));
    assertThat(cp.admit(Secret.of("token-d"), "pg-prod", ResourceType.POSTGRES, CLIENT))
        .isInstanceOfSatisfying(Admission.Refused.class, r -> assertThat(r.message()).contains("per-resource"));
  }

  @Test
  void auditOutageRefusesAdmissionAndStatements() {
    Checkpoint cp = checkpoint();
    Session s = admitted(cp.admit(Secret.of("token-alice"), "pg-prod", ResourceType.POSTGRES, CLIENT));
    audit.down = true;
    Verdict v = cp.decide(s, sql("SELECT 1", "SELECT"));
    assertThat(v.allowed()).isFalse();
    assertThat(v.decision().rule()).isEqualTo(Checkpoint.RULE_AUDIT);
    assertThat(cp.admit(Secret.of("token-bob"), "pg-prod", ResourceType.POSTGRES, CLIENT))
        .isInstanceOfSatisfying(Admission.Refused.class, r -> assertThat(r.reason()).isEqualTo(Admission.Reason.UNAVAILABLE));
  }

  @Test
  void decisionIsDurableBeforeTheVerdictAndTheOutcomeIsChainedAfter() {
    Checkpoint cp = checkpoint();
    Session s = admitted(cp.admit(Secret.of("token-alice"), "pg-prod", ResourceType.POSTGRES, CLIENT));
    Verdict allowed = cp.decide(s, sql("SELECT 1", "SELECT"));
    Verdict denied = cp.decide(s, sql("DROP TABLE t", "DROP TABLE"));
    cp.complete(allowed, Outcome.ok(1, Duration.ofMillis(2)));
    cp.complete(denied, Outcome.ok(0, Duration.ZERO));
    cp.close(s, "client terminated");
    cp.close(s, "again");
    assertThat(audit.events).containsExactly(
        "opened alice",
        "decided SELECT 1 Allow work",
        "decided DROP TABLE t Deny no-drop",
        "completed " + allowed.audit().eventId() + " OK",
        "closed client terminated");
  }

  @Test
  void policyThatThrowsDeniesTheStatement() {
    Checkpoint cp = checkpoint();
    Session s = admitted(cp.admit(Secret.of("token-alice"), "pg-prod", ResourceType.POSTGRES, CLIENT));
    policy.set(new Policy() {
      @Override public Decision admit(Principal p, Resource r, ClientInfo c) { return new Decision.Allow("c", Obligations.NONE); }
      @Override public Decision decide(Session x, Command c) { throw new IllegalStateException("bug"); }
    });
    assertThat(cp.decide(s, sql("SELECT 1", "SELECT")).decision()).isInstanceOf(Decision.Deny.class);
  }

  @Test
  void statementsAfterTheTokenExpiredAreRefused() {
    Checkpoint cp = checkpoint();
    Session s = admitted(cp.admit(Secret.of("token-alice"), "pg-prod", ResourceType.POSTGRES, CLIENT));
    clock = Clock.fixed(NOW.plus(Duration.ofHours(2)), ZoneOffset.UTC);
    Verdict v = cp.decide(s, sql("SELECT 1", "SELECT"));
    assertThat(v.decision().rule()).isEqualTo(Checkpoint.RULE_EXPIRED);
  }

  @Test
  void recheckReturnsTheSessionsANewPolicyNoLongerAdmits() {
    Checkpoint cp = checkpoint();
    Session alice = admitted(cp.admit(Secret.of("token-alice"), "pg-prod", ResourceType.POSTGRES, CLIENT));
    Session bob = admitted(cp.admit(Secret.of("token-bob"), "pg-prod", ResourceType.POSTGRES, CLIENT));
    policy.set(new Policy() {
      @Override public Decision admit(Principal p, Resource r, ClientInfo c) {
        return p.subject().equals("bob") ? new Decision.Deny("bob-out", "no") : new Decision.Allow("c", Obligations.NONE);
      }
      @Override public Decision decide(Session s, Command c) { return new Decision.Allow("c", Obligations.NONE); }
    });
    List<Checkpoint.Revocation> revoked = cp.recheck();
    assertThat(revoked).extracting(r -> r.session().id()).containsExactly(bob.id());
    assertThat(revoked.get(0).decision().rule()).isEqualTo("bob-out");
    assertThat(audit.events).contains("refused bob bob-out");
    assertThat(cp.sessions()).extracting(Session::id).contains(alice.id());
    // Until it has ended, the revoked session runs nothing (the command rules still allow it).
    assertThat(cp.revoked(bob.id())).isTrue();
    assertThat(cp.decide(bob, sql("SELECT 1", "SELECT")).decision().rule()).isEqualTo(Checkpoint.RULE_REVOKED);
    assertThat(cp.decide(alice, sql("SELECT 1", "SELECT")).allowed()).isTrue();
    assertThat(cp.recheck()).as("a second recheck audits it once only").isEmpty();
    cp.close(bob, "ended");
    assertThat(cp.revoked(bob.id())).isFalse();
  }

  @Test
  void anAdmissionDecidedByTheOldPolicyWhileARecheckRanIsJudgedAgain() {
    // Red-team round 27: admitted by the old policy, put among the live sessions only after a
    // reload's recheck had looked, a session lived on under a policy that no longer admits it.
    Checkpoint[] cp = new Checkpoint[1];
    boolean[] reloaded = new boolean[1];
    Policy denyAll = new Policy() {
      @Override public Decision admit(Principal p, Resource r, ClientInfo c) { return new Decision.Deny("nobody", "no"); }
      @Override public Decision decide(Session s, Command c) { return new Decision.Allow("c", Obligations.NONE); }
    };
    policy.set(new Policy() {
      @Override public Decision admit(Principal p, Resource r, ClientInfo c) {
        if (!reloaded[0]) {
          // The reload lands while this admission is decided: the new policy, and its recheck.
          reloaded[0] = true;
          policy.set(denyAll);
          assertThat(cp[0].recheck()).isEmpty(); // the session is not live yet
        }
        return new Decision.Allow("c", Obligations.NONE); // the old policy's answer
      }
      @Override public Decision decide(Session s, Command c) { return new Decision.Allow("c", Obligations.NONE); }
    });
    cp[0] = checkpoint();
    Admission a = cp[0].admit(Secret.of("token-alice"), "pg-prod", ResourceType.POSTGRES, CLIENT);
    assertThat(a).isInstanceOfSatisfying(Admission.Refused.class, r -> {
      assertThat(r.rule()).isEqualTo("nobody");
      assertThat(r.detail()).contains("policy changed");
    });
    assertThat(cp[0].sessions()).isEmpty();
    assertThat(audit.events).contains("refused alice nobody");
  }

  @Test
  void secretPrintsRedacted() {
    assertThat(Secret.of("hunter2").toString()).doesNotContain("hunter2");
    assertThat(String.valueOf(List.of(Secret.of("hunter2")))).doesNotContain("hunter2");
  }
}
