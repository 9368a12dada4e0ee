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
 * Collects {@link ColumnUse} from one statement's libpg_query parse tree. Walks every node, and
 * tells each column reference's use by the clauses on its path:
 *
 * <ul>
 *   <li><em>compared</em> (WHERE, JOIN conditions, ORDER BY, GROUP BY, …): outside the projection;
 *   <li><em>probed</em>: its values are summarised or compared and may still come out as they are
 *       ({@code max(email)}, a window function's arguments, the operands of UNION, INTERSECT and
 *       EXCEPT, a DISTINCT select list, the arguments of a set-returning function, whose row count
 *       depends on them): outside the projection;
 *   <li>otherwise shown or written.
 * </ul>
 *
 * Every use flows into what the statement writes (an equality with a generated value copies what
 * it compares), except in the RETURNING list of the statement itself, which is shown to the
 * client (a RETURNING inside a WITH feeds the statement, and flows).
 *
 * One instance per statement; not thread-safe.
 *
 * <p>Names are collected without scopes, so where a name may stand for a column other than the one
 * it spells, the walker answers {@code *} (every column of the tables read) in the sets that name
 * went to: when a table or join is given column aliases ({@code FROM customers AS c(id, x)}: {@code
 * c.x} is the table's second column, whatever its name); when a one-part name is also the name or
 * alias of a relation in the statement ({@code SELECT status FROM customers AS status}: a whole-row
 * value, even if another table of the statement has a column {@code status}); and when ORDER BY or
 * GROUP BY names a select-list position that cannot be resolved to its expression.
 */
final class ColumnUseWalker {
  /**
   * Clause fields where a value is compared, not shown (ON CONFLICT's own arbiter and WHERE are
   * among them; its DO UPDATE SET values are written).
   */
  private static final Set<String> OUTSIDE = Set.of(
      "whereClause", "havingClause", "groupClause", "sortClause", "windowClause", "distinctClause", "quals",
      "usingClause", "joinCondition", "limitOffset", "limitCount", "agg_order", "agg_filter", "over",
      "partitionClause", "orderClause", "arbiterElems", "whenClause");

  /**
   * The fields through which a statement's structure reaches what its select lists show as it is
   * (and what it writes): the only ones walked without counting what lies beneath as used outside
   * the projection. Every other field is counted so, whatever its node: a clause the walker does not
   * know, such as TABLESAMPLE's percentage in a LATERAL subquery (which let a row count answer a
   * comparison of a confined column: red-team round 26) or a MERGE action's condition, fails closed.
   */
  private static final Set<String> STRUCTURE = Set.of(
      "stmt", "stmts", "query", "targetList", "returningList", "fromClause", "subquery", "withClause", "ctes",
      "ctequery", "larg", "rarg", "valuesLists", "val", "indirection", "relation", "relations", "selectStmt", "cols",
      "onConflictClause", "infer", "indexElems", "sourceRelation", "mergeWhenClauses", "alias", "intoClause", "into",
      "lockingClause", "lockedRels", "fields", "funcname", "typeName", "names", "colnames", "aliascolnames", "options");

  /** Whether what lies beneath field {@code key} counts as used outside the projection. */
  private static boolean outside(String key) {
    return OUTSIDE.contains(key) || !STRUCTURE.contains(key);
  }


  /** Set-returning functions: how many rows they return depends on their arguments' values. */
  private static final Set<String> SET_RETURNING = Set.of(
      "generate_series", "generate_subscripts", "unnest", "regexp_matches", "regexp_split_to_table", "string_to_table",
      "json_array_elements", "json_array_elements_text", "jsonb_array_elements", "jsonb_array_elements_text",
      "json_each", "json_each_text", "jsonb_each", "jsonb_each_text", "json_object_keys", "jsonb_object_keys",
      "json_to_recordset", "jsonb_to_recordset", "json_populate_recordset", "jsonb_populate_recordset",
      "jsonb_path_query", "jsonb_path_query_tz", "ts_stat", "ts_debug", "ts_parse", "ts_token_type", "pg_options_to_table",
      "txid_snapshot_xip", "pg_snapshot_xip", "pg_ls_archive_statusdir", "regexp_split_to_array_rows");

  /**
   * Whether a function may return a set: a known one, or a name shaped like one (a set-returning
   * function missed by the list would let a row count carry a value past {@code confine}).
   */
  private static boolean setReturning(String name) {
    return SET_RETURNING.contains(name) || name.contains("each") || name.contains("elements") || name.contains("_query")
        || name.endsWith("_xip") || name.contains("series") || name.endsWith("to_table") || name.endsWith("recordset")
        || name.endsWith("_matches") || name.endsWith("_keys") || name.startsWith("unnest");
  }

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
  /** Depth of the statement's own RETURNING list being walked: what it names is shown, not written. */
  private int returning;
  /**
   * Depth of any RETURNING list being walked, a data-modifying CTE's included: its items are a
   * select list's for an outer query (round 16: WITH d AS (DELETE … RETURNING email AS name)
   * SELECT id FROM d WHERE name LIKE 'a%').
   */
  private int returningLists;
  /** The body of the statement walked: only its RETURNING list is shown to the client. */
  private JsonNode root;
  private final List<String> copyColumns = new ArrayList<>();
  private final Map<String, String> copyOptions = new LinkedHashMap<>();
  /** Names and aliases of every table and join in the statement (whose whole rows hold their columns). */
  private final Set<String> relations = new LinkedHashSet<>();
  /**
   * Whether names used outside a projection may stand for other columns than the ones they spell,
   * while what is read is known by name: a set operation's columns are named after its first
   * operand's; a recursive CTE's SEARCH or CYCLE clause adds columns of the values it searched on.
   */
  private boolean renamesOutside;
  /** Whether a table, join, subquery, CTE or function in FROM was given column aliases. */
  private boolean renamed;
  /** Every column reference, kept for {@link #widen} until the relations and output names are all known. */
  private final List<Ref> refs = new ArrayList<>();
  /**
   * Output names given in select lists ({@code SELECT email AS status …}) and the names their
   * expressions read: a reference to such a name elsewhere (an outer query, ORDER BY) uses those.
   */
  private final Map<String, Set<String>> aliases = new LinkedHashMap<>();
  /** The names read while walking select-list items, innermost item last (empty outside any). */
  private final List<Set<String>> capturing = new ArrayList<>();
  /** Depth of select lists being walked. */
  private int selectLists;

  /** Names referenced with a qualifier ({@code c.x}) or as a field ({@code (c).x}). */
  private final Set<String> qualified = new LinkedHashSet<>();

  /**
   * A column reference: its last name, whether it is used outside the projection, and whether it
   * flows into what the statement writes (not in its own RETURNING).
   */
  private record Ref(String name, boolean outside, boolean flows) {}

  private ColumnUseWalker() {}

  static ColumnUse walk(JsonNode stmt) {
    ColumnUseWalker w = new ColumnUseWalker();
    if (stmt.isObject() && stmt.size() == 1) w.root = stmt.elements().next();
    w.node(stmt, false, 0);
    w.widen();
    // A qualified name (c.x, (c).x) never stands for an output name: when no table has it, it is
    // a function called on the whole row (x(c)), whatever the select list calls its items.
    Set<String> outputNames = new LinkedHashSet<>(w.aliases.keySet());
    outputNames.removeAll(w.qualified);
    return new ColumnUse(w.read, w.outside, w.intoWrite, w.copyColumns, w.copyOptions, outputNames, cursor(stmt));
  }

  /**
   * Which cursor a DECLARE, FETCH, MOVE or CLOSE names, or which prepared statement an EXECUTE runs
   * or a PREPARE or DEALLOCATE makes or removes.
   */
  private static java.util.Optional<ColumnUse.Cursor> cursor(JsonNode stmt) {
    if (!stmt.isObject() || stmt.size() != 1) return java.util.Optional.empty();
    String type = stmt.fieldNames().next();
    JsonNode b = stmt.get(type);
    // EXPLAIN EXECUTE s and CREATE TABLE … AS EXECUTE s run s too.
    if (type.equals("ExplainStmt") || type.equals("CreateTableAsStmt")) return cursor(b.path("query"));
    if (type.equals("ExecuteStmt")) {
      String prepared = b.path("name").asText("");
      return prepared.isEmpty() ? java.util.Optional.empty()
          : java.util.Optional.of(new ColumnUse.Cursor(ColumnUse.Cursor.Kind.EXECUTE, prepared));
    }
    if (type.equals("PrepareStmt") || type.equals("DeallocateStmt")) {
      // DEALLOCATE ALL names none: no Cursor, and whoever reads it assumes every name.
      String prepared = b.path("name").asText("");
      return prepared.isEmpty() ? java.util.Optional.empty() : java.util.Optional.of(new ColumnUse.Cursor(
          type.equals("PrepareStmt") ? ColumnUse.Cursor.Kind.PREPARE : ColumnUse.Cursor.Kind.DEALLOCATE, prepared));
    }
    ColumnUse.Cursor.Kind kind = switch (type) {
      case "DeclareCursorStmt" -> ColumnUse.Cursor.Kind.DECLARE;
      case "FetchStmt" -> ColumnUse.Cursor.Kind.FETCH;
      case "ClosePortalStmt" -> ColumnUse.Cursor.Kind.CLOSE;
      default -> null;
    };
    if (kind == null) return java.util.Optional.empty();
    String name = b.path("portalname").asText("");
    // A DECLARE or FETCH always names one; only CLOSE ALL names none.
    if (name.isEmpty() && kind != ColumnUse.Cursor.Kind.CLOSE) return java.util.Optional.empty();
    return java.util.Optional.of(new ColumnUse.Cursor(kind, name));
  }

  /** Answers {@code *} where a name may stand for another column (see the class). */
  private void widen() {
    for (Ref r : refs) {
      // A name that is an output name of a select list stands (also) for what its expression reads.
      Set<String> names = new LinkedHashSet<>();
      names.add(r.name());
      Set<String> behind = aliases.get(r.name());
      if (behind != null) names.addAll(resolved(behind));
      for (String n : names) {
        // A name that is a relation's or an alias's may be a whole row, however it is reached: one
        // part (status), a column of a subquery that selected the row (s.status: round 14, the
        // subquery hid that status was the row of customers), or an output name standing for it.
        String as = relations.contains(n) ? "*" : n;
        read.add(as);
        if (r.outside()) outside.add(as);
        if (r.flows()) intoWrite.add(as);
      }
    }
    if ((renamed || renamesOutside) && !outside.isEmpty()) outside.add("*");
    if (renamed) {
      if (!read.isEmpty()) read.add("*");
      if (!outside.isEmpty()) outside.add("*");
      if (!intoWrite.isEmpty()) intoWrite.add("*");
    }
  }

  private void column(String name, boolean out) {
    read.add(name);
    for (Set<String> c : capturing) c.add(name);
    if (out) outside.add(name);
    // Compared values flow too: UPDATE … SET n = g.n FROM generate_series(0, 255) AS g(n) WHERE
    // g.n = ascii(substr(email, 1, 1)) writes what it compared. Only the statement's own RETURNING is shown, not written.
    if (returning == 0) intoWrite.add(name);
  }

  private void node(JsonNode n, boolean out, int depth) {
    if (depth > TreeClassifier.MAX_DEPTH) {
      read.add("*");
      outside.add("*");
      intoWrite.add("*");
      return;
    }
    if (n.isArray()) {
      for (JsonNode e : n) node(e, out, depth + 1);
      return;
    }
    if (!n.isObject()) return;
    Map.Entry<String, JsonNode> typed = TreeClassifier.typedNode(n);
    if (typed != null) {
      typed(typed.getKey(), typed.getValue(), out, depth + 1);
      return;
    }
    fields(n, out, depth + 1);
  }

  private void fields(JsonNode body, boolean out, int depth) {
    Iterator<Map.Entry<String, JsonNode>> it = body.fields();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> e = it.next();
      boolean list = e.getKey().equals("returningList");
      boolean ret = body == root && list;
      if (ret) returning++;
      if (list) returningLists++;
      node(e.getValue(), out || outside(e.getKey()), depth);
      if (ret) returning--;
      if (list) returningLists--;
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
        column(name, out);
        if (!name.equals("*")) refs.add(new Ref(name, out, returning == 0));
        if (fields.size() > 1) qualified.add(name);
      }
      case "A_Indirection" -> {
        // (x).f selects field f of a composite value, or calls f(x): a name read like a column's.
        for (JsonNode step : body.path("indirection")) {
          JsonNode f = step.path("String").path("sval");
          if (f.isTextual()) {
            column(f.asText(), out);
            qualified.add(f.asText());
          }
        }
        fields(body, out, depth);
      }
      case "RangeVar" -> {
        relations.add(body.path("relname").asText(""));
        alias(body);
        fields(body, out, depth);
      }
      case "JoinExpr" -> {
        alias(body);
        // NATURAL compares every column the two sides share, which only the catalog could name.
        if (body.path("isNatural").asBoolean(false)) column("*", true);
        // USING (a, b) compares the two sides' columns a and b: names, not column references.
        for (JsonNode s : body.path("usingClause")) {
          JsonNode v = s.path("String").path("sval");
          if (v.isTextual()) compared(v.asText());
        }
        fields(body, out, depth);
      }
      case "RangeSubselect" -> {
        // A subquery in FROM: its alias names a whole row, its column aliases hide the names of the
        // columns it selects (FROM (SELECT id, email FROM customers) s(id, name): round 13).
        alias(body);
        fields(body, out, depth);
      }
      case "CommonTableExpr" -> {
        relations.add(body.path("ctename").asText(""));
        for (JsonNode s : body.path("search_clause").path("search_col_list")) {
          JsonNode v = s.path("String").path("sval");
          if (v.isTextual()) compared(v.asText());
        }
        for (JsonNode s : body.path("cycle_clause").path("cycle_col_list")) {
          JsonNode v = s.path("String").path("sval");
          if (v.isTextual()) compared(v.asText());
        }
        // Column aliases rename; SEARCH … SET and CYCLE … SET/USING add columns under names of the
        // statement's choosing that hold the values searched on (an array of e-mails named note).
        if (body.path("aliascolnames").size() > 0) renamed = true;
        if (body.has("search_clause") || body.has("cycle_clause")) renamesOutside = true;
        fields(body, out, depth);
      }
      case "RangeFunction", "RangeTableFunc" -> {
        alias(body);
        // A function in FROM returns rows: how many (and which) depends on its arguments' values.
        // (A whole row of it, or of a subquery, holds what they compute, which is walked there.)
        fields(body, true, depth);
      }
      case "SelectStmt" -> {
        positions(body, body.path("sortClause"), depth);
        positions(body, body.path("groupClause"), depth);
        positions(body, body.path("distinctClause"), depth); // DISTINCT ON (2) reads positions as ORDER BY does
        String op = body.path("op").asText("SETOP_NONE");
        boolean compares = !op.equals("SETOP_NONE") && (!op.equals("SETOP_UNION") || !body.path("all").asBoolean(false));
        // A set operation's columns take the names of its first operand's: in SELECT note FROM
        // orders UNION ALL SELECT email FROM customers, "note" is an e-mail too, for an ORDER BY
        // or an outer query. Every name used outside a projection may then be any column (what each
        // operand reads, and so what flows, is known by name already).
        if (!op.equals("SETOP_NONE")) renamesOutside = true;
        boolean distinct = false; // plain DISTINCT (an empty item): every value of the select list is compared
        for (JsonNode d : body.path("distinctClause")) distinct |= d.isObject() && d.isEmpty();
        Iterator<Map.Entry<String, JsonNode>> it = body.fields();
        while (it.hasNext()) {
          Map.Entry<String, JsonNode> e = it.next();
          String key = e.getKey();
          // UNION (not ALL), INTERSECT and EXCEPT compare their operands' rows.
          boolean u = out || outside(key) || (compares && (key.equals("larg") || key.equals("rarg")))
              || (distinct && key.equals("targetList"));
          if (key.equals("valuesLists")) {
            values(e.getValue(), u, depth);
            continue;
          }
          boolean ret = body == root && key.equals("returningList");
          boolean list = key.equals("targetList");
          if (ret) returning++;
          if (list) selectLists++;
          node(e.getValue(), u, depth);
          if (ret) returning--;
          if (list) selectLists--;
        }
      }
      case "FuncCall" -> {
        List<String> names = new ArrayList<>();
        for (JsonNode s : body.path("funcname")) {
          JsonNode v = s.path("String").path("sval");
          if (v.isTextual()) names.add(v.asText().toLowerCase(Locale.ROOT));
        }
        String last = names.isEmpty() ? "" : names.get(names.size() - 1);
        // Aggregates and window functions summarise their arguments (and max(email) is an email);
        // a set-returning function's row count depends on its arguments.
        boolean probes = body.path("agg_star").asBoolean(false) || body.path("agg_distinct").asBoolean(false)
            || body.has("over") || AGGREGATES.contains(last) || setReturning(last);
        Iterator<Map.Entry<String, JsonNode>> it = body.fields();
        while (it.hasNext()) {
          Map.Entry<String, JsonNode> e = it.next();
          boolean u = out || outside(e.getKey()) || (probes && e.getKey().equals("args"));
          node(e.getValue(), u, depth);
        }
      }
      case "ResTarget" -> {
        // In INSERT column lists and UPDATE SET targets, "name" is the written column: only "val" is read.
        String name = body.path("name").asText("");
        boolean projected = selectLists > 0 || returningLists > 0;
        boolean output = projected && !name.isEmpty();
        // A select-list or RETURNING item that computes on a column (a function, an operator, a
        // CASE, a cast, a subquery) uses it where its value is not shown as it is: the rows a
        // set-returning call adds, the error a division raises, the plan EXPLAIN ANALYZE counts and
        // the name an outer ORDER BY sorts by all carry what it computed (round 13). Only the column
        // itself is shown.
        boolean computed = projected && body.has("val") && !shownAsItIs(body.path("val"));
        if (output) capturing.add(new LinkedHashSet<>());
        node(body.path("val"), out || computed, depth);
        node(body.path("indirection"), out, depth);
        if (output) aliases.computeIfAbsent(name, k -> new LinkedHashSet<>()).addAll(capturing.removeLast());
      }
      case "IndexElem" -> {
        // ON CONFLICT (email): the arbiter compares the column by name (CREATE INDEX is DDL).
        String name = body.path("name").asText("");
        if (!name.isEmpty()) compared(name);
        fields(body, out, depth);
      }
      case "ExplainStmt" -> {
        // EXPLAIN ANALYZE runs the statement and reports what running it took: a sort's memory
        // grows with the widths of the values it carries, so an e-mail selected as it is, sorted
        // by an unmasked column, showed its length (red-team round 27). What it reads counts as
        // used outside the select list.
        node(body.path("query"), out || analyzes(body.path("options")), depth);
        node(body.path("options"), true, depth);
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
          String value;
          if (!d.has("arg")) {
            value = "true"; // a bare option (HEADER): PostgreSQL reads it as true
          } else if (arg.has("String")) {
            value = arg.path("String").path("sval").asText("");
          } else if (arg.has("Boolean")) {
            value = String.valueOf(arg.path("Boolean").path("boolval").asBoolean());
          } else if (arg.has("Integer")) {
            value = String.valueOf(arg.path("Integer").path("ival").asLong()); // 0 has no ival in the tree
          } else {
            value = "?"; // a list (FORCE_QUOTE (a, b)), a star: nothing the relay reads
          }
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

  /** How an option's value says false in PostgreSQL's words. */
  private static final Set<String> FALSE_WORDS = Set.of("false", "off", "no", "0");

  /**
   * Whether EXPLAIN's options may ask it to run the statement: any ANALYZE option, whatever its
   * value (PostgreSQL obeys the last of several, and {@code (ANALYZE false, ANALYZE true)} ran the
   * statement where the first was read: round 28). Only {@code ANALYZE false} alone is not.
   */
  private static boolean analyzes(JsonNode options) {
    boolean any = false;
    for (JsonNode o : options) {
      JsonNode d = o.path("DefElem");
      if (!d.path("defname").asText("").equalsIgnoreCase("analyze")) continue;
      if (any) return true; // more than one: fail closed
      any = true;
      JsonNode arg = d.path("arg");
      boolean off = arg.has("Boolean") && !arg.path("Boolean").path("boolval").asBoolean(false)
          || arg.has("String") && FALSE_WORDS.contains(arg.path("String").path("sval").asText("").toLowerCase(Locale.ROOT))
          || arg.has("Integer") && arg.path("Integer").path("ival").asLong(0) == 0;
      if (!off) return true;
    }
    return false;
  }

  /** The names behind output names, through aliases of aliases (a subquery over a subquery). */
  private Set<String> resolved(Set<String> names) {
    Set<String> out = new LinkedHashSet<>(names);
    List<String> todo = new ArrayList<>(names);
    while (!todo.isEmpty()) {
      Set<String> more = aliases.get(todo.removeLast());
      if (more == null) continue;
      for (String n : more) if (out.add(n)) todo.add(n);
    }
    return out;
  }

  /** A table's or join's alias: its name is a relation's, its column names hide the real ones. */
  private void alias(JsonNode body) {
    JsonNode alias = body.path("alias");
    relations.add(alias.path("aliasname").asText(""));
    if (alias.path("colnames").size() > 0) renamed = true;
  }

  /**
   * ORDER BY 2, GROUP BY 1, DISTINCT ON (2): a position in the select list stands for that item's expression, which
   * is then used outside the projection (sorted or grouped on). An item that cannot be resolved (a
   * UNION's, a {@code SELECT *}'s) counts as every column.
   */
  private void positions(JsonNode select, JsonNode clause, int depth) {
    for (JsonNode item : clause) position(select, item, depth);
  }

  /**
   * One item of ORDER BY, GROUP BY or DISTINCT ON; inside ROLLUP, CUBE and GROUPING SETS (and their
   * parenthesised lists) a number is a position too (round 17: GROUP BY ROLLUP(2, 1) sorted by
   * email).
   */
  private void position(JsonNode select, JsonNode item, int depth) {
    if (depth > TreeClassifier.MAX_DEPTH) {
      column("*", true);
      return;
    }
    JsonNode expr = item.has("SortBy") ? item.path("SortBy").path("node") : item;
    if (expr.path("GroupingSet").isObject()) {
      for (JsonNode c : expr.path("GroupingSet").path("content")) position(select, c, depth + 1);
      return;
    }
    if (expr.path("RowExpr").isObject()) {
      for (JsonNode a : expr.path("RowExpr").path("args")) position(select, a, depth + 1);
      return;
    }
    JsonNode constant = expr.path("A_Const");
    if (!constant.has("ival")) return;
    int position = constant.path("ival").path("ival").asInt(0);
    JsonNode targets = select.path("targetList");
    boolean known = position >= 1 && position <= targets.size();
    for (int i = 0; known && i < position; i++) known = !expands(targets.get(i).path("ResTarget").path("val"));
    if (known) node(targets.get(position - 1).path("ResTarget").path("val"), true, depth + 1);
    else column("*", true);
  }

  /**
   * A name that a clause compares as a column without a column reference in the tree (JOIN …
   * USING (k), ON CONFLICT (k), a recursive CTE's SEARCH or CYCLE columns): used outside the
   * projection, and resolved through output names like any reference (round 17: USING (k) with k an
   * alias of email compared e-mails).
   */
  private void compared(String name) {
    column(name, true);
    refs.add(new Ref(name, true, returning == 0));
  }

  /**
   * The rows of a VALUES list, whose items are a select list's: one that computes on a column uses it
   * outside the projection (LATERAL (VALUES (ascii(c.email))) v WHERE column1 = 97: round 15), and
   * the names PostgreSQL gives its columns, column1, column2 …, stand for what the items read.
   */
  private void values(JsonNode rows, boolean out, int depth) {
    for (JsonNode row : rows) {
      JsonNode items = row.path("List").path("items");
      for (int i = 0; i < items.size(); i++) {
        JsonNode item = items.get(i);
        capturing.add(new LinkedHashSet<>());
        node(item, out || !shownAsItIs(item), depth + 1);
        aliases.computeIfAbsent("column" + (i + 1), k -> new LinkedHashSet<>()).addAll(capturing.removeLast());
      }
    }
  }

  /**
   * Whether a select-list item shows a column (or a whole row) as it is: {@code c}, {@code c.x}.
   * {@code (x).f} is not: PostgreSQL reads it as a field of x or as the call {@code f(x)}, whichever
   * x has ({@code (email).name} is {@code name(email)}, whose column is then called "name": round 16).
   */
  private static boolean shownAsItIs(JsonNode val) {
    return val.has("ColumnRef");
  }

  /** Whether a select-list item is {@code *} or {@code t.*}, which stands for several columns. */
  private static boolean expands(JsonNode val) {
    for (JsonNode f : val.path("ColumnRef").path("fields")) if (f.has("A_Star")) return true;
    return val.isMissingNode();
  }
}
