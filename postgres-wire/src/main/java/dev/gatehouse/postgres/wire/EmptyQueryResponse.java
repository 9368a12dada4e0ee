package dev.gatehouse.postgres.wire;

/** EmptyQueryResponse (type 'I'): no body. */
public record EmptyQueryResponse() implements BackendMessage {
  public static final byte TYPE = 'I';
  public static final EmptyQueryResponse INSTANCE = new EmptyQueryResponse();
}
