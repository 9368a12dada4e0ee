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
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.time.Duration;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The tamper-evident audit log: {@link AuditTrail} over an {@link AuditStore}, one hash chain per
 * node and start (see {@link ChainWriter}).
 *
 * <p>Every event is sealed into the chain and written to the node's {@link AuditJournal} on the
 * calling thread; a call returns once the journal holds the event, which then survives the gateway
 * process being killed ({@code kill -9}), and with {@link Durability#MACHINE} once it is on stable
 * storage. A background thread moves journaled events into the store in large batches, with signed
 * checkpoints; a process that dies leaves its journal behind, and the next start of the same node
 * (or a {@code gatehouse audit} command) moves what is missing into the store.
 *
 * <p>Durable methods throw {@link AuditUnavailableException}, so the caller refuses the command,
 * when the journal cannot be written, while the store is failing, when more than {@link
 * AuditConfig#queueCapacity()} events wait for the store (memory stays bounded), and after {@link
 * #close()}. {@link #commandCompleted} never throws: an outcome that cannot be recorded is counted
 * and the chain records an {@link EventType#EVENTS_LOST} event with the count.
 *
 * <p>Values are recorded raw, with two exceptions PostgreSQL's text type forces on every store
 * alike: NUL characters and unpaired UTF-16 surrogates are recorded as U+FFFD.
 *
 * <p>Thread-safe; one instance per node. {@link #close()} (at clean shutdown) appends a {@link
 * EventType#CHAIN_CLOSED} event, stores everything under a final signed checkpoint, removes the
 * journal and stops the background thread; it does not close the store, which the caller owns.
 */
public final class AuditLog implements AuditTrail, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(AuditLog.class);

  private final AuditConfig config;
  private final Clock clock;
  private final ChainWriter writer;
  private final Thread thread;
  /**
   * The cleaned parts every event of an open session repeats (its id, principal, resource, client),
   * made once at {@link #sessionOpened} instead of once per event; removed at {@link #sessionClosed}.
   */
  private final ConcurrentHashMap<String, SessionParts> sessions = new ConcurrentHashMap<>();
  /**
   * The same parts found by the session object's identity, without the map: each statement's two
   * events look them up on the relay's threads, and the map's lookup missed the CPU's caches
   * (bench/README.md, session 10). A slot holds the parts of the last session whose identity hash
   * chose it, checked by identity, so a slot another session took only costs a lookup in the map; a
   * closed session's slot is emptied. Racy by design: a slot is one reference, and parts are
   * immutable (final fields) but for their volatile last command.
   */
  private final SessionParts[] recent = new SessionParts[RECENT];

  private static final int RECENT = 256;

  /** Records the ends a killed or crashed process left open; null when there are none. */
  private volatile Thread cutOffEnds;
  private volatile boolean stopping;

  private AuditLog(AuditConfig config, Clock clock, ChainWriter writer) {
    this.config = config;
    this.clock = clock;
    this.writer = writer;
    this.thread = Thread.ofPlatform().name("gatehouse-audit-indexer").daemon(true).unstarted(writer);
    writer.bind(thread);
  }

  /** Starts the log with the signing key from {@link AuditConfig#keyFile()} (created when absent). */
  public static AuditLog start(AuditStore store, AuditConfig config, Clock clock) {
    return start(store, config, AuditSigner.loadOrCreate(config.keyFile()), clock);
  }

  /**
   * Starts the log with the given signing key ({@link AuditConfig#keyFile()} is not read): first
   * stores what earlier processes of this node left in the journal, then opens a new chain. Throws
   * {@link AuditUnavailableException} when the journal is in use by another process or cannot be
   * written, and the store's exception when recovery cannot store what it found.
   */
  public static AuditLog start(AuditStore store, AuditConfig config, AuditSigner signer, Clock clock) {
    Objects.requireNonNull(store, "store == null");
    Objects.requireNonNull(config, "config == null");
    Objects.requireNonNull(signer, "signer == null");
    Objects.requireNonNull(clock, "clock == null");
    AuditLog log = new AuditLog(config, clock, ChainWriter.open(store, config, signer, clock));
    log.thread.start();
    log.endCutOff(store);
    return log;
  }

  /**
   * Records, in the new chain, the ends of what earlier processes of this node left open when they
   * were killed or crashed ({@link CutOffEnds}): on a thread of its own, since it reads the whole of
   * each such chain from the store, and the gateway serves meanwhile. {@link #close()} stops it.
   */
  private void endCutOff(AuditStore store) {
    List<ChainWriter.CutOff> cut = writer.cutOff();
    if (cut.isEmpty()) return;
    cutOffEnds = Thread.ofPlatform().name("gatehouse-audit-cut-off").daemon(true).start(() -> {
      for (ChainWriter.CutOff c : cut) {
        try {
          List<EventBody> ends = CutOffEnds.of(store, c, clock.instant(), () -> stopping).orElse(List.of());
          int recorded = 0;
          for (EventBody e : ends) {
            if (stopping) break;
            if (evidence(e).isPresent()) recorded++;
          }
          if (stopping) {
            LOG.warn("the gateway stopped before it recorded the ends of what chain {} left open (killed or crashed): "
                + "{} recorded, the rest of its open sessions and statements without an outcome stay without an end",
                c.chainId(), recorded);
            return;
          }
          if (recorded < ends.size()) {
            LOG.warn("{} of the {} ends of what chain {} left open could not be recorded (the audit journal refused them);"
                + " the next start tries again", ends.size() - recorded, ends.size(), c.chainId());
            continue;
          }
          // Recorded, and stored as the store's durability promises: no later start need look again.
          flush();
          writer.endsRecorded(c.chainId());
          long sessions = ends.stream().filter(e -> e.type() == EventType.SESSION_CLOSED).count();
          LOG.info("chain {} ended without closing (the gateway was killed or crashed): recorded the end of its {} open "
              + "sessions and {} statements without an outcome (UNKNOWN)", c.chainId(), sessions, ends.size() - sessions);
        } catch (RuntimeException e) {
          LOG.warn("cannot record the ends of what chain {} left open (killed or crashed): {}; the next start tries again",
              c.chainId(), e.toString());
        }
      }
    });
  }

  /**
   * Stores what stopped gateways left in the journals under {@code journalDir} (every node folder
   * no running process holds), without signing checkpoints: what {@code gatehouse audit} does
   * before reading. The journals stay where they are: the node's next start signs a checkpoint over
   * them (the key is the gateway's), and only then removes them. Returns the number of events stored.
   */
  public static long recoverJournals(AuditStore store, Path journalDir, Clock clock) {
    return recoverJournalsForReading(store, journalDir, clock).stored();
  }

  /**
   * What {@link #recoverJournalsForReading} did: how many events it stored, and the last event each
   * stopped gateway's journal holds, which {@link AuditVerifier#withJournalEnds} checks the store against.
   */
  public record JournalRecovery(long stored, List<JournalEnd> ends) {
    public JournalRecovery {
      ends = List.copyOf(ends);
    }
  }

  /** As {@link #recoverJournals}, and returns the journals' last events too. */
  public static JournalRecovery recoverJournalsForReading(AuditStore store, Path journalDir, Clock clock) {
    if (!Files.isDirectory(journalDir)) return new JournalRecovery(0, List.of());
    long total = 0;
    List<JournalEnd> ends = new ArrayList<>();
    List<Path> nodes;
    try (var list = Files.list(journalDir)) {
      nodes = list.filter(Files::isDirectory).sorted().toList();
    } catch (IOException e) {
      throw new AuditException("cannot read the audit journal folder " + journalDir + ": " + e.getMessage(), e);
    }
    for (Path node : nodes) {
      try (AuditJournal.NodeLock lock = AuditJournal.lockNode(journalDir, node.getFileName().toString())) {
        ChainWriter.Recovery r = ChainWriter.recover(store, lock.dir(), Optional.empty(), clock);
        total += r.stored();
        ends.addAll(r.journalEnds());
      } catch (IOException e) {
        LOG.debug("journal {} not recovered: {}", node, e.getMessage()); // in use by a running gateway
      }
    }
    return new JournalRecovery(total, ends);
  }

  @Override
  public void sessionOpened(Session session) {
    SessionParts parts = new SessionParts(session);
    durable(new Builder(EventType.SESSION_OPENED, Map.of("deadline", session.deadline().toString())).session(parts).build());
    sessions.put(session.id().value(), parts); // only once the session exists: a refused one is never closed
  }

  @Override
  public void admissionRefused(Optional<Principal> principal, String resourceName, ClientInfo client, String rule, String reason) {
    evidence(new Builder(EventType.ADMISSION_REFUSED, Map.of())
        .principal(principal)
        .resource(resourceName)
        .client(client)
        .decision(new EventBody.Ruling(EventBody.Ruling.Effect.DENY, clean(rule), Optional.of(clean(reason))))
        .build());
  }

  @Override
  public AuditHandle commandDecided(Session session, Command command, Decision decision) {
    Map<String, String> attrs = Map.of(); // most decisions have none
    EventBody.Ruling ruling = switch (decision) {
      case Decision.Allow a -> {
        if (!a.obligations().masks().isEmpty()) attrs = Map.of("masks", String.join(",", a.obligations().masks()));
        yield new EventBody.Ruling(EventBody.Ruling.Effect.ALLOW, clean(a.rule()), Optional.empty());
      }
      case Decision.Deny d -> new EventBody.Ruling(EventBody.Ruling.Effect.DENY, clean(d.rule()), Optional.of(clean(d.reason())));
      case Decision.RequireApproval r -> {
        attrs = Map.of("reviewers", String.join(",", r.reviewers()));
        yield new EventBody.Ruling(EventBody.Ruling.Effect.REQUIRE_APPROVAL, clean(r.rule()), Optional.of(clean(r.reason())));
      }
    };
    Builder event = sessionEvent(EventType.COMMAND_DECIDED, session, attrs);
    EventBody body = event.command(event.parts.record(command)).decision(ruling).build();
    if (decision instanceof Decision.Allow) return new AuditHandle(durable(body));
    // A refusal runs nothing: it is evidence, journaled while the store fails too, or counted lost.
    return evidence(body).map(AuditHandle::new).orElse(AuditHandle.UNAUDITED);
  }

  @Override
  public void commandCompleted(Session session, AuditHandle handle, Outcome outcome) {
    EventBody body = sessionEvent(EventType.COMMAND_COMPLETED, session, outcome.notes())
        .outcome(new EventBody.Result(outcome.status().name(), outcome.rows(), outcome.errorCode().map(AuditLog::clean),
            outcome.duration().toMillis()))
        .ref(handle.eventId())
        .build();
    if (writer.append(body, false).isEmpty()) {
      LOG.warn("audit outcome event for {} could not be recorded; it is counted as lost", handle.eventId());
    }
  }

  @Override
  public void sessionClosed(Session session, String reason) {
    try {
      evidence(sessionEvent(EventType.SESSION_CLOSED, session, Map.of("reason", reason)).build());
    } finally {
      sessions.remove(session.id().value());
      int slot = System.identityHashCode(session) & (RECENT - 1);
      SessionParts kept = recent[slot];
      if (kept != null && kept.session == session) recent[slot] = null;
    }
  }

  /** The chain this node is writing. */
  public Optional<String> chainId() {
    return Optional.of(writer.chainId());
  }

  /** False while the store or the journal fails, and after {@link #close()}. */
  public boolean available() {
    return writer.available();
  }

  /**
   * Why the log is not healthy, for readiness checks: the store or the journal fails, the log is
   * closed, the indexer thread is gone, or events have waited for the store for longer than
   * {@link AuditConfig#durableTimeout()} while nothing was stored (a store that hangs without an
   * error: statements still run until the backlog fills, but the store no longer shows them).
   */
  public Optional<String> problem() {
    Optional<RuntimeException> failure = writer.storeFailure();
    if (failure.isPresent()) return Optional.of("the audit store is not accepting events: statements are refused");
    Optional<String> journal = writer.journalFailure();
    if (journal.isPresent()) {
      return Optional.of("the audit journal cannot be written (" + journal.get() + "): statements are refused");
    }
    if (!writer.available()) return Optional.of("the audit journal is not accepting events: statements are refused");
    if (!thread.isAlive()) return Optional.of("the audit indexer is not running; events stay in the journal");
    Duration stalled = writer.stalledFor();
    if (stalled.compareTo(config.durableTimeout()) > 0) {
      return Optional.of("the audit store has taken no events for " + stalled.toSeconds() + " s while "
          + writer.unindexed() + " wait in the journal; statements are refused once "
          + config.queueCapacity() + " wait");
    }
    return Optional.empty();
  }

  /** Events journaled but not yet in the store. */
  public long unindexed() {
    return writer.unindexed();
  }

  /** Outcome events that could not be recorded since the log started. */
  public long lostEvents() {
    return writer.lost();
  }

  /**
   * Waits until every event recorded before the call is in the store (readers such as {@code audit
   * tail} see the store only). Throws {@link AuditUnavailableException} when the store fails or does
   * not catch up within {@link AuditConfig#durableTimeout()}.
   */
  public void flush() {
    long target = writer.head();
    long deadline = System.nanoTime() + config.durableTimeout().toNanos();
    while (writer.indexedSeq() < target) {
      if (!thread.isAlive()) throw new AuditUnavailableException("the audit log is shut down; the rest of its chain is in the journal", null);
      writer.storeFailure().ifPresent(e -> {
        throw new AuditUnavailableException("the audit store failed: " + e.getMessage(), e);
      });
      if (System.nanoTime() > deadline) {
        throw new AuditUnavailableException("the audit store did not catch up within " + config.durableTimeout().toMillis() + " ms", null);
      }
      writer.wake();
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
    }
  }

  /**
   * Clean shutdown: refuses new events, closes the chain, stores everything under a final signed
   * checkpoint and removes the journal. When the store fails, it retries for twice the durable
   * timeout and then leaves the rest in the journal for the next start. Idempotent.
   */
  @Override
  public void close() {
    stopping = true;
    Thread ends = cutOffEnds;
    if (ends != null) {
      try {
        ends.join(config.durableTimeout().toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    writer.shutdown();
    try {
      thread.join(config.durableTimeout().multipliedBy(4));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (thread.isAlive()) {
      LOG.warn("the audit indexer did not finish in time; the rest of the chain stays in the journal");
      return;
    }
    writer.closeJournal();
  }

  private String durable(EventBody body) {
    return writer.append(body, true).orElseThrow();
  }

  /**
   * An event that must not hold anything up: a refusal, a session's close. Journaled while the store
   * fails too, to be stored once it is back (review round 44: refusals and closes during a store
   * outage left no trace); when the journal cannot take it either, counted lost and recorded as an
   * {@link EventType#EVENTS_LOST} event.
   */
  private Optional<String> evidence(EventBody body) {
    Optional<String> id = writer.append(body, false);
    if (id.isEmpty()) LOG.warn("audit {} event could not be recorded; it is counted as lost", body.type());
    return id;
  }

  private Builder sessionEvent(EventType type, Session session, Map<String, String> attributes) {
    int slot = System.identityHashCode(session) & (RECENT - 1);
    SessionParts parts = recent[slot];
    if (parts == null || parts.session != session) {
      parts = sessions.get(session.id().value());
      // The same session object as at its opening (never another session that reuses the id).
      if (parts == null || parts.session != session) return new Builder(type, attributes).session(new SessionParts(session));
      recent[slot] = parts;
    }
    return new Builder(type, attributes).session(parts);
  }

  /**
   * A session's parts of an event, cleaned, and the record of the command it ran last: a session
   * executing a prepared statement again gets the same {@link EventBody.CommandRecord} instance,
   * neither cleaned nor copied again, whose bytes {@link CanonicalEncoding} then copies instead of
   * encoding them field by field.
   */
  private static final class SessionParts {
    final Session session;
    final Optional<String> id;
    final Optional<EventBody.Actor> principal;
    final Optional<String> resource;
    final Optional<ClientInfo> client;
    /** Written by whichever thread decides the session's commands; an immutable pair, so a racing reader sees a whole one. */
    private volatile LastCommand last;

    private record LastCommand(Command command, EventBody.CommandRecord record) {}

    /** Longest command text remembered, in chars. */
    private static final int REMEMBERED_TEXT = 16 * 1024;

    private SessionParts(Session s) {
      session = s;
      id = Optional.of(clean(s.id().value()));
      principal = actor(Optional.of(s.principal()));
      resource = Optional.of(clean(s.resource().name()));
      client = Optional.of(cleanClient(s.client()));
    }

    /**
     * The command's record: the last one again when the command has the same text and classification
     * instances (a prepared statement executed again: the classifier's objects are the same) and
     * equal protocol and details. Identity, not equality, for the two large parts, so that a
     * different statement (every simple query of a changing text) costs no comparison.
     */
    EventBody.CommandRecord record(Command c) {
      LastCommand l = last;
      EventBody.CommandRecord r;
      if (l != null && l.command().classification() == c.classification()
          && l.command().protocol().equals(c.protocol()) && l.command().details().equals(c.details())) {
        if (l.command().text() == c.text()) return l.record();
        // The same classification instance with another text: a simple query of the same shape
        // with other numbers (the classifier's templates share it). Only the text is cleaned anew.
        r = l.record().withText(clip(clean(c.text())));
      } else {
        r = AuditLog.record(c);
      }
      // A statement of several MiB is not kept with the session until its next one.
      last = c.text().length() <= REMEMBERED_TEXT ? new LastCommand(c, r) : null;
      return r;
    }
  }

  /**
   * The most characters of a statement's text an event keeps. The rest is represented by its length
   * and hash: a statement of megabytes (refused as unclassifiable above 2 MiB, but still on record)
   * would otherwise cost that much again in every copy of the event, in memory and on disk.
   */
  static final int MAX_TEXT = 64 * 1024;

  private static EventBody.CommandRecord record(Command c) {
    return new EventBody.CommandRecord(clean(c.protocol()), clip(clean(c.text())),
        clean(c.classification().kinds()), clean(c.classification().objects()), clean(c.classification().functions()),
        c.classification().flags().stream().map(Enum::name).toList(), clean(c.details()));
  }

  private static Optional<EventBody.Actor> actor(Optional<Principal> p) {
    return p.map(x -> new EventBody.Actor(clean(x.subject()), clean(x.issuer()), clean(x.displayName()),
        x.kind().name(), clean(x.groups())));
  }

  private static ClientInfo cleanClient(ClientInfo c) {
    return new ClientInfo(clean(c.address()), clean(c.claimedUser()), clean(c.application()));
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

  /**
   * {@code text} itself up to {@link #MAX_TEXT} characters; beyond, its first {@code MAX_TEXT}
   * (never half a surrogate pair) and a note of its whole length and SHA-256 (of its UTF-8).
   */
  static String clip(String text) {
    if (text.length() <= MAX_TEXT) return text;
    int cut = Character.isHighSurrogate(text.charAt(MAX_TEXT - 1)) ? MAX_TEXT - 1 : MAX_TEXT;
    String hash;
    try {
      hash = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
          .digest(text.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JDK", e);
    }
    return text.substring(0, cut) + "…[Gatehouse kept the first " + cut + " of " + text.length()
        + " characters; SHA-256 of the whole text in UTF-8: " + hash + "]";
  }

  private static List<String> clean(java.util.Collection<String> values) {
    if (values.isEmpty()) return List.of();
    List<String> out = new java.util.ArrayList<>(values.size());
    for (String v : values) out.add(clean(v));
    return out;
  }

  private static Map<String, String> clean(Map<String, String> values) {
    if (values.isEmpty()) return Map.of();
    Map<String, String> out = new TreeMap<>();
    values.forEach((k, v) -> out.putIfAbsent(clean(k), clean(v)));
    return out;
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
    /** The session's parts, when the event belongs to a session. */
    private SessionParts parts;

    Builder(EventType type, Map<String, String> attributes) {
      this.type = type;
      this.attributes = clean(attributes);
    }

    Builder session(SessionParts parts) {
      this.parts = parts;
      sessionId = parts.id;
      principal = parts.principal;
      resource = parts.resource;
      client = parts.client;
      return this;
    }

    Builder principal(Optional<Principal> p) {
      principal = actor(p);
      return this;
    }

    Builder resource(String name) {
      resource = Optional.of(clean(name));
      return this;
    }

    Builder client(ClientInfo c) {
      client = Optional.of(cleanClient(c));
      return this;
    }

    Builder command(EventBody.CommandRecord r) {
      command = Optional.of(r);
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
