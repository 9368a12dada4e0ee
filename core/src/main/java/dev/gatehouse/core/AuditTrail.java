package dev.gatehouse.core;

import java.util.Optional;

/**
 * Port: the tamper-evident audit log, as the data path needs it. Implemented by the audit module.
 *
 * <p>Methods documented as <em>durable</em> return only once the event is stored as the configured
 * durability promises, and throw {@link AuditUnavailableException} when it cannot be; the caller then
 * refuses what the event was about. Events of one session are stored in the order they were
 * appended. Thread-safe: called from every session's thread at once.
 */
public interface AuditTrail {
  /** Durable. */
  void sessionOpened(Session session);

  /**
   * Durable. An admission refused before a session existed.
   *
   * @param principal empty when the token itself was rejected
   */
  void admissionRefused(Optional<Principal> principal, String resourceName, ClientInfo client, String rule, String reason);

  /** Durable: the command, who sent it and what was decided, before anything is forwarded. */
  AuditHandle commandDecided(Session session, Command command, Decision decision);

  /**
   * The outcome of a forwarded command, as a second event chained after the first. Ordered after
   * every event appended before it; may return before it is durable (the next durable append of any
   * session, or {@link #sessionClosed}, waits for it).
   */
  void commandCompleted(Session session, AuditHandle handle, Outcome outcome);

  /** Durable. */
  void sessionClosed(Session session, String reason);
}
