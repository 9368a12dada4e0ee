package dev.gatehouse.core;

import java.time.Instant;
import java.util.Objects;

/**
 * What the {@link Checkpoint} decided about one command, with the durable audit event behind it.
 * Only an {@link Decision.Allow} may be forwarded; the protocol then reports the result through
 * {@link Checkpoint#complete}.
 */
public record Verdict(Session session, Command command, Decision decision, AuditHandle audit, Instant decidedAt) {
  public Verdict {
    Objects.requireNonNull(session, "session == null");
    Objects.requireNonNull(command, "command == null");
    Objects.requireNonNull(decision, "decision == null");
    Objects.requireNonNull(audit, "audit == null");
    Objects.requireNonNull(decidedAt, "decidedAt == null");
  }

  public boolean allowed() {
    return decision instanceof Decision.Allow;
  }
}
