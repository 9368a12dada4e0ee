package dev.gatehouse.postgres.wire;

/** Terminate: the client ends the session. */
public record Terminate() implements FrontendMessage {
  public static final byte TYPE = 'X';
  public static final Terminate INSTANCE = new Terminate();
}
