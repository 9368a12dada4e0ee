package dev.gatehouse.audit;

import dev.gatehouse.core.GatehouseException;

/**
 * The unchecked exception of the audit module: a key file that cannot be read or created, a
 * malformed value, a verifier that cannot read the store. Failures on the data path are reported as
 * {@link dev.gatehouse.core.AuditUnavailableException} instead, which callers turn into a refusal.
 * Messages never contain key material.
 */
public final class AuditException extends GatehouseException {
  private final String unreadableChain;
  private final long unreadableSeq;

  public AuditException(String message) {
    super(message);
    this.unreadableChain = null;
    this.unreadableSeq = 0;
  }

  private AuditException(String message, String chainId, long seq, Throwable cause) {
    super(message, cause);
    this.unreadableChain = chainId;
    this.unreadableSeq = seq;
  }

  /**
   * A stored row that cannot be read back as an event at all (a value no event can hold, such as an
   * unknown type name): stores throw this while streaming, and {@link AuditVerifier} reports the row
   * as edited instead of failing.
   */
  public static AuditException unreadable(String chainId, long seq, String what, Throwable cause) {
    return new AuditException("audit event " + AuditEvent.id(chainId, seq) + " cannot be read back: " + what
        + " (the row was altered)", chainId, seq, cause);
  }

  /** The seq of the unreadable row, for exceptions made by {@link #unreadable}. */
  public java.util.OptionalLong unreadableSeq() {
    return unreadableChain == null ? java.util.OptionalLong.empty() : java.util.OptionalLong.of(unreadableSeq);
  }

  public AuditException(String message, Throwable cause) {
    super(message, cause);
    this.unreadableChain = null;
    this.unreadableSeq = 0;
  }
}
