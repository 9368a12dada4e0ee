package dev.gatehouse.audit;

import dev.gatehouse.core.AuditHandle;
import dev.gatehouse.core.AuditTrail;
import dev.gatehouse.core.AuditUnavailableException;
import dev.gatehouse.core.ClientInfo;
import dev.gatehouse.core.Command;
import dev.gatehouse.core.Decision;
import dev.gatehouse.core.Outcome;
import dev.gatehouse.core.Principal;
import dev.gatehouse.core.Session;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The tamper-evident audit log: {@link AuditTrail} over an {@link AuditStore}, one hash chain per
 * node and start, written by one platform thread with group commit (see {@link ChainWriter}).
 *
 * <p>Durable methods queue the event and wait until the batch holding it is committed. They throw
 * {@link AuditUnavailableException}, so the caller refuses the command, when the queue is full
 * ({@link AuditConfig#queueCapacity()}, checked without waiting: memory stays bounded), when the
 * commit does not happen within {@link AuditConfig#durableTimeout()}, when the store fails, or after
 * {@link #close()}. A caller that gave up before its event was written is never recorded as decided;
 * one that gave up while the batch was committing may be (the log can over-report, never
 * under-report). {@link #commandCompleted} only queues, after every event queued before it; when the
 * queue stays full for the durable timeout the outcome is dropped and counted, and the chain records
 * an {@link EventType#EVENTS_LOST} event with the count.
 *
 * <p>Values are recorded raw, with two exceptions PostgreSQL's text type forces on every store
 * alike: NUL characters and unpaired UTF-16 surrogates are recorded as U+FFFD.
 *
 * <p>Thread-safe; one instance per node. {@link #close()} (at clean shutdown) drains the queue,
 * appends a {@link EventType#CHAIN_CLOSED} event with a final signed checkpoint and stops the writer;
 * it does not close the store, which the caller owns.
 */
public final class AuditLog implements AuditTrail, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(AuditLog.class);

  private final AuditConfig config;
  private final Clock clock;
  private final ChainWriter writer;
  private final Thread thread;

  private AuditLog(AuditStore store, AuditConfig config, AuditSigner signer, Clock clock) {
    this.config = config;
    this.clock = clock;
    this.writer = new ChainWriter(store, config, signer, clock);
    this.thread = Thread.ofPlatform().name("gatehouse-audit-writer").daemon(true).unstarted(writer);
  }

  /** Starts the log with the signing key from {@link AuditConfig#keyFile()} (created when absent). */
  public static AuditLog start(AuditStore store, AuditConfig config, Clock clock) {
    return start(store, config, AuditSigner.loadOrCreate(config.keyFile()), clock);
  }

  /** Starts the log with the given signing key; {@link AuditConfig#keyFile()} is not read. */
  public static AuditLog start(AuditStore store, AuditConfig config, AuditSigner signer, Clock clock) {
    Objects.requireNonNull(store, "store == null");
    Objects.requireNonNull(config, "config == null");
    Objects.requireNonNull(signer, "signer == null");
    Objects.requireNonNull(clock, "clock == null");
    AuditLog log = new AuditLog(store, config, signer, clock);
    log.thread.start();
    return log;
  }

  @Override
  public void sessionOpened(Session session) {
    durable(sessionEvent(EventType.SESSION_OPENED, session, Map.of("deadline", session.deadline().toString()))
        .build());
  }

  @Override
  public void admissionRefused(Optional<Principal> principal, String resourceName, ClientInfo client, String rule, String reason) {
    durable(new Builder(EventType.ADMISSION_REFUSED, Map.of())
        .principal(principal)
        .resource(resourceName)
        .client(client)
        .decision(new EventBody.Ruling(EventBody.Ruling.Effect.DENY, clean(rule), Optional.of(clean(reason))))
        .build());
  }

  @Override
  public AuditHandle commandDecided(Session session, Command command, Decision decision) {
    Map<String, String> attrs = new TreeMap<>();
    EventBody.Ruling ruling = switch (decision) {
      case Decision.Allow a -> {
        if (!a.obligations().masks().isEmpty()) attrs.put("masks", String.join(",", a.obligations().masks()));
        yield new EventBody.Ruling(EventBody.Ruling.Effect.ALLOW, clean(a.rule()), Optional.empty());
      }
      case Decision.Deny d -> new EventBody.Ruling(EventBody.Ruling.Effect.DENY, clean(d.rule()), Optional.of(clean(d.reason())));
      case Decision.RequireApproval r -> {
        attrs.put("reviewers", String.join(",", r.reviewers()));
        yield new EventBody.Ruling(EventBody.Ruling.Effect.REQUIRE_APPROVAL, clean(r.rule()), Optional.of(clean(r.reason())));
      }
    };
    String id = durable(sessionEvent(EventType.COMMAND_DECIDED, session, attrs)
        .command(command)
        .decision(ruling)
        .build());
    return new AuditHandle(id);
  }

  @Override
  public void commandCompleted(Session session, AuditHandle handle, Outcome outcome) {
    EventBody body = sessionEvent(EventType.COMMAND_COMPLETED, session, Map.of())
        .outcome(new EventBody.Result(outcome.status().name(), outcome.rows(), outcome.errorCode().map(AuditLog::clean),
            outcome.duration().toMillis()))
        .ref(handle.eventId())
        .build();
    ChainWriter.Pending p = new ChainWriter.Pending(body, false);
    boolean queued;
    try {
      queued = writer.offer(p, config.durableTimeout());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      queued = false;
    }
    if (!queued) {
      writer.countLost();
      LOG.warn("audit outcome event for {} dropped: {}", handle.eventId(),
          writer.closing() ? "the audit log is shut down" : "the audit queue stayed full");
    }
  }

  @Override
  public void sessionClosed(Session session, String reason) {
    durable(sessionEvent(EventType.SESSION_CLOSED, session, Map.of("reason", reason)).build());
  }

  /** The chain this node is writing, if one is open (none after a store failure, until the next commit). */
  public Optional<String> chainId() {
    return writer.chainId();
  }

  /** False after a failed commit, until a commit succeeds again: for readiness checks. */
  public boolean available() {
    return writer.available();
  }

  /** Events waiting for the writer (tests). */
  int queued() {
    return writer.queued();
  }

  /** Outcome events dropped since the last {@link EventType#EVENTS_LOST} event was written. */
  public long lostEvents() {
    return writer.lost();
  }

  /**
   * Clean shutdown: refuses new events, writes what is queued, closes the chain with a signed
   * checkpoint, and stops the writer. Waits at most twice the durable timeout. Idempotent.
   */
  @Override
  public void close() {
    writer.shutdown();
    try {
      thread.join(config.durableTimeout().multipliedBy(2));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (thread.isAlive()) LOG.warn("the audit writer did not finish within {}; the chain stays open", config.durableTimeout().multipliedBy(2));
  }

  private String durable(EventBody body) {
    ChainWriter.Pending p = new ChainWriter.Pending(body, true);
    if (!writer.offer(p)) {
      throw new AuditUnavailableException(writer.closing()
          ? "the audit log is shut down, so nothing more can be audited"
          : "the audit queue is full (" + config.queueCapacity() + " events wait for the store); refusing rather than buffering more",
          null);
    }
    Duration timeout = config.durableTimeout();
    try {
      return p.done.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      AuditUnavailableException refused = new AuditUnavailableException(
          "the audit store did not commit the event within " + timeout.toMillis() + " ms", e);
      if (p.done.completeExceptionally(refused)) throw refused;
      return settled(p); // committed or failed just now
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      AuditUnavailableException refused = new AuditUnavailableException("interrupted while waiting for the audit store", e);
      if (p.done.completeExceptionally(refused)) throw refused;
      return settled(p);
    } catch (ExecutionException e) {
      throw unavailable(e);
    }
  }

  private static String settled(ChainWriter.Pending p) {
    try {
      return p.done.getNow("");
    } catch (java.util.concurrent.CompletionException e) {
      throw unavailable(e);
    }
  }

  private static AuditUnavailableException unavailable(Exception e) {
    Throwable cause = e.getCause();
    if (cause instanceof AuditUnavailableException a) return new AuditUnavailableException(a.getMessage(), a);
    return new AuditUnavailableException("the audit store failed: " + cause, cause);
  }

  private Builder sessionEvent(EventType type, Session session, Map<String, String> attributes) {
    return new Builder(type, attributes)
        .session(session.id().value())
        .principal(Optional.of(session.principal()))
        .resource(session.resource().name())
        .client(session.client());
  }

  /**
   * Replaces what no store can hold: NUL (PostgreSQL text) and unpaired surrogates (not UTF-8).
   * Applied to every string from outside, so the hash covers exactly what is stored.
   */
  static String clean(String s) {
    int n = s.length();
    StringBuilder b = null;
    for (int i = 0; i < n; i++) {
      char c = s.charAt(i);
      boolean bad;
      if (c == 0) {
        bad = true;
      } else if (Character.isHighSurrogate(c)) {
        if (i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
          if (b != null) b.append(c).append(s.charAt(i + 1));
          i++;
          continue;
        }
        bad = true;
      } else {
        bad = Character.isLowSurrogate(c);
      }
      if (bad && b == null) b = new StringBuilder(n).append(s, 0, i);
      if (b != null) b.append(bad ? '\uFFFD' : c);
    }
    return b == null ? s : b.toString();
  }

  private static List<String> clean(java.util.Collection<String> values) {
    return values.stream().map(AuditLog::clean).toList();
  }

  private static Map<String, String> clean(Map<String, String> values) {
    return values.entrySet().stream()
        .collect(Collectors.toMap(e -> clean(e.getKey()), e -> clean(e.getValue()), (a, b) -> a, TreeMap::new));
  }

  /** Assembles one event body from core values, cleaning every string on the way. */
  private final class Builder {
    private final EventType type;
    private final Map<String, String> attributes;
    private Optional<String> sessionId = Optional.empty();
    private Optional<EventBody.Actor> principal = Optional.empty();
    private Optional<String> resource = Optional.empty();
    private Optional<ClientInfo> client = Optional.empty();
    private Optional<EventBody.CommandRecord> command = Optional.empty();
    private Optional<EventBody.Ruling> decision = Optional.empty();
    private Optional<EventBody.Result> outcome = Optional.empty();
    private Optional<String> ref = Optional.empty();

    Builder(EventType type, Map<String, String> attributes) {
      this.type = type;
      this.attributes = clean(attributes);
    }

    Builder session(String id) {
      sessionId = Optional.of(clean(id));
      return this;
    }

    Builder principal(Optional<Principal> p) {
      principal = p.map(x -> new EventBody.Actor(clean(x.subject()), clean(x.issuer()), clean(x.displayName()),
          x.kind().name(), clean(x.groups())));
      return this;
    }

    Builder resource(String name) {
      resource = Optional.of(clean(name));
      return this;
    }

    Builder client(ClientInfo c) {
      client = Optional.of(new ClientInfo(clean(c.address()), clean(c.claimedUser()), clean(c.application())));
      return this;
    }

    Builder command(Command c) {
      command = Optional.of(new EventBody.CommandRecord(clean(c.protocol()), clean(c.text()),
          clean(c.classification().kinds()), clean(c.classification().objects()), clean(c.classification().functions()),
          c.classification().flags().stream().map(Enum::name).toList(), clean(c.details())));
      return this;
    }

    Builder decision(EventBody.Ruling r) {
      decision = Optional.of(r);
      return this;
    }

    Builder outcome(EventBody.Result r) {
      outcome = Optional.of(r);
      return this;
    }

    Builder ref(String id) {
      ref = Optional.of(clean(id));
      return this;
    }

    EventBody build() {
      return new EventBody(type, clock.instant(), sessionId, principal, resource, client, command, decision, outcome, ref,
          attributes);
    }
  }
}
