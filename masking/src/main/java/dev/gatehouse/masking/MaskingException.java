package dev.gatehouse.masking;

/**
 * The unchecked exception of the masking module: a configuration that cannot be compiled, a policy
 * naming a masking rule that does not exist, a value a plan cannot handle. Messages name the failed
 * check and never contain the value being masked or a key.
 */
public class MaskingException extends RuntimeException {
  public MaskingException(String message) {
    super(message);
  }

  public MaskingException(String message, Throwable cause) {
    super(message, cause);
  }
}
