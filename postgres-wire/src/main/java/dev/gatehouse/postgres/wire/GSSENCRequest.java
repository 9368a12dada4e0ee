package dev.gatehouse.postgres.wire;

/** GSSENCRequest: the client asks for GSSAPI encryption before the startup message. */
public record GSSENCRequest() implements FrontendMessage {
  public static final GSSENCRequest INSTANCE = new GSSENCRequest();
}
