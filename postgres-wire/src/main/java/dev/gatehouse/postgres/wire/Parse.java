package dev.gatehouse.postgres.wire;

import java.util.Arrays;

/**
 * Parse: create a prepared statement ({@code statement}, empty for the unnamed one) from {@code
 * query}, with optional parameter type OIDs (0 = unspecified). {@link #toString()} hides the query
 * text, which may carry secrets.
 */
public record Parse(String statement, String query, int[] parameterTypes)
    implements FrontendMessage {
  public static final byte TYPE = 'P';

  public Parse {
    Values.text(statement, "statement");
    Values.text(query, "query");
    Values.count16(Values.nonNull(parameterTypes, "parameterTypes").length, "parameterTypes");
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Parse p
        && p.statement.equals(statement)
        && p.query.equals(query)
        && Arrays.equals(p.parameterTypes, parameterTypes);
  }

  @Override
  public int hashCode() {
    return (31 * statement.hashCode() + query.hashCode()) * 31 + Arrays.hashCode(parameterTypes);
  }

  @Override
  public String toString() {
    return "Parse[statement=" + statement + ", query=<" + query.length() + " chars>, parameterTypes="
        + Arrays.toString(parameterTypes) + "]";
  }
}
