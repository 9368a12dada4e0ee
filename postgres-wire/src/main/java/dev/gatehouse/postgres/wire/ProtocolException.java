package dev.gatehouse.postgres.wire;

import java.util.Objects;

/**
 * A violation of the PostgreSQL wire protocol found while reading or decoding bytes: a bad
 * length, an unknown message type, a string without its terminator, a count larger than the bytes
 * that follow. Carries the SQLSTATE PostgreSQL itself would report, so the proxy can answer the
 * peer with a native {@code ErrorResponse} before closing the connection.
 *
 * <p>The message states the failed check and never quotes message contents (a body may carry a
 * password or a token).
 */
public final class ProtocolException extends RuntimeException {
  /** SQLSTATE 08P01 protocol_violation. */
  public static final String PROTOCOL_VIOLATION = "08P01";
  /** SQLSTATE 54000 program_limit_exceeded: a message longer than the reader accepts. */
  public static final String PROGRAM_LIMIT_EXCEEDED = "54000";
  /** SQLSTATE 42602 invalid_name: a user or database name PostgreSQL would have to cut short. */
  public static final String INVALID_NAME = "42602";
  /** SQLSTATE 22021 character_not_in_repertoire: a string that is not valid UTF-8. */
  public static final String CHARACTER_NOT_IN_REPERTOIRE = "22021";

  private final String sqlstate;

  public ProtocolException(String sqlstate, String message) {
    super(message);
    this.sqlstate = Objects.requireNonNull(sqlstate, "sqlstate == null");
  }

  /** A protocol violation (SQLSTATE 08P01). */
  public static ProtocolException violation(String message) {
    return new ProtocolException(PROTOCOL_VIOLATION, message);
  }

  /** The five-character SQLSTATE to report to the peer. */
  public String sqlstate() {
    return sqlstate;
  }
}
