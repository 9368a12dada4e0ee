package dev.gatehouse.postgres.wire;

/** CopyFail: the client aborts COPY FROM STDIN, with a reason the server reports back. */
public record CopyFail(String message) implements FrontendMessage {
  public static final byte TYPE = 'f';

  public CopyFail {
    Values.text(message, "message");
  }
}
