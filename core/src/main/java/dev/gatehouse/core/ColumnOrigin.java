package dev.gatehouse.core;

import java.util.ArrayList;
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

  /**
   * A table that shares rows with another: for PostgreSQL, its ancestors and descendants by
   * inheritance or partitioning (a parent's scan returns its children's rows; a partition holds
   * some of its parent's). A column of the same name in a kin table holds the same values, so a rule
   * on either applies to both.
   */
  record Kin(String schema, String table) {
    public Kin {
      Objects.requireNonNull(schema, "schema == null");
      Objects.requireNonNull(table, "table == null");
    }
  }

  /**
   * A column read straight from a base table (a view's column resolved to its base column).
   *
   * @param kin the tables sharing rows with this one (see {@link Kin}); usually none
   */
  record Column(String schema, String table, String column, List<Kin> kin) implements ColumnOrigin {
    public Column {
      Objects.requireNonNull(schema, "schema == null");
      Objects.requireNonNull(table, "table == null");
      Objects.requireNonNull(column, "column == null");
      kin = List.copyOf(kin);
      if (table.isEmpty()) throw new IllegalArgumentException("table is empty");
      if (column.isEmpty()) throw new IllegalArgumentException("column is empty");
    }

    public Column(String schema, String table, String column) {
      this(schema, table, column, List.of());
    }

    /** This column and the column of the same name in each kin table: every name its values go by. */
    public List<Column> sameValues() {
      if (kin.isEmpty()) return List.of(this);
      List<Column> all = new ArrayList<>(kin.size() + 1);
      all.add(this);
      for (Kin k : kin) all.add(new Column(k.schema(), k.table(), column));
      return all;
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
  record Row(String schema, String table, List<String> columns, List<Kin> kin) implements ColumnOrigin {
    public Row {
      Objects.requireNonNull(schema, "schema == null");
      Objects.requireNonNull(table, "table == null");
      columns = List.copyOf(columns);
      kin = List.copyOf(kin);
      if (table.isEmpty()) throw new IllegalArgumentException("table is empty");
    }

    public Row(String schema, String table, List<String> columns) {
      this(schema, table, columns, List.of());
    }

    /** The origin of the row's {@code index}th field. */
    public Column field(int index) {
      return new Column(schema, table, columns.get(index), kin);
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
