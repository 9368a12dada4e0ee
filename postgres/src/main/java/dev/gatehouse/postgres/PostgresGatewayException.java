package dev.gatehouse.postgres;

import dev.gatehouse.core.GatehouseException;
import java.util.Objects;

/**
 * The unchecked exception of the postgres module. It carries the SQLSTATE a PostgreSQL client
 * would understand ({@code 08001} could not connect, {@code 28P01} bad password, {@code 08P01}
 * protocol violation, ...), so whoever turns it into an {@code ErrorResponse} need not guess.
 * Messages state the failed check and never contain a password, token or key.
 */
public class PostgresGatewayException extends GatehouseException {
  private final String sqlstate;

  public PostgresGatewayException(String sqlstate, String message) {
    super(message);
    this.sqlstate = checkSqlstate(sqlstate);
  }

  public PostgresGatewayException(String sqlstate, String message, Throwable cause) {
    super(message, cause);
    this.sqlstate = checkSqlstate(sqlstate);
  }

  /** The five-character SQLSTATE code, for example {@code 28P01}. */
  public String sqlstate() {
    return sqlstate;
  }

  private static String checkSqlstate(String sqlstate) {
    Objects.requireNonNull(sqlstate, "sqlstate == null");
    if (sqlstate.length() != 5) throw new IllegalArgumentException("sqlstate.length() != 5: " + sqlstate);
    return sqlstate;
  }
}
