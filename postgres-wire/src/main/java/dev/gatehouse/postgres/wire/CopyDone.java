package dev.gatehouse.postgres.wire;

/** CopyDone: the end of a COPY data stream, in either direction. */
public record CopyDone() implements FrontendMessage, BackendMessage {
  public static final byte TYPE = 'c';
  public static final CopyDone INSTANCE = new CopyDone();
}
