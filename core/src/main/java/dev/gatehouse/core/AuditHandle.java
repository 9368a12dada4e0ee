package dev.gatehouse.core;

import java.util.Objects;

/** Names the durable audit event of a decided command, so its outcome can be chained to it. */
public record AuditHandle(String eventId) {
  public AuditHandle {
    Objects.requireNonNull(eventId, "eventId == null");
  }
}
