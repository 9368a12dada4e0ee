package dev.gatehouse.masking;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * What a relation name as a classifier reports it ({@code [catalog.][schema.]table}, the parts
 * joined with dots, quotes gone) may name. A quoted identifier may itself hold dots ({@code
 * "sales.customers"}), so {@code sales.customers} is the table {@code customers} of schema {@code
 * sales} or the table {@code sales.customers} of any schema on the search path: every reading is
 * returned, and masking assumes all of them are read (fail closed).
 */
public final class RelationNames {
  /** Names with more dots than this are not split every way: only the last dot and no dot are tried. */
  private static final int MAX_PARTS = 8;

  private RelationNames() {}

  /** One reading: a schema (empty: any schema) and a table name. */
  public record Reading(String schema, String table) {}

  /** Every reading of {@code name}; quotes are dropped first. Never empty. */
  public static List<Reading> readings(String name) {
    String[] parts = name.replace("\"", "").split("\\.", -1);
    Set<Reading> out = new LinkedHashSet<>();
    int n = parts.length;
    out.add(new Reading("", String.join(".", parts)));
    if (n > MAX_PARTS) {
      out.add(new Reading(parts[n - 2], parts[n - 1]));
      return List.copyOf(out);
    }
    // catalog = parts[0, from), schema = parts[from, to), table = parts[to, n)
    for (int to = 1; to < n; to++) {
      String table = String.join(".", List.of(parts).subList(to, n));
      for (int from = 0; from < to; from++) {
        out.add(new Reading(String.join(".", List.of(parts).subList(from, to)), table));
      }
    }
    return new ArrayList<>(out);
  }
}
