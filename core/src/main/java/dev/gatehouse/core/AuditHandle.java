package dev.gatehouse.core;

import java.util.Objects;

/** Names the durable audit event of a decided command, so its outcome can be chained to it. */
public record AuditHandle(String eventId) {
  /** The handle of a verdict the audit log could not take: that verdict is a refusal, nothing follows it. */
  public static final AuditHandle UNAUDITED = new AuditHandle("unaudited");

  public AuditHandle {
    Objects.requireNonNull(eventId, "eventId == null");
  }
}
