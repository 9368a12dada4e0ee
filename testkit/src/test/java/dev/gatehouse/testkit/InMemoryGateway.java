package dev.gatehouse.testkit;

import dev.gatehouse.core.Admission;
import dev.gatehouse.core.AuditHandle;
import dev.gatehouse.core.AuditTrail;
import dev.gatehouse.core.AuthenticationException;
import dev.gatehouse.core.Checkpoint;
import dev.gatehouse.core.Classification;
import dev.gatehouse.core.ClientInfo;
import dev.gatehouse.core.Command;
import dev.gatehouse.core.Decision;
import dev.gatehouse.core.Obligations;
import dev.gatehouse.core.Outcome;
import dev.gatehouse.core.Policy;
import dev.gatehouse.core.Principal;
import dev.gatehouse.core.Resource;
import dev.gatehouse.core.ResourceType;
import dev.gatehouse.core.Secret;
import dev.gatehouse.core.Session;
import dev.gatehouse.core.SessionLimits;
import dev.gatehouse.core.Verdict;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A protocol-less gateway over core's real {@link Checkpoint}, with an in-memory audit trail and a
 * pretend target that answers {@code SELECT 1}. It exists to show that {@link GatewayConformance}
 * passes for a gateway that behaves and fails for one that does not: each {@link Flaw} breaks one
 * behaviour the suite checks.
 */
final class InMemoryGateway implements GatewayUnderTest {
  enum Flaw {
    /** Logs the token of every connection. */
    LOGS_TOKENS,
    /** Closes the client's connection when it refuses a command. */
    DENIAL_KILLS_SESSION,
    /** Forwards commands without auditing their outcome. */
    SKIPS_COMPLETION_EVENTS,
    /** Keeps answering from a stale cache when the target is gone. */
    HIDES_DROPPED_TARGET
  }

  private static final String RESOURCE = "pg-test";
  private final Set<Flaw> flaws;
  private final List<AuditRecord> audit = new ArrayList<>();
  private final StringBuilder log = new StringBuilder();
  private final Map<String, Principal> tokens = new ConcurrentHashMap<>();
  private final List<Secret> minted = new ArrayList<>();
  private final Checkpoint checkpoint;

  InMemoryGateway(Flaw... flaws) {
    this.flaws = flaws.length == 0 ? EnumSet.noneOf(Flaw.class) : EnumSet.copyOf(List.of(flaws));
    Resource resource = new Resource(RESOURCE, ResourceType.POSTGRES, "127.0.0.1:5432", Map.of());
    Policy policy = new Policy() {
      @Override
      public Decision admit(Principal principal, Resource r, ClientInfo client) {
        return principal.subject().equals("alice")
            ? new Decision.Allow("alice-may-connect", Obligations.NONE)
            : new Decision.Deny("only-alice", "no rule grants access");
      }

      @Override
      public Decision decide(Session session, Command command) {
        return command.text().startsWith("DROP")
            ? new Decision.Deny("no-ddl", "DROP is not allowed")
            : new Decision.Allow("read-only", Obligations.NONE);
      }
    };
    checkpoint = new Checkpoint(this::authenticate, name -> Optional.of(resource).filter(r -> r.name().equals(name)),
        policy, new Trail(), SessionLimits.DEFAULT, Clock.systemUTC(), List.of());
  }

  private Principal authenticate(Secret token) {
    Principal p = tokens.get(token.reveal());
    if (p == null) throw new AuthenticationException("token signature does not verify");
    return p;
  }

  @Override
  public Opening open(Caller caller) {
    Secret token = Secret.of("eyJhbGciOiJSUzI1NiJ9." + UUID.randomUUID() + UUID.randomUUID() + ".sig" + UUID.randomUUID());
    synchronized (this) {
      minted.add(token);
    }
    if (caller != Caller.BAD_TOKEN) {
      tokens.put(token.reveal(), new Principal(subject(caller), subject(caller) + "@example.com", Set.of(),
          Principal.Kind.HUMAN, "corp", Map.of(), Instant.now().plus(Duration.ofHours(1))));
    }
    log("connection for " + RESOURCE + (flaws.contains(Flaw.LOGS_TOKENS) ? " token=" + token.reveal() : ""));
    Admission a = checkpoint.admit(token, RESOURCE, ResourceType.POSTGRES, new ClientInfo("127.0.0.1:50000", "x", "conformance"));
    return switch (a) {
      case Admission.Admitted admitted -> new Opening.Opened(new Client(admitted.session()));
      case Admission.Refused r -> new Opening.Refused(r.reason() == Admission.Reason.INVALID_TOKEN ? "28P01" : "28000", r.message());
    };
  }

  @Override
  public String subject(Caller caller) {
    return caller == Caller.PERMITTED ? "alice" : "mallory";
  }

  @Override
  public String resource() {
    return RESOURCE;
  }

  @Override
  public Probe allowed() {
    return new Probe("SELECT 1", "1");
  }

  @Override
  public String deniedCommand() {
    return "DROP TABLE items";
  }

  @Override
  public String deniedErrorCode() {
    return "42501";
  }

  @Override
  public String refusedErrorCode(Caller caller) {
    return caller == Caller.BAD_TOKEN ? "28P01" : "28000";
  }

  @Override
  public synchronized List<AuditRecord> audit() {
    return List.copyOf(audit);
  }

  @Override
  public synchronized String logs() {
    return log.toString();
  }

  @Override
  public synchronized List<Secret> credentials() {
    return List.copyOf(minted);
  }

  @Override
  public void dropTargetConnection(ClientSession session) {
    ((Client) session).targetAlive = false;
  }

  private synchronized void log(String line) {
    log.append(line).append('\n');
  }

  private synchronized void record(AuditRecord r) {
    audit.add(r);
  }

  private final class Client implements ClientSession {
    private final Session session;
    private volatile boolean open = true;
    volatile boolean targetAlive = true;

    Client(Session session) {
      this.session = session;
    }

    @Override
    public String sessionId() {
      return session.id().value();
    }

    @Override
    public Reply run(String text) {
      if (!open) return new Reply.Error("08003", "connection is closed", true);
      Verdict v = checkpoint.decide(session, new Command("sql", text, new Classification(List.of("SELECT"), Set.of(), Set.of(), Set.of()), Map.of()));
      if (!v.allowed()) {
        Decision.Deny deny = (Decision.Deny) v.decision();
        if (flaws.contains(Flaw.DENIAL_KILLS_SESSION)) close();
        return new Reply.Error("42501", deny.reason() + " (rule " + deny.rule() + ")", !open);
      }
      if (!targetAlive && !flaws.contains(Flaw.HIDES_DROPPED_TARGET)) {
        checkpoint.complete(v, new Outcome(Outcome.Status.ABORTED, -1, Optional.of("57P01"), Duration.ZERO));
        close();
        return new Reply.Error("57P01", "terminating connection due to administrator command", true);
      }
      if (!flaws.contains(Flaw.SKIPS_COMPLETION_EVENTS)) checkpoint.complete(v, Outcome.ok(1, Duration.ofMillis(1)));
      return new Reply.Output("1");
    }

    @Override
    public void close() {
      if (open) {
        open = false;
        checkpoint.close(session, "client closed the connection");
      }
    }
  }

  /** The audit trail, recording neutral events; completions carry their decision's command text. */
  private final class Trail implements AuditTrail {
    private final Map<String, String> commands = new ConcurrentHashMap<>();

    @Override
    public void sessionOpened(Session s) {
      record(event(AuditRecord.Type.SESSION_OPENED, s, Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), ""));
    }

    @Override
    public void admissionRefused(Optional<Principal> principal, String resourceName, ClientInfo client, String rule, String reason) {
      record(new AuditRecord(AuditRecord.Type.ADMISSION_REFUSED, Optional.empty(), principal.map(Principal::subject), resourceName,
          Optional.empty(), Optional.empty(), Optional.of(rule), Optional.empty(), reason));
    }

    @Override
    public AuditHandle commandDecided(Session s, Command command, Decision decision) {
      String id = UUID.randomUUID().toString();
      commands.put(id, command.text());
      AuditRecord.Effect effect = switch (decision) {
        case Decision.Allow a -> AuditRecord.Effect.ALLOW;
        case Decision.Deny d -> AuditRecord.Effect.DENY;
        case Decision.RequireApproval r -> AuditRecord.Effect.REQUIRE_APPROVAL;
      };
      record(event(AuditRecord.Type.COMMAND_DECIDED, s, Optional.of(command.text()), Optional.of(effect),
          Optional.of(decision.rule()), Optional.empty(), ""));
      return new AuditHandle(id);
    }

    @Override
    public void commandCompleted(Session s, AuditHandle handle, Outcome outcome) {
      record(event(AuditRecord.Type.COMMAND_COMPLETED, s, Optional.ofNullable(commands.get(handle.eventId())), Optional.empty(),
          Optional.empty(), Optional.of(outcome.status()), ""));
    }

    @Override
    public void sessionClosed(Session s, String reason) {
      record(event(AuditRecord.Type.SESSION_CLOSED, s, Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), reason));
    }

    private AuditRecord event(AuditRecord.Type type, Session s, Optional<String> command, Optional<AuditRecord.Effect> effect,
        Optional<String> rule, Optional<Outcome.Status> outcome, String text) {
      return new AuditRecord(type, Optional.of(s.id().value()), Optional.of(s.principal().subject()), s.resource().name(),
          command, effect, rule, outcome, text);
    }
  }
}
