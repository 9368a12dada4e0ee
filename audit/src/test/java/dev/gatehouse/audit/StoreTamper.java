package dev.gatehouse.audit;

/**
 * What someone with write access to a store (but not the signing key) can do to it. Each store's
 * tests implement this with the store's own means (SQL for the JDBC stores), so the tamper tests of
 * {@link AuditTamperContract} run against every store.
 */
public interface StoreTamper {
  /** Changes the command text of one event, leaving its stored hash as it was. */
  void setCommandText(String chainId, long seq, String text);

  void deleteEvent(String chainId, long seq);

  /** Swaps the seq numbers of two events (everything else stays). */
  void swapSeq(String chainId, long a, long b);

  /** Deletes the events with seq &ge; {@code seq}. */
  void deleteEventsFrom(String chainId, long seq);

  /** Deletes the checkpoints with seq &ge; {@code seq}. */
  void deleteCheckpointsFrom(String chainId, long seq);

  /** Overwrites the stored event at the same chain and seq with every field of {@code event}. */
  void replaceEvent(AuditEvent event);

  /** Overwrites the stored checkpoint at the same chain and seq. */
  void replaceCheckpoint(SignedCheckpoint checkpoint);
}
