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
 * @param checkpointEvents a signed checkpoint is written at the latest when this many events follow
 *     the previous one
 * @param checkpointInterval ... or when the oldest event not yet covered by a checkpoint is this old
 * @param queueCapacity events waiting for the writer; when full, durable calls are refused (fail
 *     closed) instead of buffering more
 * @param maxBatch at most this many events per store transaction
 * @param durableTimeout how long a durable call waits for its batch to commit before it is refused
 * @param outcomeDelay how long the writer may hold back a batch of only outcome events (which
 *     nobody waits for) so that they share the commit of the next durable event rather than pay a
 *     commit of their own; zero commits them at once. Durable events are never held back.
 */
public record AuditConfig(
    String nodeId,
    Path keyFile,
    int checkpointEvents,
    Duration checkpointInterval,
    int queueCapacity,
    int maxBatch,
    Duration durableTimeout,
    Duration outcomeDelay) {
  private static final Pattern NODE_ID = Pattern.compile("[A-Za-z0-9._-]{1,64}");

  public static final int DEFAULT_CHECKPOINT_EVENTS = 256;
  public static final Duration DEFAULT_CHECKPOINT_INTERVAL = Duration.ofSeconds(1);
  public static final int DEFAULT_QUEUE_CAPACITY = 10_000;
  public static final int DEFAULT_MAX_BATCH = 512;
  public static final Duration DEFAULT_DURABLE_TIMEOUT = Duration.ofSeconds(5);
  public static final Duration DEFAULT_OUTCOME_DELAY = Duration.ofMillis(2);

  public AuditConfig {
    Objects.requireNonNull(nodeId, "nodeId == null");
    if (!NODE_ID.matcher(nodeId).matches()) {
      throw new IllegalArgumentException("nodeId \"" + nodeId + "\" is not 1-64 of [A-Za-z0-9._-]");
    }
    Objects.requireNonNull(keyFile, "keyFile == null");
    if (checkpointEvents < 1) throw new IllegalArgumentException("checkpointEvents < 1");
    Objects.requireNonNull(checkpointInterval, "checkpointInterval == null");
    if (checkpointInterval.isNegative() || checkpointInterval.isZero()) {
      throw new IllegalArgumentException("checkpointInterval <= 0");
    }
    if (queueCapacity < 1) throw new IllegalArgumentException("queueCapacity < 1");
    if (maxBatch < 1) throw new IllegalArgumentException("maxBatch < 1");
    Objects.requireNonNull(durableTimeout, "durableTimeout == null");
    if (durableTimeout.isNegative() || durableTimeout.isZero()) throw new IllegalArgumentException("durableTimeout <= 0");
    Objects.requireNonNull(outcomeDelay, "outcomeDelay == null");
    if (outcomeDelay.isNegative()) throw new IllegalArgumentException("outcomeDelay < 0");
    if (outcomeDelay.compareTo(checkpointInterval) > 0) throw new IllegalArgumentException("outcomeDelay > checkpointInterval");
  }

  /**
   * The defaults: checkpoint every 256 events or 1 s, 10,000 queued events, batches of 512, 5 s
   * timeout, outcome events held back at most 2 ms.
   */
  public static AuditConfig defaults(String nodeId, Path keyFile) {
    return new AuditConfig(nodeId, keyFile, DEFAULT_CHECKPOINT_EVENTS, DEFAULT_CHECKPOINT_INTERVAL,
        DEFAULT_QUEUE_CAPACITY, DEFAULT_MAX_BATCH, DEFAULT_DURABLE_TIMEOUT, DEFAULT_OUTCOME_DELAY);
  }

  public AuditConfig withCheckpoints(int events, Duration interval) {
    return new AuditConfig(nodeId, keyFile, events, interval, queueCapacity, maxBatch, durableTimeout,
        outcomeDelay.compareTo(interval) > 0 ? interval : outcomeDelay);
  }

  public AuditConfig withQueue(int capacity, int batch) {
    return new AuditConfig(nodeId, keyFile, checkpointEvents, checkpointInterval, capacity, batch, durableTimeout, outcomeDelay);
  }

  public AuditConfig withDurableTimeout(Duration timeout) {
    return new AuditConfig(nodeId, keyFile, checkpointEvents, checkpointInterval, queueCapacity, maxBatch, timeout, outcomeDelay);
  }

  public AuditConfig withOutcomeDelay(Duration delay) {
    return new AuditConfig(nodeId, keyFile, checkpointEvents, checkpointInterval, queueCapacity, maxBatch, durableTimeout, delay);
  }
}
