package dev.gatehouse.postgres.sql;

import java.util.Objects;

/**
 * Why PostgreSQL 15's grammar (libpg_query) rejects a query text, as the server would say it:
 * nothing of such a text runs, and the client deserves the server's answer (SQLSTATE 42601) rather
 * than a refusal by policy.
 *
 * @param message the parser's message ({@code syntax error at or near "SELEC"}); it quotes the
 *     text near the error, as the server's does, so it is for the client who sent it, not for logs
 * @param position where the error is, in characters from 1 (PostgreSQL's {@code P} field of an
 *     ErrorResponse); 0 when the parser gave none
 */
public record SyntaxError(String message, int position) {
  public SyntaxError {
    Objects.requireNonNull(message, "message == null");
    if (position < 0) throw new IllegalArgumentException("position < 0");
  }
}
