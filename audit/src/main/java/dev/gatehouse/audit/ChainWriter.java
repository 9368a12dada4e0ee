package dev.gatehouse.audit;

import dev.gatehouse.core.AuditUnavailableException;
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
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The single writer of this node's chain: group commit on one platform thread.
 *
 * <p>Session threads put {@link Pending} events on a bounded queue. The writer takes whatever has
 * accumulated (up to {@code maxBatch}), gives each event its seq and hash in queue order, appends the
 * batch to the store in one transaction (with a signed checkpoint when one is due) and only then
 * completes each event's future, which wakes its waiter. While one batch commits, the next one
 * accumulates, so under load a commit carries many events and each caller waits for its own batch
 * only. A batch of nothing but outcome events (which no caller waits for) is held back for up to
 * {@link AuditConfig#outcomeDelay()}, until a durable event joins it: a commit rewrites every index
 * page it touches whatever the number of rows, so an outcome sharing the next statement's commit
 * costs a fraction of one committed alone (measured with bench/pgbench.sh: half the commits at one
 * client, and the next statement no longer waits behind its predecessor's outcome commit).
 *
 * <p>A failed append abandons the chain: the store may or may not hold the batch (a lost commit
 * acknowledgement), so continuing the chain could fork it. The next batch starts a new chain whose
 * first event names the abandoned one and the last event acknowledged in it, so a later truncation
 * of those acknowledged events is still detected. The first chain of a process names the newest
 * checkpoint of the node's previous chain in the store, so deleting an older chain is detected too. Durable events of the failed batch fail (their
 * commands are refused); outcome events are carried into the next chain.
 *
 * <p>It runs on a platform thread because the SQLite driver is native code, which would pin a
 * virtual thread's carrier for the whole commit.
 */
final class ChainWriter implements Runnable {
  private static final Logger LOG = LoggerFactory.getLogger(ChainWriter.class);
  private static final SecureRandom RANDOM = new SecureRandom();
  /** Sentinel that wakes the writer for shutdown. */
  private static final Pending STOP = new Pending(EventBody.of(EventType.CHAIN_CLOSED, Instant.EPOCH, Map.of()), false);
  /** The longest the writer sleeps with nothing due, so it notices a shutdown it was not woken for. */
  private static final long IDLE_NANOS = TimeUnit.MILLISECONDS.toNanos(500);

  /** An event waiting for the writer, and the future its caller waits on (completed with the event id). */
  static final class Pending {
    final EventBody body;
    final boolean durable;
    final CompletableFuture<String> done = new CompletableFuture<>();

    Pending(EventBody body, boolean durable) {
      this.body = body;
      this.durable = durable;
    }
  }

  private final AuditStore store;
  private final AuditConfig config;
  private final AuditSigner signer;
  private final Clock clock;
  private final BlockingQueue<Pending> queue;
  private final AtomicLong lost = new AtomicLong();
  private volatile boolean closing;
  private volatile boolean available = true;
  private volatile String currentChain;

  // Writer-thread state.
  private String chainId;
  private long seq;
  private String head = AuditEvent.GENESIS;
  private long acknowledgedSeq;
  private String acknowledgedHash = AuditEvent.GENESIS;
  private long lastCheckpointSeq;
  private long uncheckpointed;
  private Instant oldestUncheckpointed;
  private boolean linkedPreviousRun;
  private String abandonedChain;
  private long abandonedSeq;
  private String abandonedHash;
  private final List<Pending> carry = new ArrayList<>();

  ChainWriter(AuditStore store, AuditConfig config, AuditSigner signer, Clock clock) {
    this.store = store;
    this.config = config;
    this.signer = signer;
    this.clock = clock;
    this.queue = new ArrayBlockingQueue<>(config.queueCapacity());
  }

  /** Queues without waiting; false when the queue is full or the writer is shutting down. */
  boolean offer(Pending p) {
    return !closing && queue.offer(p);
  }

  /** Queues, waiting up to {@code timeout} for room; false when there was none or the writer is shutting down. */
  boolean offer(Pending p, Duration timeout) throws InterruptedException {
    return !closing && queue.offer(p, timeout.toNanos(), TimeUnit.NANOSECONDS);
  }

  int queued() {
    return queue.size();
  }

  void countLost() {
    lost.incrementAndGet();
  }

  long lost() {
    return lost.get();
  }

  boolean available() {
    return available;
  }

  Optional<String> chainId() {
    return Optional.ofNullable(currentChain);
  }

  /** Stops taking events; the writer drains what is queued, closes the chain and exits. */
  void shutdown() {
    closing = true;
    queue.offer(STOP); // a full queue needs no wake-up: the writer is busy and checks `closing`
  }

  boolean closing() {
    return closing;
  }

  @Override
  public void run() {
    write(new ArrayList<>(), false); // open the chain now, so a started node is visible in the log
    while (true) {
      Pending first;
      try {
        first = queue.poll(waitNanos(), TimeUnit.NANOSECONDS);
      } catch (InterruptedException e) {
        first = null; // only shutdown interrupts; handled below
      }
      List<Pending> batch = new ArrayList<>(carry);
      carry.clear();
      if (first != null) {
        batch.add(first);
        queue.drainTo(batch, config.maxBatch() - 1);
        if (!anyDurable(batch)) awaitDurable(batch);
      }
      batch.removeIf(p -> p == STOP);
      boolean last = closing && queue.isEmpty();
      if (!batch.isEmpty() || last || checkpointDue(clock.instant())) {
        write(batch, last);
      }
      if (last) break;
    }
    // Anything that slipped in after the final batch was never written: tell its waiter.
    List<Pending> rest = new ArrayList<>(carry);
    queue.drainTo(rest);
    for (Pending p : rest) {
      if (p == STOP) continue;
      if (p.durable) {
        p.done.completeExceptionally(new AuditUnavailableException("the audit log shut down before the event was stored", null));
      } else {
        lost.incrementAndGet();
      }
    }
    if (lost.get() > 0) LOG.warn("audit log shut down; {} outcome events could not be stored", lost.get());
  }

  private static boolean anyDurable(List<Pending> batch) {
    for (Pending p : batch) {
      if (p.durable || p == STOP) return true;
    }
    return false;
  }

  /**
   * Holds a batch of outcome events back until a durable event (or shutdown) joins it, the batch is
   * full, or {@link AuditConfig#outcomeDelay()} has passed; queue order is kept.
   */
  private void awaitDurable(List<Pending> batch) {
    long deadline = System.nanoTime() + config.outcomeDelay().toNanos();
    while (batch.size() < config.maxBatch() && !closing) {
      long left = deadline - System.nanoTime();
      if (left <= 0) return;
      Pending next;
      try {
        next = queue.poll(left, TimeUnit.NANOSECONDS);
      } catch (InterruptedException e) {
        return; // only shutdown interrupts; the caller writes what it has
      }
      if (next == null) return;
      batch.add(next);
      if (next.durable || next == STOP) {
        queue.drainTo(batch, config.maxBatch() - batch.size());
        return;
      }
    }
  }

  private long waitNanos() {
    if (oldestUncheckpointed == null) return IDLE_NANOS;
    Instant due = oldestUncheckpointed.plus(config.checkpointInterval());
    long nanos = Duration.between(clock.instant(), due).toNanos();
    return Math.max(0, Math.min(nanos, IDLE_NANOS));
  }

  private boolean checkpointDue(Instant now) {
    return oldestUncheckpointed != null && !now.isBefore(oldestUncheckpointed.plus(config.checkpointInterval()));
  }

  private void write(List<Pending> batch, boolean last) {
    List<AuditEvent> events = new ArrayList<>(batch.size() + 2);
    boolean newChain = chainId == null;
    if (newChain) events.add(seal(openChain()));
    long lostNow = lost.getAndSet(0);
    if (lostNow > 0) {
      events.add(seal(EventBody.of(EventType.EVENTS_LOST, clock.instant(), Map.of("count", Long.toString(lostNow)))));
    }
    List<Pending> included = new ArrayList<>(batch.size());
    List<String> ids = new ArrayList<>(batch.size());
    for (Pending p : batch) {
      // A waiter that gave up was told its command is refused: do not record it as decided.
      if (p.done.isDone()) continue;
      AuditEvent e = seal(p.body);
      events.add(e);
      included.add(p);
      ids.add(e.id());
    }
    if (last) events.add(seal(EventBody.of(EventType.CHAIN_CLOSED, clock.instant(), Map.of())));
    Instant now = clock.instant();
    boolean checkpoint = newChain || last
        || uncheckpointed + events.size() >= config.checkpointEvents()
        || checkpointDue(now);
    if (events.isEmpty() && !(checkpoint && seq > lastCheckpointSeq)) return;
    Optional<SignedCheckpoint> cp = checkpoint && seq > 0
        ? Optional.of(SignedCheckpoint.sign(signer, chainId, seq, head, now))
        : Optional.empty();
    try {
      store.append(events, cp);
    } catch (RuntimeException e) {
      fail(included, lostNow, e);
      return;
    }
    available = true;
    acknowledgedSeq = seq;
    acknowledgedHash = head;
    for (int i = 0; i < included.size(); i++) included.get(i).done.complete(ids.get(i));
    if (cp.isPresent()) {
      uncheckpointed = 0;
      oldestUncheckpointed = null;
      lastCheckpointSeq = seq;
      SignedCheckpoint c = cp.get();
      // Logged as a witness outside the store: a log shipped elsewhere anchors the chain even if
      // someone with write access to the store deletes checkpoints.
      LOG.info("audit checkpoint chain={} seq={} hash={} time={} key={} signature={}",
          c.chainId(), c.seq(), c.hash(), c.time(), c.keyId(), c.signature());
    } else if (!events.isEmpty()) {
      uncheckpointed += events.size();
      if (oldestUncheckpointed == null) oldestUncheckpointed = events.getFirst().body().time();
    }
  }

  private void fail(List<Pending> included, long lostNow, RuntimeException cause) {
    available = false;
    LOG.warn("audit store append failed; abandoning chain {} after seq {}: {}", chainId, acknowledgedSeq, cause.toString());
    if (acknowledgedSeq > 0) {
      abandonedChain = chainId;
      abandonedSeq = acknowledgedSeq;
      abandonedHash = acknowledgedHash;
    }
    chainId = null;
    currentChain = null;
    uncheckpointed = 0;
    oldestUncheckpointed = null; // nothing is due on a chain that no longer exists
    lost.addAndGet(lostNow);
    for (Pending p : included) {
      if (p.durable) {
        p.done.completeExceptionally(new AuditUnavailableException(
            "the audit store could not take the event: " + cause.getMessage(), cause));
      } else if (carry.size() < config.queueCapacity()) {
        carry.add(p); // the command already ran: keep its outcome for the next chain
      } else {
        lost.incrementAndGet();
      }
    }
  }

  private EventBody openChain() {
    byte[] start = new byte[8];
    RANDOM.nextBytes(start);
    chainId = config.nodeId() + ":" + HexFormat.of().formatHex(start);
    currentChain = chainId;
    seq = 0;
    head = AuditEvent.GENESIS;
    acknowledgedSeq = 0;
    acknowledgedHash = AuditEvent.GENESIS;
    uncheckpointed = 0;
    oldestUncheckpointed = null;
    lastCheckpointSeq = 0;
    Instant now = clock.instant();
    Map<String, String> attrs = new TreeMap<>();
    attrs.put(ChainAttributes.NODE, config.nodeId());
    attrs.put(ChainAttributes.STARTED, now.toString());
    attrs.put(ChainAttributes.KEY_ID, signer.keyId());
    attrs.put(ChainAttributes.CHECKPOINT_EVENTS, Integer.toString(config.checkpointEvents()));
    attrs.put(ChainAttributes.CHECKPOINT_INTERVAL_MS, Long.toString(config.checkpointInterval().toMillis()));
    if (abandonedChain == null && !linkedPreviousRun) {
      try {
        store.latestCheckpoint(config.nodeId()).ifPresent(c -> {
          abandonedChain = c.chainId();
          abandonedSeq = c.seq();
          abandonedHash = c.hash();
        });
        linkedPreviousRun = true;
      } catch (RuntimeException e) {
        LOG.warn("cannot find the previous audit chain of node {}; the new chain will not name it: {}", config.nodeId(), e.toString());
      }
    }
    if (abandonedChain != null) {
      attrs.put(ChainAttributes.PREVIOUS_CHAIN, abandonedChain);
      attrs.put(ChainAttributes.PREVIOUS_SEQ, Long.toString(abandonedSeq));
      attrs.put(ChainAttributes.PREVIOUS_HASH, abandonedHash);
    }
    return EventBody.of(EventType.CHAIN_STARTED, now, attrs);
  }

  private AuditEvent seal(EventBody body) {
    AuditEvent e = AuditEvent.seal(chainId, seq + 1, head, body);
    seq = e.seq();
    head = e.hash();
    return e;
  }
}
