package dev.gatehouse.postgres.sql;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Decides from one statement's libpg_query parse tree whether its numeric literals are mere values,
 * so that a text differing only in them classifies the same (see {@link CachingClassifier}), and
 * lists those literals for the cache to match against the {@link Template}'s number tokens.
 *
 * <p>A statement qualifies only when it is a SELECT (VALUES, WITH), INSERT, UPDATE or DELETE, or a
 * transaction statement (which the cache further requires to hold no number), and no numeric
 * constant sits anywhere under an ORDER BY, GROUP BY (grouping sets included), DISTINCT ON, window
 * PARTITION BY / ORDER BY or aggregate ORDER BY: there an integer may be a position in the select
 * list ({@code ORDER BY 2}, {@code GROUP BY (1, 2)}), which names a column, not a value. That is
 * broader than PostgreSQL's own rule on purpose. Stateless; one call per statement.
 */
final class ConstantWalker {
  /** Statement node types whose numeric literals can be values only. */
  private static final Set<String> STATEMENTS = Set.of("SelectStmt", "InsertStmt", "UpdateStmt", "DeleteStmt", "TransactionStmt");

  /** Clauses where an integer constant may be a select-list position. */
  private static final Set<String> ORDERING = Set.of(
      "sortClause", "groupClause", "distinctClause", "partitionClause", "orderClause", "agg_order");

  /**
   * A numeric {@code A_Const}.
   *
   * @param location UTF-8 byte offset in the whole text: the literal's, or that of a {@code -} the
   *     grammar folded into it ({@code -5})
   * @param integer {@code ival} (else {@code fval})
   * @param value the value as the tree writes it; {@code ""} when libpg_query's JSON leaves the
   *     {@code ival} out, which it does for 0 and for negative values
   */
  record Constant(int location, boolean integer, String value) {}

  private final List<Constant> found = new ArrayList<>();
  private boolean positional;

  private ConstantWalker() {}

  /** The numeric constants of the statement node {@code {"SelectStmt": {...}}}, or empty when it does not qualify. */
  static Optional<List<Constant>> walk(JsonNode stmt) {
    if (!stmt.isObject() || stmt.size() != 1) return Optional.empty();
    Map.Entry<String, JsonNode> e = stmt.fields().next();
    if (!STATEMENTS.contains(e.getKey())) return Optional.empty();
    ConstantWalker w = new ConstantWalker();
    if (!w.node(e.getValue(), false, 0) || w.positional) return Optional.empty();
    return Optional.of(w.found);
  }

  /** False when the tree is deeper than the classifier follows. */
  private boolean node(JsonNode n, boolean ordering, int depth) {
    if (depth > TreeClassifier.MAX_DEPTH) return false;
    if (n.isArray()) {
      for (JsonNode e : n) {
        if (!node(e, ordering, depth + 1)) return false;
      }
      return true;
    }
    if (!n.isObject()) return true;
    JsonNode c = n.get("A_Const");
    if (c != null && n.size() == 1) {
      constant(c, ordering);
      return true;
    }
    Iterator<Map.Entry<String, JsonNode>> it = n.fields();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> f = it.next();
      if (!node(f.getValue(), ordering || ORDERING.contains(f.getKey()), depth + 1)) return false;
    }
    return true;
  }

  private void constant(JsonNode c, boolean ordering) {
    boolean integer = c.has("ival");
    if (!integer && !c.has("fval")) return;
    if (ordering) {
      positional = true;
      return;
    }
    String value = integer ? c.path("ival").path("ival").asText("") : c.path("fval").path("fval").asText("");
    found.add(new Constant(c.path("location").asInt(-1), integer, value));
  }
}
