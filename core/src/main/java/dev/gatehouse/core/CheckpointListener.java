package dev.gatehouse.core;

/**
 * Observes the data path without being able to stop it (metrics, recording index, logs). Called on
 * the session's thread after the audit event is durable; must be quick and must not throw (what it
 * throws is swallowed).
 */
public interface CheckpointListener {
  default void sessionOpened(Session session) {}

  default void admissionRefused(String resourceName, ClientInfo client, Admission.Refused refusal) {}

  default void commandDecided(Session session, Command command, Decision decision) {}

  default void commandCompleted(Session session, Command command, Outcome outcome) {}

  default void sessionClosed(Session session, String reason) {}
}
