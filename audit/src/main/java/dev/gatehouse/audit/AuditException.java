package dev.gatehouse.audit;

import dev.gatehouse.core.GatehouseException;

/**
 * The unchecked exception of the audit module: a key file that cannot be read or created, a
 * malformed value, a verifier that cannot read the store. Failures on the data path are reported as
 * {@link dev.gatehouse.core.AuditUnavailableException} instead, which callers turn into a refusal.
 * Messages never contain key material.
 */
public final class AuditException extends GatehouseException {
  public AuditException(String message) {
    super(message);
  }

  public AuditException(String message, Throwable cause) {
    super(message, cause);
  }
}
