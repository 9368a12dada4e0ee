package dev.gatehouse.masking;

import dev.gatehouse.core.ColumnOrigin;
import java.util.Set;

/**
 * What part of a statement reads, as precisely as the protocol module can tell. The planner
 * compares it with the masking rules in force; the less precise, the more it assumes.
 */
public sealed interface Reads {

  /** Nothing is known: every rule in force is assumed to be read. Fail-closed and blunt. */
  record Unknown() implements Reads {}

  /**
   * The relations read, as names ({@code public.customers}, or {@code customers} when unqualified:
   * then any schema). Every column of them is assumed read, and a rule whose table pattern is a
   * wildcard ({@code *.*.email}) matches every table: give {@link Columns} (the read tables'
   * columns from the catalog) to be precise.
   */
  record Tables(Set<String> names) implements Reads {
    public Tables {
      names = Set.copyOf(names);
    }
  }

  /** The base columns read. */
  record Columns(Set<ColumnOrigin.Column> columns) implements Reads {
    public Columns {
      columns = Set.copyOf(columns);
    }
  }

  static Reads unknown() {
    return new Unknown();
  }

  static Reads nothing() {
    return new Columns(Set.of());
  }

  static Reads tables(Set<String> names) {
    return new Tables(names);
  }

  static Reads columns(Set<ColumnOrigin.Column> columns) {
    return new Columns(columns);
  }
}
