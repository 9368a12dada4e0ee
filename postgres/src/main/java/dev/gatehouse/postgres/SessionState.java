package dev.gatehouse.postgres;

import dev.gatehouse.core.Blocking;
import dev.gatehouse.masking.MaskPlan;
import dev.gatehouse.postgres.sql.Analysis;
import dev.gatehouse.postgres.wire.RowDescription;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * What the two directions of a session share: the queue of answers the target owes, and the
 * prepared statement and portal names with PostgreSQL's own lifetimes, so an Execute is decided on
 * the SQL that will actually run.
 *
 * <p>The client→backend thread runs ahead of the target: it records each Parse, Close and Bind
 * as if it will succeed. That guess is safe inside one Sync batch, because a failure makes the
 * server skip every later message of the batch. Across batches it is not: a Parse that failed
 * leaves the name as it was, a later Parse of the same name then succeeds on the server while the
 * guess would have kept the old text. So each Parse and Close stays <em>pending</em> until the
 * backend→client thread sees its answer (confirmed) or its error or skip (spliced out, restoring
 * what it shadowed), and a Bind that depends on a pending entry of an <em>earlier</em> batch waits
 * for that answer. Names changed by SQL (DEALLOCATE, DISCARD, PREPARE, or a statement the
 * classifier could not read) make every known named statement unknown: an Execute of an unknown
 * statement is decided as unclassified (fail closed).
 *
 * <p>Portals die with their transaction: ReadyForQuery with status idle drops every portal bound
 * before that sync point. Errors need no bookkeeping for portals: an error aborts the transaction,
 * so no portal bound before it can run again.
 *
 * <p>Thread-safe: one {@link ReentrantLock}, never held across I/O or a checkpoint call.
 */
final class SessionState {
  /** Named statements or portals one session may hold before it is refused (bounded memory). */
  static final int MAX_NAMES = 10_000;
  /** Answers that may be outstanding before the client→backend thread waits (bounded memory). */
  static final int MAX_PENDING = 100_000;
  /**
   * SQL text, in chars (the text and its redacted copy), that one session's statements may hold,
   * and, apart, that its queries awaiting answers may: counts alone let a client hold 10,000 names
   * or 100,000 queued queries of 2 MiB each (red-team round 9: one analyst ran the heap out).
   */
  static final long MAX_HELD_CHARS = 16L << 20;
  /**
   * What all sessions of this gateway may hold together (text, and result descriptions, in chars as
   * above): an eighth of the heap's maximum in chars, a quarter in bytes. Per-session budgets alone
   * let one user with many sessions pin most of the heap (red-team round 10).
   */
  static final long MAX_GATEWAY_CHARS = Runtime.getRuntime().maxMemory() / 8;
  private static final AtomicLong GATEWAY_CHARS = new AtomicLong();

  /** One Parse (or, as a tombstone, one Close) of a statement name. Guarded by the state's lock. */
  static final class Statement {
    enum Status { PENDING, CONFIRMED, FAILED }

    final String name;
    final Optional<Analysis> analysis;
    final boolean tombstone;
    final long syncPoint;
    Status status = Status.PENDING;
    Statement previous;
    boolean tainted;
    /**
     * Code Gatehouse cannot see into ran after its Parse (a DO block, a function someone made): that
     * code may have run DEALLOCATE and PREPARE under its name, so what the target holds is unknown.
     */
    boolean codeRan;
    /** The result shape a Describe of this statement returned (formats unknown until a Bind); null until then. */
    Shape shape;
    /** {@link #weight(Shape)} of {@link #shape}. */
    long shapeChars;
    /** It left the map: an answer arriving later is not counted against the budget any more. */
    boolean gone;

    /** The SQL text it holds, in chars ({@link #chars(Analysis)}). */
    final long chars;

    private Statement(String name, Optional<Analysis> analysis, boolean tombstone, long syncPoint) {
      this.name = name;
      this.analysis = analysis;
      this.tombstone = tombstone;
      this.syncPoint = syncPoint;
      this.chars = analysis.map(SessionState::chars).orElse(0L);
    }
  }

  /** What a result description weighs against the budgets: its names, and a little per column. */
  static long weight(Shape shape) {
    if (shape == null || shape.rows().isEmpty()) return 0;
    long n = 0;
    for (RowDescription.Field f : shape.rows().get().fields()) n += f.name().length() + 48;
    return n;
  }

  /** The chars of SQL text an analysis holds: each statement's text, and its redacted copy if it differs. */
  static long chars(Analysis analysis) {
    long n = 0;
    for (var st : analysis.statements()) {
      n += st.text().length();
      if (st.redactedText() != st.text()) n += st.redactedText().length();
    }
    return n;
  }

  /** One bound portal. */
  static final class Portal {
    final String statement;
    final Optional<Analysis> analysis;
    final long syncPoint;
    /** The result formats the Bind asked for (protocol rules: none = text, one = all). */
    final short[] resultFormats;
    /** The statement entry the portal was bound from (its shape may be known); null when unknown. */
    final Statement source;
    Execution execution;
    /** Decided (allowed) at its Bind and not executed yet; its Execute carries it out. */
    Execution decided;
    /** Its Bind was denied (the target never bound it). */
    boolean denied;
    /** The masking plan of its execution, shared by continuations after PortalSuspended. */
    MaskPlan plan;
    /** Guarded by the state's lock: the shape a Describe of this portal returned, or null. */
    Shape shape;
    /** {@link #weight(Shape)} of {@link #shape}. */
    long shapeChars;
    /** It left the map (a Bind of its name replaced it before its Describe was answered, say). */
    boolean gone;
    /** Guarded by the state's lock: Gatehouse's own Describe of this portal was answered (or skipped). */
    boolean settled;
    /**
     * Whether the target answered its Bind: true BindComplete, false an error or a skip; null not
     * yet. Set under the state's lock (waiters are signalled); read without it by {@link #known}.
     */
    volatile Boolean bound;
    /** SQL may have ended the target's portal of this name and made another; set under the state's lock. */
    volatile boolean forgotten;

    private Portal(String statement, Optional<Analysis> analysis, long syncPoint, short[] resultFormats, Statement source) {
      this.statement = statement;
      this.analysis = analysis;
      this.syncPoint = syncPoint;
      this.resultFormats = resultFormats;
      this.source = source;
    }
  }

  /**
   * What a Describe said about a result: its row description, or none (NoData).
   *
   * @param formatsKnown whether the description's format codes are the real ones (a portal's)
   */
  record Shape(Optional<RowDescription> rows, boolean formatsKnown) {}

  /** The session is over; whoever was waiting on the state gives up. */
  static final class Closed extends RuntimeException {
    Closed() {
      super("session closed", null, false, false);
    }
  }

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  private final ArrayDeque<Expected> pending = new ArrayDeque<>();
  /** {@link Statement#chars} of every entry in {@link #statements}, shadowed ones included. */
  private long namedChars;
  /** {@link Expected.QueryDone#chars} of the queries in {@link #pending}. */
  private long queuedChars;
  /** {@link Portal#shapeChars} of the portals in {@link #portals}. */
  private long portalChars;

  /**
   * What the sessions of one user (subject and issuer) may hold together: a quarter of the
   * gateway's budget, so that one user's many sessions cannot take all of it and refuse everyone
   * else's statements (red-team round 11).
   */
  static final long MAX_USER_CHARS = MAX_GATEWAY_CHARS / 4;
  private static final ConcurrentHashMap<String, AtomicLong> USER_CHARS =
      new ConcurrentHashMap<>();
  /** This session's user's count in {@link #USER_CHARS}. */
  private final AtomicLong userChars;

  /**
   * Adds {@code delta} to what all sessions, and this user's, hold; false (and nothing added) when
   * that passes the gateway's budget or the user's share of it.
   */
  private boolean gatewayTakes(long delta) {
    if (delta <= 0) {
      GATEWAY_CHARS.addAndGet(delta);
      userChars.addAndGet(delta);
      return true;
    }
    if (userChars.addAndGet(delta) > MAX_USER_CHARS) {
      userChars.addAndGet(-delta);
      return false;
    }
    if (GATEWAY_CHARS.addAndGet(delta) <= MAX_GATEWAY_CHARS) return true;
    GATEWAY_CHARS.addAndGet(-delta);
    userChars.addAndGet(-delta);
    return false;
  }

  /** What all sessions hold now (for tests: it must come back to where it was when they end). */
  static long gatewayChars() {
    return GATEWAY_CHARS.get();
  }

  /** A client message this large or larger, read whole, is counted while the session holds it ({@link #holdMessage}). */
  static final int HELD_MESSAGE_BYTES = 1 << 20;
  /** What all sessions may hold in such messages at once: a quarter of the JVM's maximum heap. */
  static final long MAX_HELD_BYTES = Runtime.getRuntime().maxMemory() / 4;
  /** What the sessions of one user may: half of that, two messages of the largest size a 1 GiB heap's gateway takes. */
  static final long MAX_USER_HELD_BYTES = MAX_HELD_BYTES / 2;
  private static final AtomicLong HELD_BYTES = new AtomicLong();
  private static final ConcurrentHashMap<String, AtomicLong> USER_HELD_BYTES = new ConcurrentHashMap<>();
  /** This session's user's count in {@link #USER_HELD_BYTES}. */
  private final AtomicLong userHeldBytes;

  /**
   * Counts a client message of {@code bytes} read whole (a Bind's parameter values, up to {@code
   * maxMessageBytes}) while it is decided and written to the target, which may not read it for as
   * long as a statement of the session runs (red-team round 40: ten sessions each holding a 60 MiB
   * Bind behind a {@code pg_sleep} pinned 640 MB of heap). Release it with {@link #releaseMessage}.
   *
   * @throws PostgresGatewayException 54000, the session to be ended, when the gateway's or the user's
   *     share would pass
   */
  void holdMessage(long bytes) {
    if (userHeldBytes.addAndGet(bytes) > MAX_USER_HELD_BYTES) {
      userHeldBytes.addAndGet(-bytes);
      throw overHeld(bytes);
    }
    if (HELD_BYTES.addAndGet(bytes) > MAX_HELD_BYTES) {
      HELD_BYTES.addAndGet(-bytes);
      userHeldBytes.addAndGet(-bytes);
      throw overHeld(bytes);
    }
  }

  void releaseMessage(long bytes) {
    HELD_BYTES.addAndGet(-bytes);
    userHeldBytes.addAndGet(-bytes);
  }

  /** What all sessions hold in large messages now (for tests). */
  static long heldBytes() {
    return HELD_BYTES.get();
  }

  private static PostgresGatewayException overHeld(long bytes) {
    return new PostgresGatewayException("54000", "a message of " + bytes + " bytes would take what your sessions together,"
        + " or the gateway's, hold in messages the target has not taken yet past " + (MAX_USER_HELD_BYTES >> 20)
        + " MiB for one user, " + (MAX_HELD_BYTES >> 20) + " MiB for all (a quarter of the gateway's heap); this session was ended");
  }

  private static PostgresGatewayException overGatewayBudget() {
    return new PostgresGatewayException("54000", "your sessions together, or the gateway's, hold as much SQL text and"
        + " result descriptions as allowed (" + (MAX_USER_CHARS >> 20) + " Mi characters for one user, "
        + (MAX_GATEWAY_CHARS >> 20) + " Mi for all); this session was ended");
  }
  private final Map<String, Statement> statements = new HashMap<>();
  private final Map<String, Portal> portals = new HashMap<>();
  /**
   * Names of portals the target no longer holds, and the sync point at which each ended: bound
   * here and ended with their transaction, or closed by a Close. An Execute of one is answered as
   * PostgreSQL answers it (34000, the portal does not exist) rather than decided as a portal
   * Gatehouse never saw bound. At most {@link #MAX_NAMES}; a name bound again leaves it.
   */
  private final Map<String, Long> endedPortals = new HashMap<>();
  /**
   * The last sync point whose messages may have made a portal Gatehouse does not follow (SQL
   * DECLARE, a statement it could not read, code it cannot see into): a portal recorded ended at or
   * before it may exist again.
   */
  private long portalsMadeAt;
  /** Completes an execution decided at a Bind whose portal ended without being executed. */
  private final Consumer<Execution> onUnexecuted;
  /** Guarded by the lock: such executions, settled by the caller after the lock is released. */
  private final List<Execution> unexecuted = new ArrayList<>();

  SessionState() {
    this(e -> { }, "");
  }

  SessionState(Consumer<Execution> onUnexecuted) {
    this(onUnexecuted, "");
  }

  /** @param user whose sessions' holdings are counted together (subject and issuer) */
  SessionState(Consumer<Execution> onUnexecuted, String user) {
    this.onUnexecuted = onUnexecuted;
    this.userChars = USER_CHARS.computeIfAbsent(user, u -> new AtomicLong());
    this.userHeldBytes = USER_HELD_BYTES.computeIfAbsent(user, u -> new AtomicLong());
  }

  /**
   * Under the lock: a portal ended; remember its decided execution if it never ran, or if it was
   * suspended at a row limit and never fetched to the end. One still running (its Execute
   * forwarded, unanswered) is settled by that answer ({@link Execution#portalGone}).
   */
  private void unexecuted(Portal p) {
    if (p != null && p.decided != null && p.execution == null) unexecuted.add(p.decided);
    else if (p != null && p.execution != null && !p.execution.done() && p.execution.portalGone()) unexecuted.add(p.execution);
    // Every portal leaving the map passes here: what its description weighed is freed.
    if (p == null || p.gone) return;
    p.gone = true;
    long held = p.shapeChars + p.resultFormats.length;
    if (held > 0) {
      portalChars -= held;
      gatewayTakes(-held);
      p.shapeChars = 0;
    }
  }

  /** Under the lock: a statement entry left the map (or its chain); what it held is freed. */
  private void dropped(Statement s) {
    s.gone = true;
    if (closed) return; // close() freed what the session held
    long held = s.chars + s.shapeChars;
    namedChars -= held;
    gatewayTakes(-held);
  }

  /** Outside the lock: completes what {@link #unexecuted(Portal)} collected (it may write to the audit queue). */
  private void settleUnexecuted() {
    List<Execution> done;
    lock.lock();
    try {
      if (unexecuted.isEmpty()) return;
      done = new ArrayList<>(unexecuted);
      unexecuted.clear();
    } finally {
      lock.unlock();
    }
    done.forEach(onUnexecuted);
  }
  private long syncPoints;
  /**
   * Guarded by the lock: the last message forwarded is not a sync point (Sync, Query,
   * FunctionCall), so an extended-protocol batch is open that only the client's Sync can close.
   * Answers may all be in (the client sent Flush), yet the ReadyForQuery that reports the settings
   * its code changed has not come and will not before that Sync.
   */
  private boolean batchOpen;
  private boolean skipping;
  /** The SQLSTATE of the error that started the skip. */
  private String skipCause = "";
  private boolean closed;
  private byte transactionStatus = 'I';
  /** How many settings probes are queued ({@link Expected.SettingsProbe}); changed under the lock, read without it. */
  private volatile int probes;
  /** How many Syncs are queued, unanswered; guarded by the lock. */
  private int pendingSyncs;
  /**
   * The number of the last sync point answered ({@link #readyForQuery}), written after {@link
   * #answeredStatus}: the settings its ReadyForQuery reported were checked before (BackendRelay ends
   * the session on a change). Written by the backend→client thread, read without the lock.
   */
  private volatile long answeredThrough;
  /** That ReadyForQuery's transaction status. */
  private volatile byte answeredStatus = 'I';

  /**
   * What the client→backend side knows of the target's COPY-in mode ({@code COPY … FROM STDIN}),
   * in which PostgreSQL ignores Sync and Flush and takes any other message as an error of the COPY.
   */
  enum CopyIn {
    /** No COPY the target may be reading data for: messages mean what they say. */
    NONE,
    /** A COPY was forwarded and the target has not said yet whether it reads data for it. */
    PENDING,
    /** The target answered CopyInResponse and the client has not ended the data (CopyDone, CopyFail). */
    ACTIVE
  }

  /** Guarded by the lock: the COPY {@link #copyIn} is about, or null. */
  private Expected copyStatement;
  /** Guarded by the lock. */
  private CopyIn copyIn = CopyIn.NONE;
  /** {@code copyIn != NONE}, read without the lock on every client message; only the client side sets it. */
  private volatile boolean copyPossible;
  /** Guarded by the lock: the forwarded expectations that may answer CopyInResponse, oldest first. */
  private final ArrayDeque<Expected> copies = new ArrayDeque<>();

  /** PostgreSQL's NAMEDATALEN - 1: the bytes of a statement or portal name that tell it apart. */
  static final int NAME_BYTES = 63;

  /**
   * The name under which PostgreSQL keeps a prepared statement or portal: its first {@link
   * #NAME_BYTES} bytes (the server's hash tables compare no more), so that two names PostgreSQL
   * takes for one are one here too. A cut inside a character keeps its bytes after an unpaired
   * surrogate, which no name decoded from UTF-8 holds.
   */
  static String serverName(String name) {
    if (name.length() <= NAME_BYTES / 3) return name; // at most 3 UTF-8 bytes per UTF-16 unit
    byte[] b = name.getBytes(StandardCharsets.UTF_8);
    if (b.length <= NAME_BYTES) return name;
    int cut = NAME_BYTES;
    while (cut > 0 && (b[cut] & 0xC0) == 0x80) cut--; // to the start of the character cut in two
    StringBuilder key = new StringBuilder(new String(b, 0, cut, StandardCharsets.UTF_8));
    if (cut < NAME_BYTES) {
      key.append('\uD800');
      for (int i = cut; i < NAME_BYTES; i++) key.append((char) (b[i] & 0xff));
    }
    return key.toString();
  }

  // ---- client→backend thread ----------------------------------------------------------------

  /**
   * Queues what a forwarded message expects back; waits while too many answers are outstanding.
   *
   * @param beforeWait runs (without the lock) before waiting: it must flush what was forwarded,
   *     or the answers waited for might never be asked for
   */
  void expect(Expected expected, Runnable beforeWait) {
    long chars = expected instanceof Expected.QueryDone q ? q.chars() : 0;
    lock.lock();
    try {
      // Every forwarded message passes here: the wait (and its lambda) only when the queue is full.
      if (full(chars)) awaitWhile(() -> full(chars), beforeWait);
      if (closed) throw new Closed();
      if (full(chars)) {
        // Still full: the target skips to a Sync behind this message and answers nothing until
        // then, and queuing past the limit would let a client grow the queue without end.
        throw new PostgresGatewayException("54000", "more than " + (pending.size() >= MAX_PENDING
            ? MAX_PENDING + " messages" : (MAX_HELD_CHARS >> 20) + " Mi characters of queries")
            + " wait for answers while the resource skips to a Sync after an error; the session was ended");
      }
      if (chars > 0 && !gatewayTakes(chars)) throw overGatewayBudget();
      if (expected instanceof Expected.SyncPoint) syncPoints++;
      if (expected instanceof Expected.SettingsProbe) probes++;
      if (expected instanceof Expected.SyncDone) pendingSyncs++;
      batchOpen = !(expected instanceof Expected.SyncPoint);
      queuedChars += chars;
      pending.addLast(expected);
      queuedTotal++;
    } finally {
      lock.unlock();
    }
  }

  /** Expectations ever queued; written by the client→backend thread, under the lock. */
  private long queuedTotal;
  /** {@link #queuedTotal} when the target's writer last began handing bytes to its socket. */
  private volatile long handedOff;

  /**
   * The target's writer begins to hand what was written so far to the socket (client→backend
   * thread): every message forwarded until now may reach the target; those forwarded after it, until
   * the next hand-off, are in the writer's buffer only.
   */
  void handingOff() {
    handedOff = queuedTotal;
  }

  /**
   * How many of the answers still expected, the newest, are for messages that never left the
   * target's writer (review round 45: a statement still in its buffer when a later message of the
   * same read ended the session was recorded UNKNOWN, though the target never saw it). Call when
   * the session ends, before {@link #close}, with no message being forwarded.
   */
  int neverSent() {
    lock.lock();
    try {
      return (int) Math.min(pending.size(), Math.max(0, queuedTotal - handedOff));
    } finally {
      lock.unlock();
    }
  }

  /** Under the lock: no room for an expectation holding {@code chars} of query text. */
  private boolean full(long chars) {
    return pending.size() >= MAX_PENDING || chars > 0 && queuedChars > 0 && queuedChars + chars > MAX_HELD_CHARS;
  }

  /** The number the next sync point (Sync, Query, FunctionCall) will get. */
  long nextSyncPoint() {
    lock.lock();
    try {
      return syncPoints + 1;
    } finally {
      lock.unlock();
    }
  }

  /** Records a Parse of {@code name} as pending; returns the entry its answer resolves. */
  Statement parse(String name, Analysis analysis) {
    name = serverName(name);
    lock.lock();
    try {
      if (closed) throw new Closed();
      checkRoom(statements, name);
      Statement entry = new Statement(name, Optional.of(analysis), false, syncPoints);
      if (namedChars + entry.chars > MAX_HELD_CHARS) {
        throw new PostgresGatewayException("54000", "the session's prepared statements would hold more than "
            + (MAX_HELD_CHARS >> 20) + " Mi characters of SQL text; the session was ended");
      }
      if (!gatewayTakes(entry.chars)) throw overGatewayBudget();
      namedChars += entry.chars;
      entry.previous = statements.put(name, entry);
      return entry;
    } finally {
      lock.unlock();
    }
  }

  /** Records a Close of statement {@code name} as pending. */
  Statement closeStatement(String name) {
    name = serverName(name);
    lock.lock();
    try {
      Statement entry = new Statement(name, Optional.empty(), true, syncPoints);
      entry.previous = statements.put(name, entry);
      return entry;
    } finally {
      lock.unlock();
    }
  }

  /**
   * The SQL statement {@code name} holds when a message of the current batch uses it: empty when
   * no such statement is known (never prepared here, closed, or changed by SQL). Waits while the
   * answer deciding it belongs to an earlier batch and has not arrived.
   */
  Optional<Analysis> statement(String name, Runnable beforeWait) {
    name = serverName(name);
    lock.lock();
    try {
      boolean flushed = false;
      while (true) {
        if (closed) throw new Closed();
        Statement head = statements.get(name);
        if (head != null && head.status == Statement.Status.PENDING && head.syncPoint < syncPoints && !skippingThrough()) {
          if (!flushed) {
            flushed = true;
            runUnlocked(beforeWait);
          } else {
            Blocking.aboutToBlock(); // an event-loop thread hands its loop on first
            changed.awaitUninterruptibly();
          }
          continue;
        }
        if (head == null || head.tombstone || head.tainted) return Optional.empty();
        return head.analysis;
      }
    } finally {
      lock.unlock();
    }
  }

  /** Records a Bind of {@code portal} (replacing the unnamed one, or shadowing a failed name). */
  Portal bind(String portal, String statement, Optional<Analysis> analysis) {
    return bind(portal, statement, analysis, new short[0]);
  }

  /** As above, with the result formats the Bind asked for. */
  Portal bind(String portal, String statement, Optional<Analysis> analysis, short[] resultFormats) {
    portal = serverName(portal);
    statement = serverName(statement);
    boolean settle = true; // unless the lock's holder found nothing to settle
    lock.lock();
    try {
      checkRoom(portals, portal);
      Statement source = statements.get(statement);
      // Code may have replaced a statement: the result shape a Describe of it returned may be another's.
      if (source != null && (source.tombstone || source.tainted || source.codeRan)) source = null;
      // The result-format codes it keeps count too (65,535 of them in one Bind: round 11).
      long formats = resultFormats.length;
      if (formats > 0 && (portalChars + formats > MAX_HELD_CHARS || !gatewayTakes(formats))) throw overBudget();
      Portal entry = new Portal(statement, analysis, syncPoints, resultFormats.length == 0 ? resultFormats : resultFormats.clone(), source);
      portalChars += formats;
      endedPortals.remove(portal);
      unexecuted(portals.put(portal, entry));
      settle = !unexecuted.isEmpty();
      return entry;
    } finally {
      lock.unlock();
      if (settle) settleUnexecuted();
    }
  }

  /**
   * The portal an Execute names, if it was bound through this connection's protocol; waits while
   * its Bind belongs to an earlier batch and has not been answered.
   */
  Optional<Portal> portalToExecute(String name, Runnable beforeWait) {
    name = serverName(name);
    lock.lock();
    try {
      Portal p = portals.get(name);
      if (p != null) awaitWhile(() -> p.bound == null && p.syncPoint < syncPoints, beforeWait);
      return Optional.ofNullable(p);
    } finally {
      lock.unlock();
    }
  }

  /**
   * Whether Gatehouse knows what the target's portal of this name holds: its Bind was allowed and
   * not failed or skipped (when it fails, the target keeps whatever portal had the name before),
   * and no SQL has since been able to end it and make another under its name.
   */
  static boolean known(Portal p) {
    return !p.denied && !Boolean.FALSE.equals(p.bound) && !p.forgotten;
  }

  /** A portal's Bind failed or was skipped (backend→client thread); its BindComplete is {@link #answerIf}'s. */
  void bindFailed(Portal p) {
    lock.lock();
    try {
      p.bound = false;
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** Under the lock: the portal {@code name} ended at sync point {@code at}. */
  private void ended(String name, long at) {
    if (endedPortals.size() < MAX_NAMES || endedPortals.containsKey(name)) endedPortals.put(name, at);
  }

  /**
   * A message of the batch now being forwarded may make portals Gatehouse does not follow, under
   * any name (SQL DECLARE, a statement Gatehouse could not read): no portal recorded ended is known
   * to be gone any more.
   */
  void portalsMayBeMade() {
    lock.lock();
    try {
      portalsMadeAt = syncPoints + 1;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Whether the target is known to hold no portal of this name: one bound here ended (its
   * transaction ended, or a Close closed it) and nothing since may have made another. An Execute of
   * it fails there with 34000, as Gatehouse answers it without forwarding it.
   */
  boolean portalEnded(String name) {
    name = serverName(name);
    lock.lock();
    try {
      Long at = endedPortals.get(name);
      return at != null && at > portalsMadeAt && !portals.containsKey(name);
    } finally {
      lock.unlock();
    }
  }

  /** SQL may have ended the target's portals and made others under their names (CLOSE, DECLARE, COMMIT …). */
  void forgetPortals() {
    lock.lock();
    try {
      for (Portal p : portals.values()) p.forgotten = true;
    } finally {
      lock.unlock();
    }
  }

  /** The portal an Execute names, if it was bound through this connection's protocol. */
  Optional<Portal> portal(String name) {
    name = serverName(name);
    lock.lock();
    try {
      return Optional.ofNullable(portals.get(name));
    } finally {
      lock.unlock();
    }
  }

  /** The current entry of statement {@code name}, for a Describe of it to record its answer on. */
  Optional<Statement> statementEntry(String name) {
    name = serverName(name);
    lock.lock();
    try {
      Statement s = statements.get(name);
      return s == null || s.tombstone ? Optional.empty() : Optional.of(s);
    } finally {
      lock.unlock();
    }
  }

  /**
   * The result shape of an Execute of {@code portal}, if known: from a Describe of the portal, or
   * of the statement it was bound from.
   */
  Optional<Shape> shape(Portal portal) {
    lock.lock();
    try {
      if (portal.shape != null) return Optional.of(portal.shape);
      if (portal.source != null && portal.source.shape != null) return Optional.of(portal.source.shape);
      return Optional.empty();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Waits until Gatehouse's own Describe of {@code portal} is answered (or skipped by the server);
   * returns the shape, empty when none was learnt.
   */
  Optional<Shape> awaitShape(Portal portal, Runnable beforeWait) {
    lock.lock();
    try {
      awaitWhile(() -> !portal.settled, beforeWait);
      return Optional.ofNullable(portal.shape);
    } finally {
      lock.unlock();
    }
  }

  /**
   * Waits until the target has answered everything forwarded, its ReadyForQuery included (which
   * carries the settings a statement changed: PostgreSQL reports them only there). False at once,
   * without waiting, when an extended-protocol batch is still open (the last message forwarded is
   * no sync point): only the client's Sync can close it, answered or not (after a Flush every
   * message of the batch is answered, and still no ReadyForQuery has reported the settings).
   */
  boolean awaitAllAnswered(Runnable beforeWait) {
    lock.lock();
    try {
      if (batchOpen) return false;
      awaitWhile(() -> !pending.isEmpty(), beforeWait);
      return true;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Under the lock: waits while {@code waiting} holds, for the backend→client thread to change the
   * state; {@code beforeWait} runs once first, without the lock (it flushes what the answer needs).
   * Stops waiting when the answer will never come because the target skips everything up to a
   * Sync that is not forwarded yet ({@link #skippingThrough}): the message waiting is skipped too,
   * so it does not matter what it is taken for, and only the Sync behind it ends the skip.
   */
  private void awaitWhile(BooleanSupplier waiting, Runnable beforeWait) {
    boolean flushed = false;
    while (waiting.getAsBoolean() && !skippingThrough()) {
      if (closed) throw new Closed();
      if (!flushed) {
        flushed = true;
        runUnlocked(beforeWait);
        continue;
      }
      Blocking.aboutToBlock(); // an event-loop thread hands its loop on first
      changed.awaitUninterruptibly();
    }
  }

  /** A Describe was answered (backend→client thread): remember the shape where the Describe pointed. */
  void described(Expected.DescribeDone describe, Shape shape) {
    lock.lock();
    try {
      if (closed) {
        changed.signalAll();
        return;
      }
      long w = weight(shape);
      // Held while the statement or portal is in the map; one that left it (replaced before this
      // answer came) is no longer counted, and its shape is only read by what still refers to it.
      if (describe.statement().isPresent()) {
        Statement st = describe.statement().get();
        if (!st.gone) {
          namedChars += recharge(namedChars, st.shapeChars, w);
          st.shapeChars = w;
        }
        st.shape = shape;
      }
      if (describe.portal().isPresent()) {
        Portal p = describe.portal().get();
        if (!p.gone) {
          portalChars += recharge(portalChars, p.shapeChars, w);
          p.shapeChars = w;
        }
        p.shape = shape;
        if (describe.own()) p.settled = true;
      }
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Under the lock: a description's weight goes from {@code was} to {@code now}, against a session
   * budget of which {@code used} is taken and against the gateway's; returns the change.
   */
  private long recharge(long used, long was, long now) {
    long delta = now - was;
    if (delta > 0 && (used + delta > MAX_HELD_CHARS || !gatewayTakes(delta))) throw overBudget();
    if (delta <= 0) gatewayTakes(delta);
    return delta;
  }

  /** A Describe failed or was skipped: whoever waits for its answer stops waiting. */
  void describeSettled(Expected.DescribeDone describe) {
    lock.lock();
    try {
      describe.portal().ifPresent(p -> {
        if (describe.own()) p.settled = true;
      });
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  void closePortal(String name) {
    name = serverName(name);
    lock.lock();
    try {
      unexecuted(portals.remove(name));
      ended(name, syncPoints + 1); // whatever portal had the name, the target's too (a cursor SQL declared)
    } finally {
      lock.unlock();
      settleUnexecuted();
    }
  }

  /**
   * Code Gatehouse cannot see into is about to run (red-team round 12: a DO block can run {@code
   * DEALLOCATE s1; PREPARE s1 AS …} and {@code CLOSE c; DECLARE c CURSOR FOR …}, and the target's
   * prepared statements and portals share their names with the protocol's): every named statement
   * parsed so far may hold other SQL now, and every named portal but {@code running} (the one that
   * runs the code, which it cannot close) may be another.
   */
  void codeMayRun(String running) {
    String keep = running == null ? null : serverName(running);
    lock.lock();
    try {
      portalsMadeAt = syncPoints + 1; // it may DECLARE, or OPEN a cursor under any name
      // The whole chain: a Parse still pending that fails brings its predecessor back.
      everyNamedEntry(s -> s.codeRan = true);
      for (Map.Entry<String, Portal> e : portals.entrySet()) {
        if (!e.getKey().isEmpty() && !e.getKey().equals(keep)) e.getValue().forgotten = true;
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * Waits until the target has answered {@code probe} (or failed one of its messages), or will
   * never answer it: it skips to a Sync after an earlier error, and the statement text waiting
   * behind the probe is skipped as well. False in that last case.
   */
  boolean awaitProbe(Expected.SettingsProbe probe, Runnable beforeWait) {
    lock.lock();
    try {
      awaitWhile(() -> !probe.settled(), beforeWait);
      return probe.settled();
    } finally {
      lock.unlock();
    }
  }

  /** Whether a settings probe waits for its answers (read on every answer of the target, without the lock). */
  boolean probing() {
    return probes > 0;
  }

  /** Whether code may have replaced statement {@code name} since its Parse ({@link #codeMayRun}). */
  boolean replaceableByCode(String name) {
    name = serverName(name);
    lock.lock();
    try {
      Statement head = statements.get(name);
      return head != null && head.codeRan;
    } finally {
      lock.unlock();
    }
  }

  /**
   * A forwarded SQL statement may have created or removed prepared statements by any name
   * (DEALLOCATE ALL, DISCARD ALL) or could not be read: what is known about named statements no
   * longer holds.
   */
  void forgetNamedStatements() {
    lock.lock();
    try {
      everyNamedEntry(s -> s.tainted = true);
    } finally {
      lock.unlock();
    }
  }

  /**
   * A forwarded SQL {@code PREPARE} or {@code DEALLOCATE} of {@code name} (as the parser gives it):
   * what is known of that one statement no longer holds, the entries of its pending Parses'
   * predecessors included; the others' stays (review round 20: any PREPARE made every protocol
   * statement's SQL {@code EXECUTE} opaque, out of reach of the rules on what it runs).
   */
  void forgetNamedStatement(String name) {
    name = serverName(name);
    lock.lock();
    try {
      for (Statement s = statements.get(name); s != null; s = s.previous) s.tainted = true;
    } finally {
      lock.unlock();
    }
  }

  /** Under the lock: every entry of every named statement, pending Parses' predecessors included. */
  private void everyNamedEntry(Consumer<Statement> mark) {
    for (Statement head : statements.values()) {
      if (head.name.isEmpty()) continue;
      for (Statement s = head; s != null; s = s.previous) mark.accept(s);
    }
  }

  // ---- backend→client thread ----------------------------------------------------------------

  /** The oldest unanswered expectation, or null (asked for each answer of the target: no Optional). */
  Expected first() {
    lock.lock();
    try {
      return pending.peekFirst();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Removes the oldest expectation when it is of {@code type} (its answer is complete); returns it,
   * or, when it is not of that type, the one that is oldest (or null), left in place. One lock for
   * {@link #first} and {@link #answered}.
   */
  Expected answerIf(Class<? extends Expected> type) {
    lock.lock();
    try {
      Expected head = pending.peekFirst();
      if (type.isInstance(head)) {
        popped(pending.pollFirst());
        // BindComplete: the portal is bound (under the lock taken for the answer anyway).
        if (head instanceof Expected.BindDone bind && bind.portal().isPresent()) bind.portal().get().bound = true;
        changed.signalAll();
      }
      return head;
    } finally {
      lock.unlock();
    }
  }

  /** Removes the oldest expectation: its answer is complete. */
  void answered() {
    lock.lock();
    try {
      popped(pending.pollFirst());
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /**
   * The server reported an error for an extended-protocol message: it skips everything up to Sync.
   *
   * @param cause the error's SQLSTATE, which the statements it skips are recorded with
   */
  void startSkipping(String cause) {
    lock.lock();
    try {
      skipping = true;
      skipCause = cause;
      changed.signalAll(); // a wait for an answer the target now skips ends (awaitWhile)
    } finally {
      lock.unlock();
    }
  }

  /**
   * While the server skips to Sync, removes the expectations it will never answer (everything up to
   * the next Sync, Query and FunctionCall included: a skipping server ignores them too) and hands
   * each to {@code skipped}. Stops at a Sync, or when the queue is empty (more may still come).
   */
  void drainSkipped(Consumer<Expected> skipped) {
    List<Expected> drained;
    lock.lock();
    try {
      if (!skipping) return;
      drained = new ArrayList<>();
      while (!pending.isEmpty() && !(pending.peekFirst() instanceof Expected.SyncDone)) {
        Expected e = pending.pollFirst();
        popped(e);
        drained.add(e);
      }
      changed.signalAll();
    } finally {
      lock.unlock();
    }
    drained.forEach(skipped);
  }

  /** ReadyForQuery arrived for sync point {@code number} with this transaction status. */
  void readyForQuery(long number, byte status) {
    boolean settle = true; // unless the lock's holder found nothing to settle
    lock.lock();
    try {
      skipping = false;
      transactionStatus = status;
      answeredStatus = status;
      answeredThrough = number;
      if (status == 'I') {
        // The transaction ended: every portal bound before this sync point is gone with it.
        if (!portals.isEmpty()) {
          portals.entrySet().removeIf(e -> {
            Portal p = e.getValue();
            if (p.syncPoint >= number) return false;
            unexecuted(p);
            // Unless SQL or code may have made another portal of its name since its Bind (a WITH
            // HOLD cursor outlives the commit).
            if (portalsMadeAt <= p.syncPoint) ended(e.getKey(), number);
            return true;
          });
        }
      }
      changed.signalAll();
      settle = !unexecuted.isEmpty();
    } finally {
      lock.unlock();
      if (settle) settleUnexecuted();
    }
  }

  /**
   * Whether the ReadyForQuery of sync point {@code number} has come: the settings it reported were
   * as Gatehouse reads SQL. Client→backend thread, without the lock.
   */
  boolean answered(long number) {
    return answeredThrough >= number;
  }

  /**
   * Whether every sync point forwarded is answered and the last answer said the transaction is
   * aborted (status {@code E}): until a statement that ends it runs, the target refuses every
   * message with {@code 25P02} before it parses, analyses, binds or describes anything, so no code
   * runs. Client→backend thread (the only one that counts sync points), without the lock.
   */
  boolean abortedAndAnswered() {
    return answeredThrough == syncPoints && answeredStatus == 'E';
  }

  byte transactionStatus() {
    lock.lock();
    try {
      return transactionStatus;
    } finally {
      lock.unlock();
    }
  }

  /** The target answered a Parse or Close: the name now is what the entry says. */
  void confirm(Statement entry) {
    lock.lock();
    try {
      entry.status = Statement.Status.CONFIRMED;
      for (Statement shadowed = entry.previous; shadowed != null; shadowed = shadowed.previous) dropped(shadowed);
      entry.previous = null;
      if (entry.tombstone && statements.get(entry.name) == entry) statements.remove(entry.name);
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** A Parse or Close failed or was skipped: the name is what it was before that message. */
  void reject(Statement entry) {
    lock.lock();
    try {
      entry.status = Statement.Status.FAILED;
      dropped(entry);
      Statement head = statements.get(entry.name);
      if (head == entry) {
        if (entry.previous == null) statements.remove(entry.name);
        else statements.put(entry.name, entry.previous);
      } else {
        for (Statement s = head; s != null; s = s.previous) {
          if (s.previous == entry) {
            s.previous = entry.previous;
            break;
          }
        }
      }
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /**
   * The target answered CopyInResponse to the oldest expectation: it now reads COPY data. False
   * when that expectation was not forwarded as a COPY (Gatehouse and the target disagree about
   * what is running: the caller ends the session).
   */
  boolean copyInStarted() {
    lock.lock();
    try {
      Expected head = pending.peekFirst();
      if (head == null || copies.peekFirst() != head) return false;
      if (head == copyStatement) {
        copyIn = CopyIn.ACTIVE;
        changed.signalAll();
      }
      return true;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Under the lock: the target skips to a Sync and none is queued: whatever is forwarded now is
   * skipped, and nothing queued since the skip began will be answered before another Sync comes.
   */
  private boolean skippingThrough() {
    return skipping && pendingSyncs == 0;
  }

  /**
   * The SQLSTATE of the error for which the target skips to a Sync the client has not sent yet
   * ({@link #skippingThrough}); empty when it does not.
   */
  Optional<String> skippedFor() {
    lock.lock();
    try {
      return skippingThrough() ? Optional.of(skipCause) : Optional.empty();
    } finally {
      lock.unlock();
    }
  }

  /** Under the lock: an expectation left the queue; a COPY it was resolves as over (or never begun). */
  private void popped(Expected e) {
    if (e instanceof Expected.SettingsProbe) probes--;
    if (e instanceof Expected.SyncDone) pendingSyncs--;
    if (e instanceof Expected.QueryDone q && q.chars() > 0) {
      queuedChars -= q.chars();
      gatewayTakes(-q.chars());
    }
    if (copies.isEmpty() || copies.peekFirst() != e) return;
    copies.pollFirst();
    if (e == copyStatement) noCopy();
  }

  /** Under the lock: the target reads no COPY data the client's next message could be taken for. */
  private void noCopy() {
    copyStatement = null;
    copyIn = CopyIn.NONE;
    copyPossible = false;
  }

  // ---- client→backend thread: COPY FROM STDIN ---------------------------------------------------

  /**
   * {@code copy} (a Query or an Execute holding a COPY statement) is about to be forwarded: the
   * target may answer it with CopyInResponse. Call before it is queued and sent.
   */
  void copyMayStart(Expected copy) {
    lock.lock();
    try {
      copies.addLast(copy);
      copyStatement = copy;
      copyIn = CopyIn.PENDING;
      copyPossible = true;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Whether the target reads COPY data now, as far as the client's next message is concerned:
   * while it has not said yet, waits for it to (after {@code beforeWait}, which must flush what was
   * forwarded). Never {@link CopyIn#PENDING}.
   */
  CopyIn copyIn(Runnable beforeWait) {
    if (!copyPossible) return CopyIn.NONE;
    lock.lock();
    try {
      awaitWhile(() -> copyIn == CopyIn.PENDING, beforeWait);
      if (copyIn == CopyIn.PENDING) noCopy(); // the target skips the COPY (and will answer nothing for it)
      return copyIn;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Whether the target reads COPY data that the client has not ended: it answered CopyInResponse,
   * and no CopyDone or CopyFail has been forwarded (the client side marks the end before it writes
   * one). The target takes messages in order, so nothing forwarded since can have run, nor can the
   * COPY complete: a session ending now ends all of it undone (review round 45: recorded UNKNOWN).
   */
  boolean copyingIn() {
    if (!copyPossible) return false;
    lock.lock();
    try {
      return copyIn == CopyIn.ACTIVE;
    } finally {
      lock.unlock();
    }
  }

  /**
   * The client sent CopyDone or CopyFail: a target reading COPY data stops with it, one that is not
   * drops it; either way, what follows means what it says.
   */
  void copyEnded() {
    if (!copyPossible) return;
    lock.lock();
    try {
      noCopy();
    } finally {
      lock.unlock();
    }
  }

  // ---- both ------------------------------------------------------------------------------------

  /**
   * The session is ending: waiters wake up and give up, nothing more may be expected.
   *
   * @return whether answers were still expected (work forwarded to the target, maybe running)
   */
  boolean shutdown() {
    lock.lock();
    try {
      closed = true;
      changed.signalAll();
      return !pending.isEmpty();
    } finally {
      lock.unlock();
    }
  }

  /** Whether the session is ending ({@link #shutdown}) or over. */
  boolean ending() {
    lock.lock();
    try {
      return closed;
    } finally {
      lock.unlock();
    }
  }

  /** Ends the state for good; returns what was still expected, for the caller to settle. */
  List<Expected> close() {
    lock.lock();
    try {
      closed = true;
      List<Expected> left = new ArrayList<>(pending);
      pending.clear();
      pendingSyncs = 0;
      probes = 0;
      copies.clear();
      portals.values().forEach(this::unexecuted);
      portals.clear();
      // What the session still held leaves the gateway's count with it.
      gatewayTakes(-(namedChars + queuedChars + portalChars));
      namedChars = 0;
      queuedChars = 0;
      portalChars = 0;
      changed.signalAll();
      return left;
    } finally {
      lock.unlock();
      settleUnexecuted();
    }
  }

  private void runUnlocked(Runnable action) {
    lock.unlock();
    try {
      action.run();
    } finally {
      lock.lock();
    }
  }

  private static void checkRoom(Map<String, ?> names, String name) {
    if (names.size() >= MAX_NAMES && !names.containsKey(name)) {
      throw new PostgresGatewayException("54000",
          "too many prepared statements or portals in one session (the limit is " + MAX_NAMES + ")");
    }
  }

  /** The session's statements or portals would hold more than their budget, or the gateway more than its own. */
  private static PostgresGatewayException overBudget() {
    return new PostgresGatewayException("54000", "the session's prepared statements or portals would hold more than "
        + (MAX_HELD_CHARS >> 20) + " Mi characters of SQL text and result descriptions, or the gateway more than it"
        + " allows; the session was ended");
  }
}
