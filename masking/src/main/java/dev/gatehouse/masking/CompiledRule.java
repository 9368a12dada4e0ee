package dev.gatehouse.masking;

import dev.gatehouse.core.ColumnOrigin;
import java.util.List;

/** A validated {@link MaskingRules.Rule}. Immutable. */
record CompiledRule(
    String name,
    List<Glob> resources,
    List<ColumnPattern> columns,
    MaskStyle style,
    Detectors detectors,
    DetectScope detectIn,
    StrictMode strict,
    boolean confine) {

  /** {@code schema.table.column}, each part a glob. */
  record ColumnPattern(Glob schema, Glob table, Glob column) {
    boolean matches(ColumnOrigin.Column c) {
      return column.matches(c.column()) && table.matches(c.table()) && schema.matches(c.schema());
    }

    /** Whether the named relation may hold a matching column; {@code schema} empty means any schema. */
    boolean mayMatchTable(String schemaName, String tableName) {
      return table.matches(tableName) && (schemaName.isEmpty() || schema.matches(schemaName));
    }

    @Override
    public String toString() {
      return schema + "." + table + "." + column;
    }
  }

  boolean appliesTo(String resource) {
    for (Glob g : resources) if (g.matches(resource)) return true;
    return false;
  }

  /** Whether this rule masks the column, under its own name or that of a kin table's column. */
  boolean masks(ColumnOrigin.Column c) {
    for (ColumnPattern p : columns) if (p.matches(c)) return true;
    if (c.kin().isEmpty()) return false;
    for (ColumnOrigin.Column same : c.sameValues()) {
      for (ColumnPattern p : columns) if (p.matches(same)) return true;
    }
    return false;
  }

  /** Whether what is read may include a column this rule masks. */
  boolean read(Reads reads) {
    if (columns.isEmpty()) return false;
    return switch (reads) {
      case Reads.Unknown u -> true;
      case Reads.Columns cs -> {
        for (ColumnOrigin.Column c : cs.columns()) if (masks(c)) yield true;
        yield false;
      }
      case Reads.Tables ts -> {
        for (String name : ts.names()) {
          for (RelationNames.Reading r : RelationNames.readings(name)) {
            for (ColumnPattern p : columns) if (p.mayMatchTable(r.schema(), r.table())) yield true;
          }
        }
        yield false;
      }
    };
  }
}
