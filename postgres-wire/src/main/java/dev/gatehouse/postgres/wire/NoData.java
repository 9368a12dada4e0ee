package dev.gatehouse.postgres.wire;

/** NoData (type 'n'): no body. */
public record NoData() implements BackendMessage {
  public static final byte TYPE = 'n';
  public static final NoData INSTANCE = new NoData();
}
