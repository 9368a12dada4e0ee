package dev.gatehouse.core;

import java.util.List;
import java.util.Objects;

/**
 * Where one column of a result comes from, protocol-neutral. A protocol module works this out from
 * what the target says about a result's shape (for PostgreSQL: the row description's table OID and
 * attribute number, resolved through the catalog); masking decides over it, never over protocol
 * types.
 *
 * <p>Anything the protocol module cannot trace with certainty to a base table column — an
 * expression, a function result, a UNION, a temporary table, a relation it cannot see — is {@link
 * Untraceable}, never "no origin": masking treats untraceable columns with suspicion (value
 * detectors, strict mode), whereas a traced column without a rule is relayed untouched.
 *
 * <p>Names are as the catalog spells them (unquoted, case preserved). Immutable values.
 */
public sealed interface ColumnOrigin {

  /** A column read straight from a base table (a view's column resolved to its base column). */
  record Column(String schema, String table, String column) implements ColumnOrigin {
    public Column {
      Objects.requireNonNull(schema, "schema == null");
      Objects.requireNonNull(table, "table == null");
      Objects.requireNonNull(column, "column == null");
      if (table.isEmpty()) throw new IllegalArgumentException("table is empty");
      if (column.isEmpty()) throw new IllegalArgumentException("column is empty");
    }

    @Override
    public String toString() {
      return schema + "." + table + "." + column;
    }
  }

  /**
   * A whole row of a base table as one value ({@code SELECT c FROM customers c}): it carries every
   * column of the table, in the order the row value lists them.
   *
   * @param columns the table's columns as they appear in the row value (dropped columns left out)
   */
  record Row(String schema, String table, List<String> columns) implements ColumnOrigin {
    public Row {
      Objects.requireNonNull(schema, "schema == null");
      Objects.requireNonNull(table, "table == null");
      columns = List.copyOf(columns);
      if (table.isEmpty()) throw new IllegalArgumentException("table is empty");
    }

    /** The origin of the row's {@code index}th field. */
    public Column field(int index) {
      return new Column(schema, table, columns.get(index));
    }
  }

  /**
   * A column whose values cannot be traced to a base column.
   *
   * @param reason why, for diagnostics ({@code "expression"}, {@code "temporary table"})
   */
  record Untraceable(String reason) implements ColumnOrigin {
    public Untraceable {
      Objects.requireNonNull(reason, "reason == null");
    }
  }

  static Column column(String schema, String table, String column) {
    return new Column(schema, table, column);
  }

  static Untraceable untraceable(String reason) {
    return new Untraceable(reason);
  }
}
