package dev.gatehouse.identity;

import dev.gatehouse.core.GatehouseException;

/**
 * The unchecked exception of the identity module for configuration that cannot be used (an issuer
 * with a symmetric algorithm, a clock skew above the maximum, two issuers that cannot be told
 * apart). A rejected token is a {@link dev.gatehouse.core.AuthenticationException} instead. The
 * message names the issuer and the setting; it never contains a token or key.
 */
public final class IdentityException extends GatehouseException {
  public IdentityException(String message) {
    super(message);
  }

  public IdentityException(String message, Throwable cause) {
    super(message, cause);
  }
}
