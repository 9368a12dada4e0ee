package dev.gatehouse.postgres.sql;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Collects {@link ColumnUse} from one statement's libpg_query parse tree. Walks every node; a
 * column reference counts as outside the projection when any field on its path is one of the
 * clauses where values are compared rather than shown, or it is an argument of an aggregate. One
 * instance per statement; not thread-safe.
 */
final class ColumnUseWalker {
  /** Clause fields where a value is used, not shown. */
  private static final Set<String> OUTSIDE = Set.of(
      "whereClause", "havingClause", "groupClause", "sortClause", "windowClause", "distinctClause", "quals",
      "usingClause", "joinCondition", "limitOffset", "limitCount", "agg_order", "agg_filter", "over",
      "partitionClause", "orderClause", "onConflictClause", "arbiterElems", "whenClause");

  /** Aggregates: their arguments are summarised, so counting and comparing values probes them. */
  private static final Set<String> AGGREGATES = Set.of(
      "count", "min", "max", "sum", "avg", "every", "bool_and", "bool_or", "bit_and", "bit_or", "bit_xor",
      "stddev", "stddev_pop", "stddev_samp", "variance", "var_pop", "var_samp", "corr", "covar_pop", "covar_samp",
      "mode", "percentile_cont", "percentile_disc", "rank", "dense_rank", "percent_rank", "cume_dist",
      "regr_avgx", "regr_avgy", "regr_count", "regr_intercept", "regr_r2", "regr_slope", "regr_sxx", "regr_sxy",
      "regr_syy", "range_agg", "range_intersect_agg");

  private final Set<String> read = new LinkedHashSet<>();
  private final Set<String> outside = new LinkedHashSet<>();
  private final Set<String> intoWrite = new LinkedHashSet<>();
  /** Depth of RETURNING lists being walked: what they name is shown, not written. */
  private int returning;
  private final List<String> copyColumns = new ArrayList<>();
  private final Map<String, String> copyOptions = new LinkedHashMap<>();

  private ColumnUseWalker() {}

  static ColumnUse walk(JsonNode stmt) {
    ColumnUseWalker w = new ColumnUseWalker();
    w.node(stmt, false, 0);
    return new ColumnUse(w.read, w.outside, w.intoWrite, w.copyColumns, w.copyOptions);
  }

  private void node(JsonNode n, boolean out, int depth) {
    if (depth > TreeClassifier.MAX_DEPTH) {
      read.add("*");
      outside.add("*");
      return;
    }
    if (n.isArray()) {
      for (JsonNode e : n) node(e, out, depth + 1);
      return;
    }
    if (!n.isObject()) return;
    if (n.size() == 1) {
      Map.Entry<String, JsonNode> e = n.fields().next();
      String key = e.getKey();
      if (!key.isEmpty() && Character.isUpperCase(key.charAt(0)) && e.getValue().isObject()) {
        typed(key, e.getValue(), out, depth + 1);
        return;
      }
    }
    fields(n, out, depth + 1);
  }

  private void fields(JsonNode body, boolean out, int depth) {
    Iterator<Map.Entry<String, JsonNode>> it = body.fields();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> e = it.next();
      boolean ret = e.getKey().equals("returningList");
      if (ret) returning++;
      node(e.getValue(), out || OUTSIDE.contains(e.getKey()), depth);
      if (ret) returning--;
    }
  }

  private void typed(String type, JsonNode body, boolean out, int depth) {
    switch (type) {
      case "ColumnRef" -> {
        JsonNode fields = body.path("fields");
        String name = "*";
        if (fields.size() > 0) {
          JsonNode last = fields.get(fields.size() - 1);
          JsonNode s = last.path("String").path("sval");
          if (s.isTextual()) name = s.asText();
        }
        read.add(name);
        if (out) outside.add(name);
        else if (returning == 0) intoWrite.add(name);
      }
      case "FuncCall" -> {
        List<String> names = new ArrayList<>();
        for (JsonNode s : body.path("funcname")) {
          JsonNode v = s.path("String").path("sval");
          if (v.isTextual()) names.add(v.asText().toLowerCase(Locale.ROOT));
        }
        boolean aggregate = body.path("agg_star").asBoolean(false) || body.path("agg_distinct").asBoolean(false)
            || body.has("over") || (!names.isEmpty() && AGGREGATES.contains(names.get(names.size() - 1)));
        Iterator<Map.Entry<String, JsonNode>> it = body.fields();
        while (it.hasNext()) {
          Map.Entry<String, JsonNode> e = it.next();
          boolean o = out || OUTSIDE.contains(e.getKey()) || (aggregate && e.getKey().equals("args"));
          node(e.getValue(), o, depth);
        }
      }
      case "ResTarget" -> {
        // In INSERT column lists and UPDATE SET targets, "name" is the written column: only "val" is read.
        node(body.path("val"), out, depth);
        node(body.path("indirection"), out, depth);
      }
      case "CopyStmt" -> {
        for (JsonNode s : body.path("attlist")) {
          JsonNode v = s.path("String").path("sval");
          if (v.isTextual()) copyColumns.add(v.asText());
        }
        for (JsonNode o : body.path("options")) {
          JsonNode d = o.path("DefElem");
          String name = d.path("defname").asText("").toLowerCase(Locale.ROOT);
          JsonNode arg = d.path("arg");
          String value = arg.path("String").path("sval").asText("");
          if (value.isEmpty() && arg.has("Boolean")) value = String.valueOf(arg.path("Boolean").path("boolval").asBoolean());
          if (!name.isEmpty()) copyOptions.put(name, value);
        }
        if (copyColumns.isEmpty() && body.has("relation")) read.add("*");
        for (String c : copyColumns) read.add(c);
        node(body.path("query"), out, depth);
        node(body.path("whereClause"), true, depth);
      }
      default -> fields(body, out, depth);
    }
  }
}
