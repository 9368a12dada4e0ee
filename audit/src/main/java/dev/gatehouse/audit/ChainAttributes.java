package dev.gatehouse.audit;

/** Attribute keys of {@link EventType#CHAIN_STARTED} events; stored and hashed, so never renamed. */
final class ChainAttributes {
  static final String NODE = "node";
  static final String STARTED = "started";
  static final String KEY_ID = "key_id";
  static final String CHECKPOINT_EVENTS = "checkpoint_events";
  static final String CHECKPOINT_INTERVAL_MS = "checkpoint_interval_ms";
  /**
   * The node's previous chain: the one this writer abandoned after a store failure with the last
   * event acknowledged in it, or, for a process's first chain, the newest checkpointed event of the
   * node's previous run.
   */
  static final String PREVIOUS_CHAIN = "previous_chain";
  static final String PREVIOUS_SEQ = "previous_seq";
  static final String PREVIOUS_HASH = "previous_hash";

  private ChainAttributes() {}
}
