package dev.gatehouse.audit;

import dev.gatehouse.core.AuditUnavailableException;
import dev.gatehouse.core.Blocking;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This node's chain: sealed and journaled on the caller's thread, indexed into the store in the
 * background.
 *
 * <p><b>On the statement path</b> ({@link #append}): under one lock, the event gets its seq and
 * the previous event's hash, its canonical bytes are hashed and copied into the {@link AuditJournal}
 * (a memory-mapped file: no system call), and it joins the backlog for the store. No other thread is
 * involved, so a statement waits for nothing but that copy (and, with {@link Durability#MACHINE},
 * a shared fsync). The lock also makes the journal's order the chain's order.
 *
 * <p><b>In the background</b> ({@link #run}, one platform thread, since the SQLite driver is native
 * code that would pin a virtual thread's carrier): every {@link AuditConfig#indexInterval()}, or
 * sooner when a full batch waits, the backlog is appended to the store in batches of up to {@link
 * AuditConfig#maxBatch()}, each batch in one transaction, with a signed checkpoint when one is due;
 * journal segments whose events are all stored are deleted, and the next segment is preallocated
 * before the tail fills ({@link AuditJournal#prepareNext}). Large batches are what make the store
 * cheap: a commit rewrites each index page it touches once, whatever the number of rows.
 *
 * <p><b>Failures.</b> A journal append that fails (no new segment could be preallocated: a full
 * disk) leaves nothing behind and the event is not part of the chain: a durable caller gets {@link AuditUnavailableException} (its command is refused), an
 * outcome is counted as lost and recorded as an {@link EventType#EVENTS_LOST} event. A store
 * append that fails is retried (after asking the store how far it got, in case only the
 * acknowledgement was lost) with back-off; meanwhile durable calls are refused, because the store
 * cannot take their events, and the chain stays unbroken in the journal. The backlog is bounded by
 * {@link AuditConfig#queueCapacity()}: when it is full, callers wait for room (back-pressure) up to
 * {@link AuditConfig#durableTimeout()}, and are then refused instead of buffering more.
 */
final class ChainWriter implements Runnable {
  private static final Logger LOG = LoggerFactory.getLogger(ChainWriter.class);
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final long MAX_BACKOFF_NANOS = TimeUnit.SECONDS.toNanos(2);

  private final AuditStore store;
  private final AuditConfig config;
  private final AuditSigner signer;
  private final Clock clock;
  private final AuditJournal journal;
  private final boolean fsync;
  private final String chainId;
  /** This node's local witness ({@link Witness#localFile}): its newest stored checkpoint, outside the store. */
  private final Path witnessFile;
  /** Set while writing the local witness fails, so the log says so once, not at every checkpoint. */
  private boolean witnessFailing;
  /** What each event's hash covers before its bytes: the chain id ({@link CanonicalEncoding#chainPrefix}). */
  private final byte[] chainPrefix;

  private final ReentrantLock lock = new ReentrantLock();
  /** Signalled when the indexer has stored a batch: room in the backlog. */
  private final java.util.concurrent.locks.Condition room = lock.newCondition();
  // Under lock: the chain's head and the events not yet handed to the indexer.
  private long seq;
  private String head = AuditEvent.GENESIS;
  /** The head's hash as bytes, as the next event's bytes hold it. */
  private byte[] headBytes = new byte[32];
  private Journaled backlog = new Journaled(16);
  private final java.security.MessageDigest sha256 = CanonicalEncoding.sha256();
  private long lostPending;
  /** Set under the lock, after the chain's last event: nothing more is taken. */
  private volatile boolean closed;

  private final AtomicLong unindexed = new AtomicLong();
  // Machine durability: callers waiting for the store, woken after each committed batch.
  private final ReentrantLock storedLock = new ReentrantLock();
  private final java.util.concurrent.locks.Condition stored = storedLock.newCondition();
  private final java.util.concurrent.atomic.AtomicInteger storeWaiters = new java.util.concurrent.atomic.AtomicInteger();
  private final AtomicLong lostTotal = new AtomicLong();
  private volatile long indexedSeq;
  private volatile RuntimeException storeFailure;
  private volatile boolean journalBroken;
  /**
   * Why the last write to the journal failed while the journal stays open (a new segment finds no
   * room on its disk), or null once a write succeeded again: readiness reports it (review round 44:
   * every statement was refused and {@code /readyz} said ok).
   */
  private volatile String journalFailing;
  private volatile Thread indexer;
  /** System.nanoTime() when the indexer last had nothing waiting or stored a batch: a stall's start. */
  private volatile long progressNanos = System.nanoTime();

  /**
   * Events with their canonical bytes as journaled (the store keeps them without encoding the events
   * again), in two lists the store takes as they are: no object per event, no copy per batch.
   */
  private static final class Journaled {
    final ArrayList<AuditEvent> events;
    final ArrayList<byte[]> canonical;
    /** Each event's hash as its 32 bytes. */
    final ArrayList<byte[]> hashes;

    Journaled(int capacity) {
      events = new ArrayList<>(capacity);
      canonical = new ArrayList<>(capacity);
      hashes = new ArrayList<>(capacity);
    }

    void add(AuditEvent e, byte[] bytes, byte[] hash) {
      events.add(e);
      canonical.add(bytes);
      hashes.add(hash);
    }

    int size() {
      return events.size();
    }

    boolean isEmpty() {
      return events.isEmpty();
    }

    void addAll(Journaled other) {
      events.addAll(other.events);
      canonical.addAll(other.canonical);
      hashes.addAll(other.hashes);
    }

    void removeFirst(int n) {
      events.subList(0, n).clear();
      canonical.subList(0, n).clear();
      hashes.subList(0, n).clear();
    }
  }

  // Indexer-thread state.
  private Journaled pending = new Journaled(16);
  private long lastCheckpointSeq;
  private long uncheckpointed;
  private Instant oldestUncheckpointed;
  private long backoffNanos;
  private String lastIndexedHash = AuditEvent.GENESIS;
  private long closingSince;
  /** Set once by {@link #open}. */
  private List<CutOff> cutOff = List.of();

  private ChainWriter(AuditStore store, AuditConfig config, AuditSigner signer, Clock clock, AuditJournal journal,
      String chainId) {
    this.store = store;
    this.config = config;
    this.signer = signer;
    this.clock = clock;
    this.journal = journal;
    this.chainId = chainId;
    this.chainPrefix = CanonicalEncoding.chainPrefix(chainId);
    this.fsync = store.durability() == Durability.MACHINE;
    this.witnessFile = Witness.localFile(config.journalDir(), config.nodeId());
  }

  /**
   * Recovers what a previous process of this node left in the journal, then opens a new chain whose
   * first event names the node's previous chain. The caller starts {@link #run} on a thread.
   */
  static ChainWriter open(AuditStore store, AuditConfig config, AuditSigner signer, Clock clock) {
    AuditJournal.NodeLock node;
    try {
      node = AuditJournal.lockNode(config.journalDir(), config.nodeId());
    } catch (IOException e) {
      throw new AuditUnavailableException("cannot open the audit journal: " + e.getMessage(), e);
    }
    try {
      Recovery recovered = recover(store, node.dir(), Optional.of(signer), clock);
      Optional<Predecessor> previous = previousChain(store, config.nodeId(), node.dir().resolve(Witness.LOCAL_FILE), signer)
          .map(p -> p.last() ? signTail(store, p.named(), recovered.ends(), signer, clock, node.dir()) : p);
      byte[] start = new byte[8];
      RANDOM.nextBytes(start);
      String chainId = config.nodeId() + ":" + HexFormat.of().formatHex(start);
      AuditJournal journal = AuditJournal.create(node, chainId, store.durability() == Durability.MACHINE);
      ChainWriter w = new ChainWriter(store, config, signer, clock, journal, chainId);
      w.cutOff = recovered.cutOff();
      w.append(w.chainStarted(previous), true);
      return w;
    } catch (IOException e) {
      node.close();
      throw new AuditUnavailableException("cannot open the audit journal: " + e.getMessage(), e);
    } catch (RuntimeException e) {
      node.close();
      throw e;
    }
  }

  void bind(Thread thread) {
    this.indexer = thread;
  }

  /**
   * What a new chain names as its predecessor: a checkpoint of the node's previous chain, and whether
   * it is that chain's last event ({@link ChainAttributes#PREVIOUS_LAST}), so that {@code gatehouse
   * audit verify} reports events found after it as added later.
   */
  private record Predecessor(SignedCheckpoint named, boolean last) {}

  /**
   * What the node's new chain names as its predecessor: the newest checkpoint the store holds of the
   * node, unless the local witness file (written after each stored checkpoint, outside the store)
   * names a newer one that the store no longer holds, or whose checkpoint it no longer holds: then
   * someone cut the store, and the new chain names the witnessed checkpoint (not as the chain's last
   * event: what followed it is lost), so that {@code gatehouse audit verify} reports the cut chain
   * as truncated instead of the new chain vouching for what is left. A witness file that does not
   * verify with this gateway's key is not trusted.
   */
  private static Optional<Predecessor> previousChain(AuditStore store, String nodeId, Path witnessFile, AuditSigner signer) {
    Optional<SignedCheckpoint> stored;
    try {
      stored = store.latestCheckpoint(nodeId);
    } catch (RuntimeException e) {
      LOG.warn("cannot find the previous audit chain of node {}; the new chain will not name it: {}", nodeId, e.toString());
      stored = Optional.empty();
    }
    Optional<Predecessor> fromStore = stored.map(c -> new Predecessor(c, true));
    Optional<SignedCheckpoint> local = localWitness(witnessFile, signer);
    if (local.isEmpty()) return fromStore;
    SignedCheckpoint w = local.get();
    Optional<Predecessor> witnessed = Optional.of(new Predecessor(w, false));
    if (stored.isPresent() && stored.get().chainId().equals(w.chainId()) && stored.get().seq() >= w.seq()) return fromStore;
    boolean held;
    long storeEnd;
    try {
      held = store.find(AuditEvent.id(w.chainId(), w.seq())).map(e -> e.hash().equals(w.hash())).orElse(false);
      storeEnd = store.lastSeq(w.chainId()).orElse(0);
    } catch (RuntimeException e) {
      LOG.warn("cannot compare the audit store with the local witness {}: {}", witnessFile, e.toString());
      return stored.isPresent() ? fromStore : witnessed;
    }
    if (!held) {
      LOG.error("the audit store lost events: this node's last signed checkpoint, chain {} seq {} (kept in {}), is not in the "
          + "store, which holds that chain up to seq {}; the new chain names it as its predecessor, so `gatehouse audit verify` "
          + "reports the loss", w.chainId(), w.seq(), witnessFile, storeEnd);
      return witnessed;
    }
    boolean storeOlder = stored.isEmpty() || (stored.get().chainId().equals(w.chainId())
        ? stored.get().seq() < w.seq() : stored.get().time().isBefore(w.time()));
    if (storeOlder) {
      LOG.error("the audit store lost signed checkpoints: this node's last one, chain {} seq {} (kept in {}), is not in the "
          + "store; the new chain names it as its predecessor", w.chainId(), w.seq(), witnessFile);
      return witnessed;
    }
    return fromStore; // newer than the file: the file's last rewrite failed
  }

  /**
   * The previous chain's last event, signed: after a crash, the store may hold events of the previous
   * chain after its newest checkpoint that no journal held at this start (the indexer stored them
   * and the journal went: an earlier version's {@code gatehouse audit} command stored the journal
   * and deleted it, or someone removed it). Unsigned, they could be deleted, rewritten or added to
   * without a trace (red-team round 18b), so this node signs them as the store holds them, and the
   * new chain names that last event. Not after a clean close (what follows it is not this node's),
   * and not for a chain recovery just signed from its journal ({@code journaled}: the journal, not
   * the store, says where that chain ends, and the checkpoint signed there is named, whatever the
   * store's clock order of checkpoints). When the store cannot be read, the checkpoint is named
   * as it is, not as the chain's end.
   */
  private static Predecessor signTail(AuditStore store, SignedCheckpoint named, Map<String, SignedCheckpoint> journaled,
      AuditSigner signer, Clock clock, Path nodeDir) {
    SignedCheckpoint end = journaled.get(named.chainId());
    if (end != null) return new Predecessor(end, true);
    try {
      long last = store.lastSeq(named.chainId()).orElse(0);
      if (last <= named.seq()) return new Predecessor(named, true);
      Optional<AuditEvent> at = store.find(AuditEvent.id(named.chainId(), named.seq()));
      Optional<AuditEvent> tail = store.find(AuditEvent.id(named.chainId(), last));
      if ((at.isPresent() && at.get().type() == EventType.CHAIN_CLOSED) || tail.isEmpty()) return new Predecessor(named, true);
      SignedCheckpoint cp = SignedCheckpoint.sign(signer, named.chainId(), last, tail.get().hash(), clock.instant());
      store.append(List.of(), Optional.of(cp));
      LOG.warn("the audit store holds events {}..{} of this node's previous chain {} after its last signed checkpoint, and "
          + "no journal holds them (stored by an earlier `gatehouse audit` command, or the journal was removed): signed as "
          + "the store holds them", named.seq() + 1, last, named.chainId());
      witnessed(cp, nodeDir, store.durability() == Durability.MACHINE);
      return new Predecessor(cp, true);
    } catch (RuntimeException e) {
      LOG.warn("cannot sign the end of the previous audit chain {}: {}", named.chainId(), e.toString());
      return new Predecessor(named, false);
    }
  }

  /** A checkpoint signed at start, stored: logged and written to the local witness, as the indexer does. */
  private static void witnessed(SignedCheckpoint cp, Path nodeDir, boolean sync) {
    LOG.info("{}", Witness.line(cp));
    try {
      Witness.writeLocal(nodeDir.resolve(Witness.LOCAL_FILE), cp, sync);
    } catch (IOException e) {
      LOG.warn("cannot write the local audit witness in {}: {}", nodeDir, e.toString());
    }
  }

  /** The checkpoint in the local witness file, if it exists and verifies with this gateway's key. */
  private static Optional<SignedCheckpoint> localWitness(Path file, AuditSigner signer) {
    if (!Files.isRegularFile(file)) return Optional.empty();
    List<Witness> read;
    try {
      read = Witness.read(file);
    } catch (AuditException e) {
      LOG.error("{}; the store is not checked against it", e.getMessage());
      return Optional.empty();
    }
    if (read.isEmpty()) {
      LOG.error("the local audit witness {} holds no checkpoint (altered or damaged); the store is not checked against it", file);
      return Optional.empty();
    }
    SignedCheckpoint c = read.getFirst().checkpoint();
    if (!c.keyId().equals(signer.keyId()) || !c.verifiedBy(signer.publicKey())) {
      LOG.error("the local audit witness {} is not validly signed by this gateway's key {} (altered, forged, or signed by an "
          + "earlier key); it is not trusted", file, signer.keyId());
      return Optional.empty();
    }
    return Optional.of(c);
  }

  private EventBody chainStarted(Optional<Predecessor> previous) {
    Instant now = clock.instant();
    Map<String, String> attrs = new TreeMap<>();
    attrs.put(ChainAttributes.NODE, config.nodeId());
    attrs.put(ChainAttributes.STARTED, now.toString());
    attrs.put(ChainAttributes.KEY_ID, signer.keyId());
    attrs.put(ChainAttributes.CHECKPOINT_EVENTS, Integer.toString(config.checkpointEvents()));
    attrs.put(ChainAttributes.CHECKPOINT_INTERVAL_MS, Long.toString(config.checkpointInterval().toMillis()));
    previous.ifPresent(p -> {
      attrs.put(ChainAttributes.PREVIOUS_CHAIN, p.named().chainId());
      attrs.put(ChainAttributes.PREVIOUS_SEQ, Long.toString(p.named().seq()));
      attrs.put(ChainAttributes.PREVIOUS_HASH, p.named().hash());
      if (p.last()) attrs.put(ChainAttributes.PREVIOUS_LAST, "true");
    });
    return EventBody.of(EventType.CHAIN_STARTED, now, attrs);
  }

  /**
   * Seals the event into the chain and writes it to the journal; returns its id once the journal
   * holds it (and, with machine durability, once it is on stable storage). A durable event that
   * cannot be recorded throws {@link AuditUnavailableException}; an outcome (not durable) that
   * cannot be recorded is counted as lost and returns empty.
   */
  Optional<String> append(EventBody body, boolean durable) {
    // Encoded before the lock: under it only the seq and previous hash are written, then hashed and copied.
    CanonicalEncoding.Unplaced unplaced = CanonicalEncoding.unplaced(body);
    String id;
    long mySeq;
    long ticket;
    boolean wake;
    lock.lock();
    try {
      awaitRoom();
      String refusal = refusal(durable);
      if (refusal != null) {
        if (durable) throw new AuditUnavailableException(refusal, storeFailure);
        lostPending++;
        lostTotal.incrementAndGet();
        return Optional.empty();
      }
      if (lostPending > 0) {
        journalLocked(EventBody.of(EventType.EVENTS_LOST, clock.instant(), Map.of("count", Long.toString(lostPending))));
        lostPending = 0;
      }
      AuditEvent sealed = journalLocked(body, unplaced);
      if (journalFailing != null) journalFailing = null;
      id = sealed.id();
      mySeq = sealed.seq();
      ticket = journal.written();
      wake = backlog.size() == config.maxBatch();
    } catch (IOException e) {
      journalBroken = !journal.isOpen();
      if (journalFailing == null) LOG.error("cannot write the audit journal, so statements are refused: {}", e.toString());
      else LOG.warn("cannot write the audit journal: {}", e.toString());
      journalFailing = e.getMessage() == null ? e.toString() : e.getMessage();
      if (durable) throw new AuditUnavailableException("cannot write the audit journal: " + e.getMessage(), e);
      lostPending++;
      lostTotal.incrementAndGet();
      return Optional.empty();
    } finally {
      lock.unlock();
    }
    if (wake) LockSupport.unpark(indexer);
    if (fsync) {
      Blocking.aboutToBlock(); // a sync of the journal, then the store's commit
      try {
        journal.sync(ticket);
      } catch (IOException e) {
        journalBroken = true;
        if (durable) throw new AuditUnavailableException("cannot flush the audit journal to disk: " + e.getMessage(), e);
      }
      // Machine durability also means the store: a gateway host lost for good (a terminated cloud
      // instance) takes its journal with it, so the statement waits until its batch is committed.
      if (durable && indexer != null) awaitStored(mySeq); // (the chain start is journaled before the indexer runs)
    }
    return Optional.of(id);
  }

  /**
   * Back-pressure: while {@link AuditConfig#queueCapacity()} events wait for the store, waits (up to
   * {@link AuditConfig#durableTimeout()}) for the indexer to make room, so a burst slows statements
   * down instead of refusing them; {@link #refusal} refuses what still finds no room. Under lock.
   */
  private void awaitRoom() {
    if (unindexed.get() < config.queueCapacity()) return;
    long left = config.durableTimeout().toNanos();
    while (unindexed.get() >= config.queueCapacity() && left > 0 && !closed && storeFailure == null) {
      wake();
      Blocking.aboutToBlock();
      try {
        left = room.awaitNanos(left);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  /**
   * Waits until the store holds the event with seq {@code target} (group commit: every caller
   * waiting at the same moment shares the indexer's next transaction). Throws {@link
   * AuditUnavailableException} when the store fails or does not commit within the durable timeout;
   * the event stays in the journal then (the log may over-report a refused command, never
   * under-report).
   */
  private void awaitStored(long target) {
    long deadline = System.nanoTime() + config.durableTimeout().toNanos();
    storeWaiters.incrementAndGet();
    try {
      while (indexedSeq < target) {
        RuntimeException failure = storeFailure;
        if (failure != null) throw new AuditUnavailableException("the audit store failed: " + failure.getMessage(), failure);
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw new AuditUnavailableException("the audit store did not commit the event within "
              + config.durableTimeout().toMillis() + " ms", null);
        }
        wake();
        Blocking.aboutToBlock();
        storedLock.lock();
        try {
          if (indexedSeq < target) stored.awaitNanos(Math.min(left, TimeUnit.MILLISECONDS.toNanos(10)));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new AuditUnavailableException("interrupted while waiting for the audit store", e);
        } finally {
          storedLock.unlock();
        }
      }
    } finally {
      storeWaiters.decrementAndGet();
    }
  }

  /** Why an event cannot be taken now, or null. Under lock. */
  private String refusal(boolean durable) {
    if (closed) return "the audit log is shut down, so nothing more can be audited";
    if (journalBroken || !journal.isOpen()) return "the audit journal cannot be written";
    if (durable && storeFailure != null) return "the audit store failed: " + storeFailure.getMessage();
    if (unindexed.get() >= config.queueCapacity()) {
      return "the audit queue is full (" + config.queueCapacity() + " events wait for the store); refusing rather than buffering more";
    }
    return null;
  }

  private AuditEvent journalLocked(EventBody body) throws IOException {
    return journalLocked(body, CanonicalEncoding.unplaced(body));
  }

  /** Gives the event the next place in the chain and journals it. Under lock. */
  private AuditEvent journalLocked(EventBody body, CanonicalEncoding.Unplaced unplaced) throws IOException {
    long next = seq + 1;
    CanonicalEncoding.place(unplaced, next, headBytes);
    byte[] canonical = unplaced.bytes();
    journal.append(next, canonical, canonical.length);
    byte[] hash = CanonicalEncoding.digestV2(sha256, chainPrefix, canonical);
    AuditEvent e = new AuditEvent(chainId, next, head, body, HexFormat.of().formatHex(hash), CanonicalEncoding.FORMAT_V2);
    seq = next;
    head = e.hash();
    headBytes = hash;
    backlog.add(e, canonical, hash);
    unindexed.incrementAndGet();
    return e;
  }

  String chainId() {
    return chainId;
  }

  boolean available() {
    return storeFailure == null && !journalBroken && journalFailing == null && !closed;
  }

  /** Why the last write to the journal failed, while it is not written again ({@link #journalFailing}). */
  Optional<String> journalFailure() {
    return Optional.ofNullable(journalFailing);
  }

  long lost() {
    return lostTotal.get();
  }

  /** Events journaled but not yet in the store. */
  long unindexed() {
    return unindexed.get();
  }

  /**
   * How long the indexer has gone without storing anything while events waited for the store (zero
   * when nothing waits): a store that hangs without failing, or an indexer that no longer runs, shows
   * here and nowhere else until the backlog fills and statements are refused.
   */
  Duration stalledFor() {
    if (unindexed.get() == 0) return Duration.ZERO;
    return Duration.ofNanos(Math.max(0, System.nanoTime() - progressNanos));
  }

  /** The seq of the newest event sealed so far. */
  long head() {
    lock.lock();
    try {
      return seq;
    } finally {
      lock.unlock();
    }
  }

  long indexedSeq() {
    return indexedSeq;
  }

  Optional<RuntimeException> storeFailure() {
    return Optional.ofNullable(storeFailure);
  }

  void wake() {
    Thread t = indexer;
    if (t != null) LockSupport.unpark(t);
  }

  /** Closes the chain (a last event and a final checkpoint) and tells the indexer to finish. */
  void shutdown() {
    lock.lock();
    try {
      if (closed) return;
      try {
        journalLocked(EventBody.of(EventType.CHAIN_CLOSED, clock.instant(), Map.of()));
      } catch (IOException e) {
        LOG.warn("cannot journal the end of audit chain {}: {}", chainId, e.toString());
      }
      closed = true;
    } finally {
      lock.unlock();
    }
    wake();
  }

  /** After the indexer stopped: removes the journal when the store holds all of it. */
  void closeJournal() {
    boolean complete = unindexed.get() == 0;
    journal.close(complete);
    if (!complete) {
      LOG.warn("{} audit events of chain {} are not in the store yet; they stay in the journal and are stored at the next start",
          unindexed.get(), chainId);
    }
  }

  @Override
  public void run() {
    while (true) {
      boolean last = closed; // read before take(): the chain's last event is in the backlog by then
      try {
        take();
        if (pending.isEmpty()) progressNanos = System.nanoTime();
        // The last round may find nothing pending: the chain's last event came with the previous
        // round's take() (closed was set just after that round read it), stored without the final
        // checkpoint; it is signed now, over what is stored.
        if (!pending.isEmpty() || checkpointDue(clock.instant()) || (last && indexedSeq > lastCheckpointSeq)) index(last);
        journal.prepareNext();
        journal.populateAhead();
      } catch (VirtualMachineError e) {
        // Out of memory, most likely because of what some session holds: the indexer must outlive
        // it (red-team round 10: it died, the store froze, and every login was refused). What is
        // pending stays in the journal and is taken again on the next round.
        LOG.error("audit indexer: {}; retrying", e.toString());
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(100));
      }
      if (last && (pending.isEmpty() || givenUp())) break;
      LockSupport.parkNanos(sleepNanos());
    }
  }

  /** At shutdown the indexer keeps retrying a failing store for twice the durable timeout, then leaves the rest in the journal. */
  private boolean givenUp() {
    if (closingSince == 0) closingSince = System.nanoTime();
    return System.nanoTime() - closingSince > config.durableTimeout().multipliedBy(2).toNanos();
  }

  /**
   * Moves the backlog to what is pending. When nothing is pending, the two swap: the backlog's lists
   * become pending as they are, and pending's empty ones (with the room the last batch needed) the
   * backlog.
   */
  private void take() {
    lock.lock();
    try {
      if (backlog.isEmpty()) return;
      if (pending.isEmpty()) {
        Journaled empty = pending;
        pending = backlog;
        backlog = empty;
      } else {
        pending.addAll(backlog);
        backlog = new Journaled(Math.max(16, backlog.size()));
      }
    } finally {
      lock.unlock();
    }
  }

  private long sleepNanos() {
    if (storeFailure != null) return backoffNanos;
    if (storeWaiters.get() > 0) return 1; // callers wait for the store: index what arrives at once
    long nanos = config.indexInterval().toNanos();
    if (oldestUncheckpointed != null) {
      long due = Duration.between(clock.instant(), oldestUncheckpointed.plus(config.checkpointInterval())).toNanos();
      nanos = Math.min(nanos, Math.max(0, due));
    }
    return Math.max(nanos, 1);
  }

  private boolean checkpointDue(Instant now) {
    return oldestUncheckpointed != null && !now.isBefore(oldestUncheckpointed.plus(config.checkpointInterval()));
  }

  /** Stores what is pending, batch by batch, until done or the store fails. */
  private void index(boolean last) {
    if (storeFailure != null) dropStored();
    do {
      int n = Math.min(pending.size(), config.maxBatch());
      // Views of what is pending, removed from it once stored.
      List<AuditEvent> batch = pending.events.subList(0, n);
      List<byte[]> canonical = pending.canonical.subList(0, n);
      List<byte[]> hashes = pending.hashes.subList(0, n);
      boolean finalBatch = n == pending.size();
      Instant now = clock.instant();
      long tip = batch.isEmpty() ? indexedSeq : batch.getLast().seq();
      boolean checkpoint = tip > lastCheckpointSeq && (lastCheckpointSeq == 0
          || (last && finalBatch)
          || uncheckpointed + n >= config.checkpointEvents()
          || checkpointDue(now));
      if (batch.isEmpty() && !checkpoint) return;
      String tipHash = batch.isEmpty() ? null : batch.getLast().hash();
      Optional<SignedCheckpoint> cp = checkpoint
          ? Optional.of(SignedCheckpoint.sign(signer, chainId, tip, tipHash != null ? tipHash : lastIndexedHash, now))
          : Optional.empty();
      try {
        store.append(batch, canonical, hashes, cp);
      } catch (RuntimeException | VirtualMachineError e) {
        // VirtualMachineError: the heap ran out (another session's doing, most likely); the batch
        // stays pending and is retried like any failed append, and the indexer lives on.
        if (storeFailure == null) {
          LOG.error("audit store append failed, so statements are refused; {} events wait in the journal and are retried: {}",
              pending.size(), e.toString());
        }
        storeFailure = e instanceof RuntimeException r ? r : new IllegalStateException("audit store append failed: " + e, e);
        signalStoreWaiters();
        backoffNanos = Math.min(MAX_BACKOFF_NANOS, Math.max(TimeUnit.MILLISECONDS.toNanos(50), backoffNanos * 2));
        return;
      }
      if (storeFailure != null) LOG.info("audit store is back; chain {} continues", chainId);
      storeFailure = null;
      backoffNanos = 0;
      stored(batch, cp, now);
      pending.removeFirst(n);
    } while (!pending.isEmpty());
  }

  private void stored(List<AuditEvent> batch, Optional<SignedCheckpoint> cp, Instant now) {
    progressNanos = System.nanoTime();
    if (!batch.isEmpty()) {
      indexedSeq = batch.getLast().seq();
      lastIndexedHash = batch.getLast().hash();
      if (unindexed.getAndAdd(-batch.size()) >= config.queueCapacity()) {
        lock.lock();
        try {
          room.signalAll();
        } finally {
          lock.unlock();
        }
      }
    }
    if (!batch.isEmpty()) signalStoreWaiters();
    if (cp.isPresent()) {
      uncheckpointed = 0;
      oldestUncheckpointed = null;
      lastCheckpointSeq = cp.get().seq();
      SignedCheckpoint c = cp.get();
      // Witnesses outside the store: a log shipped elsewhere, and the local file, anchor the chain
      // even if someone with write access to the store deletes its newest events and checkpoints.
      LOG.info("{}", Witness.line(c));
      witness(witnessFile, c, fsync);
    } else if (!batch.isEmpty()) {
      uncheckpointed += batch.size();
      if (oldestUncheckpointed == null) oldestUncheckpointed = batch.getFirst().body().time();
    }
    try {
      journal.release(indexedSeq);
    } catch (UncheckedIOException e) {
      LOG.warn("{}", e.getMessage());
    }
  }

  /** Rewrites the local witness with a checkpoint the store now holds (never before: it must not claim more than the store got). */
  private void witness(Path file, SignedCheckpoint c, boolean sync) {
    try {
      Witness.writeLocal(file, c, sync);
      if (witnessFailing) LOG.info("the local audit witness {} is written again", file);
      witnessFailing = false;
    } catch (IOException | RuntimeException e) {
      if (!witnessFailing) LOG.warn("cannot write the local audit witness {}: {}", file, e.toString());
      witnessFailing = true;
    }
  }

  private void signalStoreWaiters() {
    if (storeWaiters.get() == 0) return;
    storedLock.lock();
    try {
      stored.signalAll();
    } finally {
      storedLock.unlock();
    }
  }

  /** After a failed append: the store may have committed it without saying so; skip what it holds. */
  private void dropStored() {
    long stored;
    try {
      stored = store.lastSeq(chainId).orElse(0);
    } catch (RuntimeException e) {
      return; // still failing; the append will say so
    }
    int skip = 0;
    while (skip < pending.size() && pending.events.get(skip).seq() <= stored) skip++;
    if (skip > 0) {
      List<AuditEvent> already = new ArrayList<>(pending.events.subList(0, skip));
      pending.removeFirst(skip);
      stored(already, Optional.empty(), clock.instant());
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Recovery

  /**
   * What {@link #recover} did: the events it stored, and, when it signed, the checkpoint it signed at
   * the end of each chain's journal, by chain id.
   */
  record Recovery(long stored, Map<String, SignedCheckpoint> ends, List<JournalEnd> journalEnds, List<CutOff> cutOff) {}

  /**
   * A chain of an earlier process of this node that ended without its {@link EventType#CHAIN_CLOSED}
   * event (the process was killed or crashed), and the last event its journal held.
   */
  record CutOff(String chainId, AuditEvent last) {}

  /** The chains that earlier processes of this node left without closing them (found at {@link #open}). */
  List<CutOff> cutOff() {
    return cutOff;
  }

  /**
   * The file in a node's journal folder naming the cut-off chains whose open ends are not recorded
   * yet, one {@code <chain id> <last seq>} per line: written before recovery removes such a chain's
   * journal, and a chain is taken out once its ends are recorded ({@link #endsRecorded}), so that a
   * start killed before then leaves them to the next (review round 46: they were lost for good).
   */
  static final String PENDING_ENDS = "cut-off-ends.pending";

  /** Reads {@link #PENDING_ENDS}: chain id to last seq; empty when there is none or it cannot be read. */
  static Map<String, Long> pendingEnds(Path nodeDir) {
    Map<String, Long> out = new TreeMap<>();
    Path file = nodeDir.resolve(PENDING_ENDS);
    if (!Files.isRegularFile(file)) return out;
    try {
      for (String line : Files.readAllLines(file, java.nio.charset.StandardCharsets.UTF_8)) {
        int space = line.lastIndexOf(' ');
        if (space <= 0) continue;
        try {
          out.put(line.substring(0, space), Long.parseLong(line.substring(space + 1)));
        } catch (NumberFormatException e) {
          LOG.warn("{}: ignoring a line that is not '<chain id> <seq>'", file);
        }
      }
    } catch (IOException e) {
      LOG.warn("cannot read {}: {}", file, e.toString());
    }
    return out;
  }

  private static void writePendingEnds(Path nodeDir, Map<String, Long> pending) throws IOException {
    Path file = nodeDir.resolve(PENDING_ENDS);
    if (pending.isEmpty()) {
      Files.deleteIfExists(file);
      return;
    }
    StringBuilder text = new StringBuilder();
    pending.forEach((chain, seq) -> text.append(chain).append(' ').append(seq).append('\n'));
    Path temp = nodeDir.resolve(PENDING_ENDS + ".tmp");
    Files.writeString(temp, text, java.nio.charset.StandardCharsets.UTF_8);
    try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(temp, java.nio.file.StandardOpenOption.WRITE)) {
      ch.force(true);
    }
    Files.move(temp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
  }

  /** The ends of what {@code chainId} left open are recorded: it leaves {@link #PENDING_ENDS}. */
  void endsRecorded(String chainId) {
    synchronized (ChainWriter.class) {
      Map<String, Long> pending = pendingEnds(config.journalDir().resolve(config.nodeId()));
      if (pending.remove(chainId) == null) return;
      try {
        writePendingEnds(config.journalDir().resolve(config.nodeId()), pending);
      } catch (IOException e) {
        LOG.warn("cannot update {}: {}; the next start looks at chain {} again (and records nothing twice)", PENDING_ENDS,
            e.toString(), chainId);
      }
    }
  }

  /**
   * Moves the events journaled by earlier processes of a node into the store: for each chain, the
   * events after the newest one the store holds, in batches. With a {@code signer} (the gateway's
   * start), the journal's last event is then signed, whether recovery or someone else (a {@code
   * gatehouse audit} command) stored it, with the journal's hash: a store whose event there differs
   * fails verification; then the chain's journal is deleted, or kept and renamed {@code *.damaged}
   * when it ends in a record that is not whole (reported in the log). Without one (the command-line
   * tools, which do not hold the key), the journal is left where it is, for the gateway's next start
   * to sign: deleted, it would leave a tail that nothing signs (red-team round 18b). The caller holds
   * the node folder's lock.
   */
  static Recovery recover(AuditStore store, Path nodeDir, Optional<AuditSigner> signer, Clock clock) throws IOException {
    long total = 0;
    Map<String, SignedCheckpoint> ends = new TreeMap<>();
    List<JournalEnd> journalEnds = new ArrayList<>();
    List<CutOff> cutOff = new ArrayList<>();
    Map<String, Long> pending = signer.isPresent() ? pendingEnds(nodeDir) : new TreeMap<>();
    for (AuditJournal.Recovered r : AuditJournal.read(nodeDir)) {
      long stored = store.lastSeq(r.chainId()).orElse(0);
      List<AuditEvent> missing = r.events().stream().filter(e -> e.seq() > stored).toList();
      // The chain's last event, when the process that wrote it did not close it: killed or crashed.
      AuditEvent cutAt = null;
      if (!r.events().isEmpty()) {
        AuditEvent last = r.events().getLast();
        journalEnds.add(new JournalEnd(r.chainId(), last.seq(), last.hash(), nodeDir.toString()));
        if (last.body().type() != EventType.CHAIN_CLOSED) {
          cutAt = last;
          cutOff.add(new CutOff(r.chainId(), last));
        }
        // The store's event where the journal's overlap ends must be the journal's: the chain's links
        // then vouch for every stored event before it.
        long upTo = Math.min(stored, last.seq());
        long at = upTo - r.events().getFirst().seq();
        if (at >= 0 && at < r.events().size() && r.events().get((int) at).seq() == upTo) {
          AuditEvent journaled = r.events().get((int) at);
          Optional<AuditEvent> held = store.find(AuditEvent.id(r.chainId(), upTo));
          if (held.isEmpty() || !held.get().hash().equals(journaled.hash())) {
            LOG.error("the audit store's event {} of chain {} is not the one this node journaled: the store was altered "
                + "while the gateway was stopped, and `gatehouse audit verify` reports it", upTo, r.chainId());
          }
        }
      }
      Optional<SignedCheckpoint> end = Optional.empty();
      if (signer.isPresent() && !r.events().isEmpty()) {
        AuditEvent last = r.events().getLast();
        end = Optional.of(SignedCheckpoint.sign(signer.get(), r.chainId(), last.seq(), last.hash(), clock.instant()));
        if (stored > last.seq()) {
          LOG.error("the audit store holds events of chain {} after seq {}, the last this node journaled: someone else added "
              + "them, and `gatehouse audit verify` reports them", r.chainId(), last.seq());
        }
      }
      for (int i = 0; i < missing.size(); i += 1000) {
        List<AuditEvent> batch = missing.subList(i, Math.min(missing.size(), i + 1000));
        store.append(batch, i + 1000 >= missing.size() ? end : Optional.empty());
      }
      if (missing.isEmpty() && end.isPresent()) {
        // A writer killed while idle may have checkpointed its last event already: the store keeps
        // one checkpoint per (chain, seq), so that one stands (round 25: a second at the same seq
        // was refused, and the gateway could not start). The journal's own hash stays in the local
        // witness below, so a store whose event differs there still fails verification.
        long seq = end.get().seq();
        boolean held = store.checkpoints(r.chainId()).stream().anyMatch(c -> c.seq() == seq);
        if (!held) store.append(List.of(), end);
      }
      end.ifPresent(c -> {
        witnessed(c, nodeDir, store.durability() == Durability.MACHINE);
        ends.put(r.chainId(), c);
      });
      total += missing.size();
      if (!missing.isEmpty()) {
        LOG.info("recovered {} audit events of chain {} from the journal (seq {} to {})",
            missing.size(), r.chainId(), missing.getFirst().seq(), missing.getLast().seq());
      }
      if (signer.isEmpty()) continue; // kept for the gateway, which signs it
      if (cutAt != null && pending.putIfAbsent(r.chainId(), cutAt.seq()) == null) {
        writePendingEnds(nodeDir, pending); // before the journal goes
      }
      if (r.damage().isPresent()) {
        LOG.error("the audit journal of chain {} is damaged: {}; its whole records were stored, up to seq {} (an event lost"
            + " to damage before that is a gap that `gatehouse audit verify` reports), and its files are kept as *.damaged",
            r.chainId(), r.damage().get(), r.events().isEmpty() ? 0 : r.events().getLast().seq());
        for (Path f : r.files()) Files.move(f, f.resolveSibling(f.getFileName() + ".damaged"));
      } else {
        for (Path f : r.files()) Files.deleteIfExists(f);
      }
    }
    // Chains an earlier start found cut off and was itself cut off before it recorded their ends.
    for (Map.Entry<String, Long> p : pending.entrySet()) {
      if (cutOff.stream().anyMatch(c -> c.chainId().equals(p.getKey()))) continue;
      Optional<AuditEvent> last = store.find(AuditEvent.id(p.getKey(), p.getValue()));
      if (last.isPresent()) cutOff.add(new CutOff(p.getKey(), last.get()));
      else LOG.warn("{} names event {} of chain {}, which the store does not hold: its open ends are not recorded",
          PENDING_ENDS, p.getValue(), p.getKey());
    }
    return new Recovery(total, ends, journalEnds, cutOff);
  }
}
