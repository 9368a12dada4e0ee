package dev.gatehouse.audit;

/** What an audit event records. The names are stored and hashed: never rename one. */
public enum EventType {
  /** First event of every chain: which node started it, when, and the checkpoint policy in force. */
  CHAIN_STARTED,
  /** A session was admitted. */
  SESSION_OPENED,
  /** A connection was refused before a session existed. */
  ADMISSION_REFUSED,
  /** A command and what policy decided about it, stored before the command is forwarded. */
  COMMAND_DECIDED,
  /** How a forwarded command ended; refers to its {@link #COMMAND_DECIDED} event. */
  COMMAND_COMPLETED,
  /** A session ended. */
  SESSION_CLOSED,
  /** Outcome events that could not be queued (the queue stayed full); records how many. */
  EVENTS_LOST,
  /** Last event of a chain whose writer shut down cleanly; a signed checkpoint covers it. */
  CHAIN_CLOSED
}
