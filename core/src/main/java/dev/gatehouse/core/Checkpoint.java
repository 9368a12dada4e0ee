package dev.gatehouse.core;

import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The one object every protocol asks what to do. Everything cross-cutting sits behind it, in the
 * order the methods below show; protocols only classify, ask, and carry out the answer.
 *
 * <p>Admission: authenticate (a token whose session would be over already is refused) → find
 * resource → policy → connection caps → audit (durable).
 * Each command: policy → (approval, later) → audit (durable) → the caller forwards → {@link
 * #complete}. Fail closed: when the audit trail cannot take an event the answer is a refusal.
 *
 * <p>Thread-safe; one instance serves every listener and session.
 */
public final class Checkpoint {
  /** Rule name for refusals decided before policy ran. */
  public static final String RULE_AUTHENTICATION = "authentication";
  public static final String RULE_RESOURCE = "resource";
  public static final String RULE_LIMITS = "connection-limits";
  public static final String RULE_AUDIT = "audit-unavailable";
  public static final String RULE_EXPIRED = "session-expired";
  /** A session a changed policy no longer admits, refused every statement until it has ended. */
  public static final String RULE_REVOKED = "session-revoked";
  /** What a command that could not be read (its text is not in the session's encoding) is refused by. */
  public static final String RULE_UNREADABLE = "unreadable-command";

  private final Authenticator authenticator;
  private final ResourceCatalog resources;
  private final Policy policy;
  private final AuditTrail audit;
  private final SessionLimits limits;
  private final Clock clock;
  private final List<CheckpointListener> listeners;
  private final Map<String, AtomicInteger> perUser = new ConcurrentHashMap<>();
  private final Map<String, AtomicInteger> perResource = new ConcurrentHashMap<>();
  private final Map<SessionId, Session> live = new ConcurrentHashMap<>();
  /**
   * Sessions {@link #recheck} found the new policy no longer admits, until {@link #close}d. Their
   * statements are refused, and a listener that registers a session only after its target connect
   * ends it there ({@link #revoked(SessionId)}): a recheck between admission and that point found
   * nothing to end, and the session lived on while the audit said it had ended (red-team round 26).
   */
  private final Set<SessionId> revoked = ConcurrentHashMap.newKeySet();
  /** How many rechecks have started: an admission decided across one is judged again ({@link #admit}). */
  private final java.util.concurrent.atomic.AtomicLong rechecks = new java.util.concurrent.atomic.AtomicLong();

  public Checkpoint(
      Authenticator authenticator,
      ResourceCatalog resources,
      Policy policy,
      AuditTrail audit,
      SessionLimits limits,
      Clock clock,
      List<CheckpointListener> listeners) {
    this.authenticator = Objects.requireNonNull(authenticator, "authenticator == null");
    this.resources = Objects.requireNonNull(resources, "resources == null");
    this.policy = Objects.requireNonNull(policy, "policy == null");
    this.audit = Objects.requireNonNull(audit, "audit == null");
    this.limits = Objects.requireNonNull(limits, "limits == null");
    this.clock = Objects.requireNonNull(clock, "clock == null");
    this.listeners = List.copyOf(listeners);
  }

  /**
   * Admits a connection to the named resource, or says why not. Every refusal is audited (when the
   * audit trail can take it). An admitted session must be {@linkplain #close closed}.
   *
   * @param type the protocol the client speaks: a resource of another type is unknown here
   */
  public Admission admit(Secret token, String resourceName, ResourceType type, ClientInfo client) {
    // A recheck that starts after this read sees the session in live (it is put there before the
    // read below); one that started before may have missed it: then it is judged here again.
    long rechecksBefore = rechecks.get();
    Principal principal;
    try {
      principal = authenticator.authenticate(token);
    } catch (AuthenticationException e) {
      return refuse(Optional.empty(), resourceName, client,
          new Admission.Refused(Admission.Reason.INVALID_TOKEN, RULE_AUTHENTICATION,
              "authentication failed for resource \"" + resourceName + "\": " + e.getMessage()));
    }
    // An authenticator accepts a token a little past its expiry (the issuer's clock skew), but a
    // session ends at the expiry plus tokenGrace: one that would be over already is not opened.
    Instant deadline = principal.expiresAt().plus(limits.tokenGrace());
    if (!clock.instant().isBefore(deadline)) {
      return refuse(Optional.of(principal), resourceName, client,
          new Admission.Refused(Admission.Reason.INVALID_TOKEN, RULE_AUTHENTICATION,
              "authentication failed for resource \"" + resourceName + "\": token expired at " + principal.expiresAt()
                  + "; reconnect with a fresh token"));
    }
    // A resource policy refuses and one that does not exist get one answer, so that a token is no
    // way to list resource names; the audit log and the gateway's log tell them apart.
    String notAvailable = "no " + type.name().toLowerCase(java.util.Locale.ROOT) + " resource named \""
        + resourceName + "\" is available to " + principal.displayName();
    Optional<Resource> found = resources.find(resourceName).filter(r -> r.type() == type);
    if (found.isEmpty()) {
      return refuse(Optional.of(principal), resourceName, client,
          new Admission.Refused(Admission.Reason.UNKNOWN_RESOURCE, RULE_RESOURCE, notAvailable));
    }
    Resource resource = found.get();
    Decision decision = policy.admit(principal, resource, client);
    switch (decision) {
      case Decision.Allow allow -> { }
      case Decision.Deny deny -> {
        return refuse(Optional.of(principal), resourceName, client,
            new Admission.Refused(Admission.Reason.FORBIDDEN, deny.rule(), notAvailable,
                principal.displayName() + " may not connect to \"" + resourceName + "\": " + deny.reason()
                    + " (rule " + deny.rule() + ")"));
      }
      case Decision.RequireApproval approval -> {
        return refuse(Optional.of(principal), resourceName, client,
            new Admission.Refused(Admission.Reason.FORBIDDEN, approval.rule(),
                "connecting to \"" + resourceName + "\" requires approval: " + approval.reason()
                    + " (rule " + approval.rule() + ")"));
      }
    }
    String userKey = principal.issuer() + "\u0000" + principal.subject();
    if (!acquire(perUser, userKey, limits.perUser())) {
      return refuse(Optional.of(principal), resourceName, client,
          new Admission.Refused(Admission.Reason.TOO_MANY_CONNECTIONS, RULE_LIMITS,
              principal.displayName() + " already holds " + limits.perUser() + " sessions (the per-user limit)"));
    }
    if (!acquire(perResource, resource.name(), limits.perResource())) {
      release(perUser, userKey);
      return refuse(Optional.of(principal), resourceName, client,
          new Admission.Refused(Admission.Reason.TOO_MANY_CONNECTIONS, RULE_LIMITS,
              "resource \"" + resourceName + "\" already carries " + limits.perResource()
                  + " sessions (the per-resource limit)"));
    }
    Instant now = clock.instant();
    Session session = new Session(SessionId.random(), principal, resource, client, now, deadline);
    try {
      audit.sessionOpened(session);
    } catch (AuditUnavailableException e) {
      release(perUser, userKey);
      release(perResource, resource.name());
      Admission.Refused refused = new Admission.Refused(Admission.Reason.UNAVAILABLE, RULE_AUDIT,
          "the audit log is unavailable, so no session can be opened; try again later");
      try {
        // Recorded where the journal still takes events (the store fails): who tried, meanwhile.
        audit.admissionRefused(Optional.of(principal), resource.name(), client, RULE_AUDIT, refused.message());
      } catch (AuditUnavailableException again) {
        // counted lost by the log
      }
      notify(l -> l.admissionRefused(resourceName, client, refused));
      return refused;
    }
    live.put(session.id(), session);
    notify(l -> l.sessionOpened(session));
    if (rechecks.get() != rechecksBefore) {
      // The policy changed while this admission was being decided (red-team round 27: admitted by
      // the old policy, in live only after the recheck had looked, the session lived on).
      Optional<Revocation> revocation = recheck(session);
      if (revocation.isPresent()) {
        String rule = revocation.get().decision().rule();
        close(session, "the policy changed while the session was being admitted (rule " + rule + ")");
        // The client hears what a refused connection hears (no hint whether the resource exists).
        return new Admission.Refused(Admission.Reason.FORBIDDEN, rule, notAvailable, principal.displayName()
            + " may not connect to \"" + resourceName + "\": the policy changed while the connection was being admitted"
            + " (rule " + rule + ")");
      }
    }
    return new Admission.Admitted(session);
  }

  /**
   * Decides one execution of a command. The returned verdict's audit event is durable. When the
   * session is past its deadline or the audit trail is down the verdict is a {@link Decision.Deny}
   * (fail closed), so the caller handles one shape of refusal.
   */
  public Verdict decide(Session session, Command command) {
    return record(session, command, judge(session, command));
  }

  /**
   * What {@link #decide} decides, neither audited nor told to listeners: for a gateway that has
   * refusals of its own to weigh after policy's (masking's, say), so that the one decision audited
   * is the one that stands. {@link #record} must follow, before anything is forwarded.
   */
  public Decision judge(Session session, Command command) {
    if (!clock.instant().isBefore(session.deadline())) {
      return new Decision.Deny(RULE_EXPIRED, "the session's token expired; reconnect with a fresh token");
    }
    return decideByPolicy(session, command);
  }

  /**
   * Audits a decision {@link #judge} made (or a denial the gateway made of it) and tells the
   * listeners: as {@link #decide}, whose second half it is. The returned verdict's audit event is
   * durable; when the audit trail is down the verdict is a {@link Decision.Deny}.
   */
  public Verdict record(Session session, Command command, Decision decision) {
    Instant now = clock.instant();
    // Step 3 of the data path: the event is durable before anything is forwarded.
    AuditHandle handle;
    try {
      handle = audit.commandDecided(session, command, decision);
    } catch (AuditUnavailableException e) {
      Decision refused = new Decision.Deny(RULE_AUDIT, "the audit log is unavailable; the statement was not run");
      // The refusal itself, where the journal still takes events (the store fails): evidence of
      // what was tried meanwhile (review round 44).
      AuditHandle recorded;
      try {
        recorded = audit.commandDecided(session, command, refused);
      } catch (AuditUnavailableException again) {
        recorded = AuditHandle.UNAUDITED;
      }
      notify(l -> l.commandDecided(session, command, refused));
      return new Verdict(session, command, refused, recorded, now);
    }
    // Every statement's path: the listeners are called without a lambda made for the call.
    for (int i = 0; i < listeners.size(); i++) {
      try {
        listeners.get(i).commandDecided(session, command, decision);
      } catch (RuntimeException ignored) {
        // Listeners only observe; one failing must not change the data path.
      }
    }
    return new Verdict(session, command, decision, handle, now);
  }

  /**
   * Refuses a command before any policy sees it, because the gateway could not read it (its text
   * is not valid in the session's encoding, say): audited like a policy's denial, so an attempt
   * leaves a trace. The command's text should say what arrived without quoting it, since an
   * unreadable statement cannot have its secrets redacted.
   */
  public Verdict refuse(Session session, Command command, Decision.Deny refusal) {
    Instant now = clock.instant();
    AuditHandle handle;
    try {
      handle = audit.commandDecided(session, command, refusal);
    } catch (AuditUnavailableException e) {
      handle = AuditHandle.UNAUDITED; // refused either way
    }
    notify(l -> l.commandDecided(session, command, refusal));
    return new Verdict(session, command, refusal, handle, now);
  }

  /**
   * Policy's answer when it does not allow a command now (a denial, or an approval nobody has given),
   * looked at ahead of its execution's decision and not audited (a caller that refuses on it records
   * the refusal with {@link #refuse}): for a step PostgreSQL takes before the statement is decided,
   * such as the parse analysis of a {@code Parse}, which takes locks. Empty when policy allows it (it
   * may still be refused at its {@link #decide}).
   */
  public Optional<Decision> policyDenial(Session session, Command command) {
    Decision decision = decideByPolicy(session, command);
    return decision instanceof Decision.Allow ? Optional.empty() : Optional.of(decision);
  }

  private Decision decideByPolicy(Session session, Command command) {
    if (!revoked.isEmpty() && revoked.contains(session.id())) {
      return new Decision.Deny(RULE_REVOKED, "the policy changed and no longer admits this session, which is being ended");
    }
    try {
      return policy.decide(session, command);
    } catch (RuntimeException e) {
      return new Decision.Deny("policy-error", "the policy could not judge this statement, so it was refused");
    }
  }

  /** Reports how a forwarded command ended; chained after its decision in the audit log. */
  public void complete(Verdict verdict, Outcome outcome) {
    if (!verdict.allowed() || verdict.audit().equals(AuditHandle.UNAUDITED)) return;
    audit.commandCompleted(verdict.session(), verdict.audit(), outcome);
    for (int i = 0; i < listeners.size(); i++) { // as in decide: no lambda per statement
      try {
        listeners.get(i).commandCompleted(verdict.session(), verdict.command(), outcome);
      } catch (RuntimeException ignored) {
        // Listeners only observe; one failing must not change the data path.
      }
    }
  }

  /** Ends a session: releases its connection slots and audits the end. Idempotent. */
  public void close(Session session, String reason) {
    if (live.remove(session.id()) == null) return;
    revoked.remove(session.id());
    release(perUser, session.principal().issuer() + "\u0000" + session.principal().subject());
    release(perResource, session.resource().name());
    try {
      audit.sessionClosed(session, reason);
    } catch (AuditUnavailableException e) {
      // The session is over either way; the gap shows in the chain as a missing close event.
    }
    notify(l -> l.sessionClosed(session, reason));
  }

  /** A live session the policy no longer admits, and the decision that says so. */
  public record Revocation(Session session, Decision decision) {}

  /**
   * Re-judges the admission of every live session, after the policy changed. Returns the sessions
   * the policy no longer admits (each refusal audited, once); the caller ends them, and their ends
   * are audited by {@link #close} as usual. From now until they have ended, every statement they
   * send is refused ({@link #RULE_REVOKED}), and {@link #revoked(SessionId)} tells a listener that
   * registers a session only after its target connect to end it there.
   */
  public List<Revocation> recheck() {
    rechecks.incrementAndGet(); // before live is read: see admit
    // Every session is judged and marked first, with no I/O between, so that each one's statements
    // are refused from now on; the audit events (durable, each a wait) come after (red-team round
    // 27: audited one by one before the next was judged, the last kept running for as long).
    List<Revocation> found = new java.util.ArrayList<>();
    for (Session session : live.values()) {
      mark(session).ifPresent(found::add);
    }
    for (Revocation r : found) audit(r);
    return found;
  }

  /** {@link #mark}s and {@link #audit}s one session. */
  private Optional<Revocation> recheck(Session session) {
    Optional<Revocation> r = mark(session);
    r.ifPresent(this::audit);
    return r;
  }

  /** Re-judges one session's admission; a revocation the first time the policy no longer admits it. */
  private Optional<Revocation> mark(Session session) {
    if (revoked.contains(session.id())) return Optional.empty();
    Decision decision;
    try {
      decision = policy.admit(session.principal(), session.resource(), session.client());
    } catch (RuntimeException e) {
      decision = new Decision.Deny("policy-error", "the policy could not judge this session");
    }
    if (decision instanceof Decision.Allow) return Optional.empty();
    if (!revoked.add(session.id())) return Optional.empty(); // another recheck found it first
    if (!live.containsKey(session.id())) revoked.remove(session.id()); // closed meanwhile
    return Optional.of(new Revocation(session, decision));
  }

  private void audit(Revocation r) {
    Session session = r.session();
    try {
      audit.admissionRefused(Optional.of(session.principal()), session.resource().name(), session.client(),
          r.decision().rule(), "session " + session.id() + " is ended: the new policy no longer admits it");
    } catch (AuditUnavailableException e) {
      // Ending the session is the safe side either way.
    }
  }

  /** Whether {@link #recheck} found that the policy no longer admits this session, which has not ended yet. */
  public boolean revoked(SessionId id) {
    return !revoked.isEmpty() && revoked.contains(id);
  }

  /** Live sessions on this node. */
  public List<Session> sessions() {
    return List.copyOf(live.values());
  }

  private Admission.Refused refuse(
      Optional<Principal> principal, String resourceName, ClientInfo client, Admission.Refused refused) {
    try {
      audit.admissionRefused(principal, resourceName, client, refused.rule(), refused.detail());
    } catch (AuditUnavailableException e) {
      // Refusing is already the safe answer; nothing else to withhold.
    }
    notify(l -> l.admissionRefused(resourceName, client, refused));
    return refused;
  }

  private static boolean acquire(Map<String, AtomicInteger> counts, String key, int cap) {
    AtomicInteger count = counts.computeIfAbsent(key, k -> new AtomicInteger());
    if (cap == 0) {
      count.incrementAndGet();
      return true;
    }
    while (true) {
      int n = count.get();
      if (n >= cap) return false;
      if (count.compareAndSet(n, n + 1)) return true;
    }
  }

  private static void release(Map<String, AtomicInteger> counts, String key) {
    AtomicInteger count = counts.get(key);
    if (count != null) count.decrementAndGet();
  }

  private void notify(java.util.function.Consumer<CheckpointListener> event) {
    for (CheckpointListener listener : listeners) {
      try {
        event.accept(listener);
      } catch (RuntimeException ignored) {
        // Listeners only observe; one failing must not change the data path.
      }
    }
  }
}
