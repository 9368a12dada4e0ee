package dev.gatehouse.postgres.wire;

/**
 * Query: a simple-protocol query string (possibly several statements). {@link #toString()} shows
 * only the length: statement text can carry secrets ({@code ALTER ROLE ... PASSWORD}) and is
 * logged only through the audit trail's redaction.
 */
public record Query(String sql) implements FrontendMessage {
  public static final byte TYPE = 'Q';

  public Query {
    Values.text(sql, "sql");
  }

  @Override
  public String toString() {
    return "Query[sql=<" + sql.length() + " chars>]";
  }
}
