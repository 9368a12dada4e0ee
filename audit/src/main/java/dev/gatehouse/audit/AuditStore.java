package dev.gatehouse.audit;

import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Port: where audit events and checkpoints are kept. Implemented by the store module (SQLite,
 * PostgreSQL); the audit module only appends and reads.
 *
 * <p>Append-only: there is no method to change or remove an event or a checkpoint, and
 * implementations must not have one. What they return is what they hold, which after tampering may
 * be inconsistent: readers must not "repair" anything (no deduplication, no filling of gaps), so
 * {@link AuditVerifier} sees what an attacker left.
 *
 * <p>Failures are unchecked exceptions (the implementation's own type). Thread-safe: the audit
 * writer appends from its own platform thread while readers (verify, tail, search) run on others.
 */
public interface AuditStore extends AutoCloseable {
  /**
   * Appends events and, optionally, a checkpoint, in one transaction: either all are stored or none.
   * Returns once the transaction is committed as the store's {@link Durability} promises.
   */
  void append(List<AuditEvent> events, Optional<SignedCheckpoint> checkpoint);

  /** Every chain id that has events or checkpoints, sorted. */
  List<String> chainIds();

  /**
   * The events of one chain ordered by seq (rows with equal seq in insertion order). The stream holds
   * store resources: close it (try-with-resources).
   */
  Stream<AuditEvent> events(String chainId);

  /** The checkpoints of one chain, ordered by seq. */
  List<SignedCheckpoint> checkpoints(String chainId);

  /** The event with this id ({@code <chainId>:<seq>}). */
  Optional<AuditEvent> find(String eventId);

  /** The newest {@code query.limit()} matching events, returned oldest first. */
  List<AuditEvent> search(AuditQuery query);

  /** The newest {@code limit} events of all chains, in the order they were stored, oldest first. */
  List<AuditEvent> tail(int limit);

  /**
   * Up to {@code limit} events stored after the event {@code eventId} (any chain), oldest first:
   * what {@code audit tail --follow} polls. Empty when there is no such event.
   */
  List<AuditEvent> after(String eventId, int limit);

  /**
   * The newest checkpoint (by its time) of any chain of node {@code nodeId} (chain ids {@code
   * <nodeId>:…}): what a new chain of that node records as its predecessor.
   */
  Optional<SignedCheckpoint> latestCheckpoint(String nodeId);

  /**
   * The highest seq stored for a chain, if any: where recovery and a retried append continue. The
   * default reads the chain; stores override it with an index lookup.
   */
  default java.util.OptionalLong lastSeq(String chainId) {
    try (Stream<AuditEvent> events = events(chainId)) {
      return events.mapToLong(AuditEvent::seq).max();
    }
  }

  /** What an acknowledged append survives. */
  Durability durability();

  @Override
  void close();
}
