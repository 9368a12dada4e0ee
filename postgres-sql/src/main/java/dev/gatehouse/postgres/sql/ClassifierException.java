package dev.gatehouse.postgres.sql;

/**
 * The unchecked exception of this module. Thrown only when a classifier cannot be created (the
 * native library is missing or unusable) or is misused; {@link SqlClassifier#analyze(String)}
 * never throws it for bad SQL. Messages never contain statement text, which may hold secrets.
 */
public class ClassifierException extends RuntimeException {
  public ClassifierException(String message) {
    super(message);
  }

  public ClassifierException(String message, Throwable cause) {
    super(message, cause);
  }
}
