package dev.gatehouse.tls;

/**
 * The unchecked exception of the tls module: TLS material could not be read, generated or used.
 * The message names the file (when there is one) and what is wrong with it; it never contains key
 * material.
 */
public final class TlsException extends RuntimeException {
  public TlsException(String message) {
    super(message);
  }

  public TlsException(String message, Throwable cause) {
    super(message, cause);
  }
}
