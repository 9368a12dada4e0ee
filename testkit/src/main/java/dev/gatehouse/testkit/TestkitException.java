package dev.gatehouse.testkit;

/**
 * The unchecked exception of the testkit: a fixture could not be started, reached or used. The
 * message names what was attempted and why it failed; it never carries a password or token.
 */
public final class TestkitException extends RuntimeException {
  public TestkitException(String message) {
    super(message);
  }

  public TestkitException(String message, Throwable cause) {
    super(message, cause);
  }
}
