package dev.gatehouse.core;

/**
 * A credential was presented and rejected. The message is safe to show to the caller: it says
 * which check failed ("token expired", "audience not accepted"), never the token itself.
 */
public final class AuthenticationException extends GatehouseException {
  public AuthenticationException(String message) {
    super(message);
  }

  public AuthenticationException(String message, Throwable cause) {
    super(message, cause);
  }
}
