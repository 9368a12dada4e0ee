package dev.gatehouse.postgres.wire;

/** Sync: end of an extended-query batch; the server answers ReadyForQuery. */
public record Sync() implements FrontendMessage {
  public static final byte TYPE = 'S';
  public static final Sync INSTANCE = new Sync();
}
