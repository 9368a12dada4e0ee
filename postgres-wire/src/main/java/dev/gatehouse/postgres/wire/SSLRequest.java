package dev.gatehouse.postgres.wire;

/** SSLRequest: the client asks to switch the connection to TLS before the startup message. */
public record SSLRequest() implements FrontendMessage {
  public static final SSLRequest INSTANCE = new SSLRequest();
}
