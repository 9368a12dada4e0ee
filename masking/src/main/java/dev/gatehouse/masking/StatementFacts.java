package dev.gatehouse.masking;

import java.util.Objects;

/**
 * What the parsed statement does with base columns, as far as the protocol module's classifier and
 * catalog can tell: the input of strict mode and of the {@code confine} option.
 *
 * @param reads everything the statement reads, wherever it reads it
 * @param outsideProjection what it reads outside its select list: WHERE, JOIN conditions, ORDER BY,
 *     GROUP BY, HAVING, window clauses, aggregate arguments — the places a value can be probed
 *     without being shown
 * @param launders whether the statement moves what it reads somewhere masking cannot follow: a
 *     write ({@code CREATE TABLE AS}, {@code SELECT INTO}, {@code INSERT … SELECT}, {@code UPDATE …
 *     FROM}, a materialized view, {@code COPY (query)} to a file) or a function that takes SQL or
 *     table names as strings ({@code query_to_xml}, {@code table_to_xml}, {@code dblink})
 */
public record StatementFacts(Reads reads, Reads outsideProjection, boolean launders) {
  public StatementFacts {
    Objects.requireNonNull(reads, "reads == null");
    Objects.requireNonNull(outsideProjection, "outsideProjection == null");
  }

  /** Nothing known about what is read: strict mode and confinement assume the worst. */
  public static StatementFacts unknown(boolean launders) {
    return new StatementFacts(Reads.unknown(), Reads.unknown(), launders);
  }

  /** A statement that reads no table ({@code SELECT 1}, {@code SHOW}, a transaction command). */
  public static StatementFacts readsNothing() {
    return new StatementFacts(Reads.nothing(), Reads.nothing(), false);
  }
}
