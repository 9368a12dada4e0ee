package dev.gatehouse.postgres.wire;

/** PortalSuspended (type 's'): no body. */
public record PortalSuspended() implements BackendMessage {
  public static final byte TYPE = 's';
  public static final PortalSuspended INSTANCE = new PortalSuspended();
}
