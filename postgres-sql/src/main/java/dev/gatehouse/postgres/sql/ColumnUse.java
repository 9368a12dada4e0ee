package dev.gatehouse.postgres.sql;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * Which columns one statement names, and where: the input masking needs to tell a statement that
 * merely touches a table from one that reads (or probes) its sensitive columns. Names only, as the
 * parser gives them (unquoted names lower-cased; the table qualifier is not kept): whoever uses this
 * resolves them against the tables the statement reads, and must treat a name that is no column of
 * those tables as a whole-row reference (a table alias used as a value).
 *
 * <p>Columns a statement only writes ({@code INSERT INTO t (a, b)}, {@code UPDATE t SET a = …}'s
 * {@code a}) are not reads; the expressions that produce the written values are.
 *
 * @param read every column named anywhere the statement reads values; {@code *} for {@code SELECT *}
 *     or {@code t.*}
 * @param outsideProjection columns named outside the select lists: WHERE, JOIN conditions, GROUP
 *     BY, HAVING, ORDER BY, window definitions, DISTINCT ON, LIMIT, aggregate arguments, subqueries
 *     of those — where a value can be probed without being shown; and every column a select-list or
 *     RETURNING item computes on (anything but the column, a whole row or a field of one as it is):
 *     the rows, errors and plans such an item produces carry what it computed
 * @param intoWrite columns whose values may be copied into what the statement writes: every column
 *     read anywhere but in the statement's own RETURNING list, the clauses above included (an
 *     equality with a generated value copies what it compares)
 * @param copyColumns for {@code COPY table (a, b) …}: the column list (empty: every column)
 * @param copyOptions for COPY: each option's name (lower case) and its value as written ({@code
 *     format → csv}, {@code delimiter → ,}); an option without a value maps to {@code ""}
 * @param outputNames names given to select-list items ({@code AS status}); where one is referenced,
 *     the names its expression reads are in the sets above already, so a name here that no table
 *     has is no whole-row reference
 * @param cursor for {@code DECLARE}, {@code FETCH}, {@code MOVE} and {@code CLOSE}: which cursor; for
 *     {@code EXECUTE}, {@code PREPARE} and {@code DEALLOCATE}: which prepared statement
 */
public record ColumnUse(
    Set<String> read, Set<String> outsideProjection, Set<String> intoWrite, List<String> copyColumns,
    Map<String, String> copyOptions, Set<String> outputNames, Optional<Cursor> cursor) {
  /**
   * A statement that declares a cursor, reads from it ({@code FETCH}, {@code MOVE}) or closes it;
   * or an SQL {@code EXECUTE} (also under {@code EXPLAIN} or {@code CREATE TABLE AS}), {@code
   * PREPARE} or {@code DEALLOCATE}, with the name of the prepared statement it runs, makes or
   * removes (SQL and the extended protocol share those names). {@code DEALLOCATE ALL} has none.
   *
   * @param name as the server names it (unquoted names lower-cased); empty for {@code CLOSE ALL}
   */
  public record Cursor(Kind kind, String name) {
    public enum Kind { DECLARE, FETCH, CLOSE, EXECUTE, PREPARE, DEALLOCATE }

    public Cursor {
      Objects.requireNonNull(kind, "kind == null");
      Objects.requireNonNull(name, "name == null");
    }
  }

  public ColumnUse(Set<String> read, Set<String> outsideProjection, Set<String> intoWrite, List<String> copyColumns,
      Map<String, String> copyOptions, Set<String> outputNames) {
    this(read, outsideProjection, intoWrite, copyColumns, copyOptions, outputNames, Optional.empty());
  }

  public ColumnUse(Set<String> read, Set<String> outsideProjection, Set<String> intoWrite, List<String> copyColumns,
      Map<String, String> copyOptions) {
    this(read, outsideProjection, intoWrite, copyColumns, copyOptions, Set.of());
  }

  public ColumnUse {
    Objects.requireNonNull(cursor, "cursor == null");
    outputNames = Set.copyOf(outputNames);
    read = Set.copyOf(read);
    outsideProjection = Set.copyOf(outsideProjection);
    intoWrite = Set.copyOf(intoWrite);
    copyColumns = List.copyOf(copyColumns);
    copyOptions = Map.copyOf(copyOptions);
    Objects.requireNonNull(read, "read == null");
  }
}
