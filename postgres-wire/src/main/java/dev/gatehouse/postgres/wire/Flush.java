package dev.gatehouse.postgres.wire;

/** Flush: ask the server to send what it has produced so far. */
public record Flush() implements FrontendMessage {
  public static final byte TYPE = 'H';
  public static final Flush INSTANCE = new Flush();
}
