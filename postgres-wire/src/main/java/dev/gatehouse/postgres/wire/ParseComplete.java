package dev.gatehouse.postgres.wire;

/** ParseComplete (type '1'): no body. */
public record ParseComplete() implements BackendMessage {
  public static final byte TYPE = '1';
  public static final ParseComplete INSTANCE = new ParseComplete();
}
