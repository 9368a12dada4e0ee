package dev.gatehouse.core;

/**
 * The audit trail could not make an event durable. The command it was about must not be forwarded;
 * protocols turn this into a native error and refuse the command (fail closed).
 */
public final class AuditUnavailableException extends GatehouseException {
  public AuditUnavailableException(String message, Throwable cause) {
    super(message, cause);
  }
}
