package dev.gatehouse.postgres.wire;

/** CloseComplete (type '3'): no body. */
public record CloseComplete() implements BackendMessage {
  public static final byte TYPE = '3';
  public static final CloseComplete INSTANCE = new CloseComplete();
}
