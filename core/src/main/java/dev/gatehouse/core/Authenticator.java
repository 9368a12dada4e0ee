package dev.gatehouse.core;

/**
 * Port: turns a presented token into a verified {@link Principal}. Implemented by the identity
 * module. Thread-safe; may block briefly (JWKS fetch), never for long.
 */
public interface Authenticator {
  /** @throws AuthenticationException with a caller-safe message when the token is not accepted */
  Principal authenticate(Secret token);
}
