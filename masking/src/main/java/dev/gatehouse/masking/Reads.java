package dev.gatehouse.masking;

import dev.gatehouse.core.ColumnOrigin;
import java.util.Objects;
import java.util.Set;

/**
 * What part of a statement reads, as precisely as the protocol module can tell. The planner
 * compares it with the masking rules in force; the less precise, the more it assumes.
 */
public sealed interface Reads {

  /**
   * Nothing is known: every rule in force is assumed to be read. Fail-closed and blunt.
   *
   * @param why why nothing is known, for a refusal's message (a clause such as "the statement
   *     changes the planner's settings"); empty when it is the statement's text itself that could not
   *     be traced
   */
  record Unknown(String why) implements Reads {
    public Unknown {
      Objects.requireNonNull(why, "why == null");
    }
  }

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
    return new Unknown("");
  }

  /** Nothing is known, for a reason a refusal names ({@link Unknown#why}). */
  static Reads unknown(String why) {
    return new Unknown(why);
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
