package dev.gatehouse.audit;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * How the audit log writes.
 *
 * @param nodeId names this gateway node in chain ids ({@code [A-Za-z0-9._-]{1,64}}); chains of
 *     different nodes never wait for each other
 * @param keyFile the checkpoint signing key, outside the store; created (0600) when absent
 * @param journalDir where the journal lives ({@code <journalDir>/<nodeId>/}): the durable medium
 *     every event is written to before its statement is forwarded (see {@link AuditJournal})
 * @param checkpointEvents a signed checkpoint is written at the latest when this many events follow
 *     the previous one
 * @param checkpointInterval ... or when the oldest event not yet covered by a checkpoint is this old
 * @param queueCapacity events journaled but not yet in the store; when that many wait, durable calls
 *     are refused (fail closed) instead of buffering more
 * @param maxBatch at most this many events per store transaction
 * @param durableTimeout how long a clean shutdown waits for a failing store before it leaves the
 *     rest in the journal (twice this)
 * @param indexInterval how often journaled events are moved into the store (sooner when {@code
 *     maxBatch} wait): how far {@code gatehouse audit tail} may lag behind
 */
public record AuditConfig(
    String nodeId,
    Path keyFile,
    Path journalDir,
    int checkpointEvents,
    Duration checkpointInterval,
    int queueCapacity,
    int maxBatch,
    Duration durableTimeout,
    Duration indexInterval) {
  private static final Pattern NODE_ID = Pattern.compile("[A-Za-z0-9._-]{1,64}");

  public static final int DEFAULT_CHECKPOINT_EVENTS = 10_000;
  public static final Duration DEFAULT_CHECKPOINT_INTERVAL = Duration.ofSeconds(1);
  public static final int DEFAULT_QUEUE_CAPACITY = 20_000;
  public static final int DEFAULT_MAX_BATCH = 4096;
  public static final Duration DEFAULT_DURABLE_TIMEOUT = Duration.ofSeconds(5);
  public static final Duration DEFAULT_INDEX_INTERVAL = Duration.ofMillis(100);

  public AuditConfig {
    Objects.requireNonNull(nodeId, "nodeId == null");
    if (!NODE_ID.matcher(nodeId).matches()) {
      throw new IllegalArgumentException("nodeId \"" + nodeId + "\" is not 1-64 of [A-Za-z0-9._-]");
    }
    Objects.requireNonNull(keyFile, "keyFile == null");
    Objects.requireNonNull(journalDir, "journalDir == null");
    if (checkpointEvents < 1) throw new IllegalArgumentException("checkpointEvents < 1");
    Objects.requireNonNull(checkpointInterval, "checkpointInterval == null");
    if (checkpointInterval.isNegative() || checkpointInterval.isZero()) {
      throw new IllegalArgumentException("checkpointInterval <= 0");
    }
    if (queueCapacity < 1) throw new IllegalArgumentException("queueCapacity < 1");
    if (maxBatch < 1) throw new IllegalArgumentException("maxBatch < 1");
    Objects.requireNonNull(durableTimeout, "durableTimeout == null");
    if (durableTimeout.isNegative() || durableTimeout.isZero()) throw new IllegalArgumentException("durableTimeout <= 0");
    Objects.requireNonNull(indexInterval, "indexInterval == null");
    if (indexInterval.isNegative() || indexInterval.isZero()) throw new IllegalArgumentException("indexInterval <= 0");
  }

  /**
   * The defaults: journal in {@code audit-journal} beside the key file, checkpoint every 10,000
   * events or 1 s, at most 20,000 events waiting for the store, batches of 4,096, indexed every
   * 100 ms, 5 s shutdown timeout.
   */
  public static AuditConfig defaults(String nodeId, Path keyFile) {
    Path dir = keyFile.toAbsolutePath().getParent().resolve("audit-journal");
    return new AuditConfig(nodeId, keyFile, dir, DEFAULT_CHECKPOINT_EVENTS, DEFAULT_CHECKPOINT_INTERVAL,
        DEFAULT_QUEUE_CAPACITY, DEFAULT_MAX_BATCH, DEFAULT_DURABLE_TIMEOUT, DEFAULT_INDEX_INTERVAL);
  }

  public AuditConfig withJournal(Path dir) {
    return new AuditConfig(nodeId, keyFile, dir, checkpointEvents, checkpointInterval, queueCapacity, maxBatch, durableTimeout, indexInterval);
  }

  public AuditConfig withCheckpoints(int events, Duration interval) {
    return new AuditConfig(nodeId, keyFile, journalDir, events, interval, queueCapacity, maxBatch, durableTimeout, indexInterval);
  }

  public AuditConfig withQueue(int capacity, int batch) {
    return new AuditConfig(nodeId, keyFile, journalDir, checkpointEvents, checkpointInterval, capacity, batch, durableTimeout, indexInterval);
  }

  public AuditConfig withDurableTimeout(Duration timeout) {
    return new AuditConfig(nodeId, keyFile, journalDir, checkpointEvents, checkpointInterval, queueCapacity, maxBatch, timeout, indexInterval);
  }

}
