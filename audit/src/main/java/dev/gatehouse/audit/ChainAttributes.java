package dev.gatehouse.audit;

/** Attribute keys of {@link EventType#CHAIN_STARTED} events; stored and hashed, so never renamed. */
final class ChainAttributes {
  static final String NODE = "node";
  static final String STARTED = "started";
  static final String KEY_ID = "key_id";
  static final String CHECKPOINT_EVENTS = "checkpoint_events";
  static final String CHECKPOINT_INTERVAL_MS = "checkpoint_interval_ms";
  /**
   * The node's previous chain and an event of it: its last event, signed at this start if it was not
   * (see {@link #PREVIOUS_LAST}), or, when the store lost that chain's end, the checkpoint the local
   * witness file kept.
   */
  static final String PREVIOUS_CHAIN = "previous_chain";
  static final String PREVIOUS_SEQ = "previous_seq";
  static final String PREVIOUS_HASH = "previous_hash";
  /**
   * "true" when {@link #PREVIOUS_SEQ} is the previous chain's last event (every start since red-team
   * round 18b, but a restart on a store that lost the previous chain's end): events found after it
   * were added later. Absent in chains written before, whose start named the newest checkpoint.
   */
  static final String PREVIOUS_LAST = "previous_last";

  private ChainAttributes() {}
}
