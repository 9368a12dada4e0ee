package dev.gatehouse.core;

/**
 * The unchecked exception of the core module. Other modules define one type of their own; messages
 * never contain secrets.
 */
public class GatehouseException extends RuntimeException {
  public GatehouseException(String message) {
    super(message);
  }

  public GatehouseException(String message, Throwable cause) {
    super(message, cause);
  }
}
