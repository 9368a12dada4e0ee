package dev.gatehouse.postgres.wire;

/** BindComplete (type '2'): no body. */
public record BindComplete() implements BackendMessage {
  public static final byte TYPE = '2';
  public static final BindComplete INSTANCE = new BindComplete();
}
