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

  /**
   * As {@link #append(List, Optional)}, with each event's bytes ({@code canonical.get(i)} is {@link
   * #canonicalBytes} of {@code events.get(i)}) and hash as its 32 bytes ({@code hashes.get(i)} is
   * what {@code events.get(i).hash()} names in hex), which the audit writer already has from
   * sealing and journaling them: a store that keeps them need not encode the events again, nor
   * parse their hashes. The default ignores them. The lists are the caller's, who reuses them after
   * the call: keep their elements, never the lists.
   */
  default void append(List<AuditEvent> events, List<byte[]> canonical, List<byte[]> hashes, Optional<SignedCheckpoint> checkpoint) {
    append(events, checkpoint);
  }

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

  /**
   * The bytes a store keeps of an event, in the event's format ({@link AuditEvent#format()}): for
   * format 1 exactly the bytes its hash covers; for format 2 those bytes but the chain id, which the
   * store keeps per row (the hash covers it all the same). A store may keep these instead of a column
   * per field (fewer values to bind per event) and read the event back with {@link
   * #fromCanonicalBytes(String, byte[], String)}; columns it keeps besides, for searching, must agree
   * with them. Throws {@link IllegalArgumentException} for a format 2 event whose previous hash is
   * not 64 lower-case hex digits.
   */
  static byte[] canonicalBytes(AuditEvent event) {
    return CanonicalEncoding.encodeEvent(event.format(), event.chainId(), event.seq(), event.prevHash(), event.body());
  }

  /**
   * Reads back what {@link #canonicalBytes} wrote of a format 1 event; the event's hash is that of
   * the bytes. Throws {@link IllegalArgumentException} for bytes it did not write, and for a format
   * 2 event's (which need their chain id).
   */
  static AuditEvent fromCanonicalBytes(byte[] canonical) {
    return CanonicalEncoding.decodeEvent(canonical);
  }

  /**
   * Reads back what {@link #canonicalBytes} wrote, in either format, of an event of chain {@code
   * chainId} (a format 1 event names its own chain, and it is read from the bytes), with {@code
   * hash} (what the store keeps beside the bytes) as the event's hash, not that of the bytes: {@link
   * AuditVerifier} compares the two, so the bytes are hashed once, by the verifier, not again on
   * every read. Throws {@link IllegalArgumentException} for bytes it did not write.
   */
  static AuditEvent fromCanonicalBytes(String chainId, byte[] canonical, String hash) {
    return CanonicalEncoding.decodeEvent(java.util.Objects.requireNonNull(chainId, "chainId == null"), canonical,
        java.util.Objects.requireNonNull(hash, "hash == null"));
  }

  /** What an acknowledged append survives. */
  Durability durability();

  @Override
  void close();
}
