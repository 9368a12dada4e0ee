package dev.gatehouse.postgres.sql;

import static dev.gatehouse.core.CommandFlag.DATA_MODIFYING;
import static dev.gatehouse.core.CommandFlag.DDL;
import static dev.gatehouse.core.CommandFlag.FILE_ACCESS;
import static dev.gatehouse.core.CommandFlag.NO_WHERE;
import static dev.gatehouse.core.CommandFlag.OPAQUE_CODE;
import static dev.gatehouse.core.CommandFlag.PRIVILEGE_CHANGE;
import static dev.gatehouse.core.CommandFlag.ROLE_CHANGE;
import static dev.gatehouse.core.CommandFlag.SETTING_CHANGE;
import static dev.gatehouse.core.CommandFlag.UNCLASSIFIED;

import com.fasterxml.jackson.databind.JsonNode;
import dev.gatehouse.core.Classification;
import dev.gatehouse.core.CommandFlag;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Classifies one statement from libpg_query's JSON parse tree (PostgreSQL 15 raw parse nodes).
 *
 * <p>The walk visits every node of the tree. Statement nodes set kinds and flags (one switch,
 * {@link #statement}); function calls, operators, relations and a few clauses add facts; every
 * other node type on the {@link #STRUCTURAL} list is only descended into. A node type that is on no
 * list raises {@code UNCLASSIFIED}: a grammar the walker does not know never passes as harmless.
 * This class is long because PostgreSQL has some 120 statement types; the table stays in one place
 * so a reviewer can check it against the grammar. One instance per statement; not thread-safe.
 */
final class TreeClassifier {
  /** Deeper trees are refused rather than risking the thread's stack. */
  static final int MAX_DEPTH = 3000;

  /** What the walk found in one statement. */
  static final class Facts {
    final LinkedHashSet<String> kinds = new LinkedHashSet<>();
    final LinkedHashSet<String> objects = new LinkedHashSet<>();
    final LinkedHashSet<String> functions = new LinkedHashSet<>();
    /** The functions whose calls raised OPAQUE_CODE ({@link Classification#opaqueCalls}). */
    final LinkedHashSet<String> opaqueCalls = new LinkedHashSet<>();
    final EnumSet<CommandFlag> flags = EnumSet.noneOf(CommandFlag.class);
    boolean changesParsing;
    /** See {@link ClassifiedStatement#changesPlanning}. */
    boolean changesPlanning;
    /** Redact every string literal of the statement (secret-bearing statement types). */
    boolean redactAllStrings;
    /** A DO block or function definition: literals of its body that mention secrets redacted. */
    boolean redactCodeBodies;
    /** Byte offsets (in the whole query text) of string constants to redact. */
    final Set<Integer> redactAt = new HashSet<>();
    /** The roles the statement alters, renames or drops ({@link ClassifiedStatement#roles}). */
    final LinkedHashSet<String> roles = new LinkedHashSet<>();
    /** {@link ClassifiedStatement#unqualifiedBuiltins}. */
    final LinkedHashSet<String> unqualifiedBuiltins = new LinkedHashSet<>();
    /** {@link ClassifiedStatement#roleSet}; null when none. */
    String roleSet;

    Classification classification() {
      return new Classification(new ArrayList<>(kinds), objects, functions, flags, opaqueCalls);
    }
  }

  /** Node types that carry no fact of their own: descend only. */
  private static final Set<String> STRUCTURAL = Set.of(
      "List", "ResTarget", "A_Indices", "A_ArrayExpr", "TypeName",
      "CollateClause", "BoolExpr", "NullTest", "BooleanTest", "CaseWhen", "CoalesceExpr",
      "MinMaxExpr", "SQLValueFunction", "XmlExpr", "XmlSerialize", "RowExpr", "GroupingFunc", "GroupingSet",
      "SetToDefault", "CurrentOfExpr", "NamedArgExpr", "MultiAssignRef", "WindowDef",
      "RangeSubselect", "RangeFunction", "RangeTableFunc", "RangeTableFuncCol", "IntoClause",
      "WithClause", "CommonTableExpr", "CTESearchClause", "CTECycleClause", "OnConflictClause", "InferClause",
      "IndexElem", "LockingClause", "ColumnDef", "Constraint", "DefElem", "RoleSpec", "ObjectWithArgs",
      "AccessPriv", "FunctionParameter", "PartitionSpec", "PartitionElem", "PartitionBoundSpec",
      "PartitionRangeDatum", "PartitionCmd", "TableLikeClause", "StatsElem", "PublicationObjSpec",
      "PublicationTable", "CreateOpClassItem", "TriggerTransition", "VacuumRelation", "Alias", "IntList",
      "OidList", "ParamRef", "A_Star", "A_Const", "String", "Integer", "Float", "Boolean", "BitString",
      "ReplicaIdentityStmt", "ReturnStmt");

  private static final Set<String> ROW_SECURITY_AND_OWNER = Set.of(
      "AT_ChangeOwner", "AT_EnableRowSecurity", "AT_DisableRowSecurity", "AT_ForceRowSecurity",
      "AT_NoForceRowSecurity");

  private static final Set<String> RELATION_OBJECT_TYPES = Set.of(
      "OBJECT_TABLE", "OBJECT_VIEW", "OBJECT_MATVIEW", "OBJECT_INDEX", "OBJECT_SEQUENCE", "OBJECT_FOREIGN_TABLE");

  private static final Map<String, String> OBJECT_WORDS = Map.ofEntries(
      Map.entry("OBJECT_MATVIEW", "MATERIALIZED VIEW"),
      Map.entry("OBJECT_FOREIGN_TABLE", "FOREIGN TABLE"),
      Map.entry("OBJECT_FOREIGN_SERVER", "SERVER"),
      Map.entry("OBJECT_FDW", "FOREIGN DATA WRAPPER"),
      Map.entry("OBJECT_TSCONFIGURATION", "TEXT SEARCH CONFIGURATION"),
      Map.entry("OBJECT_TSDICTIONARY", "TEXT SEARCH DICTIONARY"),
      Map.entry("OBJECT_TSPARSER", "TEXT SEARCH PARSER"),
      Map.entry("OBJECT_TSTEMPLATE", "TEXT SEARCH TEMPLATE"),
      Map.entry("OBJECT_OPCLASS", "OPERATOR CLASS"),
      Map.entry("OBJECT_OPFAMILY", "OPERATOR FAMILY"),
      Map.entry("OBJECT_STATISTIC_EXT", "STATISTICS"),
      Map.entry("OBJECT_LARGEOBJECT", "LARGE OBJECT"),
      Map.entry("OBJECT_TABCONSTRAINT", "CONSTRAINT"),
      Map.entry("OBJECT_DOMCONSTRAINT", "CONSTRAINT"),
      Map.entry("OBJECT_ACCESS_METHOD", "ACCESS METHOD"),
      Map.entry("OBJECT_PUBLICATION_NAMESPACE", "PUBLICATION"),
      Map.entry("OBJECT_PUBLICATION_REL", "PUBLICATION"),
      Map.entry("OBJECT_USER_MAPPING", "USER MAPPING"),
      Map.entry("OBJECT_DEFACL", "DEFAULT PRIVILEGES"),
      Map.entry("OBJECT_AMOP", "OPERATOR FAMILY"),
      Map.entry("OBJECT_AMPROC", "OPERATOR FAMILY"),
      Map.entry("OBJECT_ATTRIBUTE", "TYPE"),
      Map.entry("OBJECT_SCHEMA", "SCHEMA"),
      Map.entry("OBJECT_EVENT_TRIGGER", "EVENT TRIGGER"));

  private final Facts facts = new Facts();

  /** Inside the select list of {@code SELECT … FROM pg_settings WHERE name = 'x'}: x (see settingRowOf). */
  private String settingRow;

  private TreeClassifier() {}

  /** Classifies the statement node {@code {"SelectStmt": {...}}} of one RawStmt. */
  static Facts classify(JsonNode stmt) {
    TreeClassifier t = new TreeClassifier();
    if (!stmt.isObject() || stmt.size() != 1) {
      t.facts.flags.add(UNCLASSIFIED);
      return t.facts;
    }
    Map.Entry<String, JsonNode> e = stmt.fields().next();
    t.statement(e.getKey(), e.getValue(), Set.of(), true, 0);
    if (t.facts.kinds.isEmpty()) t.facts.flags.add(UNCLASSIFIED);
    return t.facts;
  }

  // ---- generic walk -------------------------------------------------------------------------

  /** The type name and body of a typed node ({@code {"SelectStmt": {…}}}), or null when {@code n} is not one. */
  static Map.Entry<String, JsonNode> typedNode(JsonNode n) {
    if (n.size() != 1) return null;
    Map.Entry<String, JsonNode> e = n.fields().next();
    String key = e.getKey();
    return !key.isEmpty() && Character.isUpperCase(key.charAt(0)) && e.getValue().isObject() ? e : null;
  }

  private void node(JsonNode n, Set<String> ctes, int depth) {
    if (depth > MAX_DEPTH) {
      facts.flags.add(UNCLASSIFIED);
      return;
    }
    if (n.isArray()) {
      for (JsonNode e : n) node(e, ctes, depth + 1);
      return;
    }
    if (!n.isObject()) return;
    Map.Entry<String, JsonNode> typed = typedNode(n);
    if (typed != null) {
      typed(typed.getKey(), typed.getValue(), ctes, depth + 1);
      return;
    }
    // A struct embedded without its type name (a typed pointer field such as "relation").
    if (n.has("relname")) {
      rangeVar(n, ctes);
      return;
    }
    fields(n, Set.of(), ctes, depth + 1);
  }

  private void fields(JsonNode body, Set<String> skip, Set<String> ctes, int depth) {
    Iterator<Map.Entry<String, JsonNode>> it = body.fields();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> e = it.next();
      if (skip.contains(e.getKey())) continue;
      // A type named anywhere (a column definition list's AS r(a email_address), XMLSERIALIZE …
      // AS t) may coerce values to it: checked against the catalog like a cast's (round 9).
      if (e.getKey().equals("typeName") && e.getValue().isObject()) typeName(e.getValue());
      node(e.getValue(), ctes, depth);
    }
  }

  private void typeName(JsonNode t) {
    List<String> names = strings(t.path("names"));
    if (!names.isEmpty()) facts.unqualifiedBuiltins.add("::" + names.get(names.size() - 1));
  }

  private void typed(String type, JsonNode body, Set<String> ctes, int depth) {
    switch (type) {
      case "FuncCall" -> funcCall(body, ctes, depth);
      case "A_Expr" -> {
        String kind = body.path("kind").asText();
        if (!kind.startsWith("AEXPR_BETWEEN") && !kind.startsWith("AEXPR_NOT_BETWEEN")) {
          operator(body.path("name"));
        } else {
          // BETWEEN is written as a keyword, but PostgreSQL finds >= and <= by name for it.
          facts.unqualifiedBuiltins.add(">=");
          facts.unqualifiedBuiltins.add("<=");
        }
        fields(body, Set.of("name"), ctes, depth);
      }
      case "SubLink" -> {
        if (body.has("operName")) operator(body.path("operName"));
        // x IN (SELECT …), = ANY (…) without an operator written: = is found by name.
        else if (!body.path("subLinkType").asText().equals("EXISTS_SUBLINK")) facts.unqualifiedBuiltins.add("=");
        fields(body, Set.of("operName"), ctes, depth);
      }
      case "SortBy" -> {
        // ORDER BY x USING op names its operator.
        if (body.has("useOp")) operator(body.path("useOp"));
        fields(body, Set.of("useOp"), ctes, depth);
      }
      case "JoinExpr" -> {
        // JOIN … USING (c) and NATURAL JOIN compare the columns with an = found by name.
        if (body.has("usingClause") || body.path("isNatural").asBoolean()) facts.unqualifiedBuiltins.add("=");
        fields(body, Set.of(), ctes, depth);
      }
      case "CaseExpr" -> {
        // CASE x WHEN y: each WHEN compares with an = found by name.
        if (body.has("arg")) facts.unqualifiedBuiltins.add("=");
        fields(body, Set.of(), ctes, depth);
      }
      case "TypeCast" -> {
        // A cast can run code: a cast function, a domain's CHECK: the type's name is checked against
        // the resource's catalog (see ClassifiedStatement#unqualifiedBuiltins).
        List<String> typeNames = strings(body.path("typeName").path("names"));
        if (!typeNames.isEmpty()) facts.unqualifiedBuiltins.add("::" + typeNames.get(typeNames.size() - 1));
        fields(body, Set.of(), ctes, depth);
      }
      case "ColumnRef" -> {
        // a.b.f: each name after the first may be a call of that function on what precedes it.
        JsonNode names = body.path("fields");
        for (int i = 1; i < names.size(); i++) {
          JsonNode name = names.get(i).path("String").path("sval");
          if (name.isTextual()) attributeCall(name.asText(), null);
        }
        fields(body, Set.of(), ctes, depth);
      }
      case "A_Indirection" -> {
        // (x).f: a field of x, or the call f(x).
        for (JsonNode step : body.path("indirection")) {
          JsonNode name = step.path("String").path("sval");
          if (name.isTextual()) attributeCall(name.asText(), body.path("arg"));
        }
        fields(body, Set.of(), ctes, depth);
      }
      case "RangeVar" -> rangeVar(body, ctes);
      case "TypeName" -> {
        typeName(body);
        fields(body, Set.of(), ctes, depth);
      }
      case "RangeTableSample" -> {
        List<String> method = strings(body.path("method"));
        boolean builtin = method.size() == 1 && (method.get(0).equals("bernoulli") || method.get(0).equals("system"));
        if (!builtin) {
          facts.flags.add(OPAQUE_CODE);
          facts.functions.add(String.join(".", method));
          facts.opaqueCalls.add(String.join(".", method));
        }
        fields(body, Set.of("method"), ctes, depth);
      }
      case "MergeWhenClause" -> {
        switch (body.path("commandType").asText()) {
          case "CMD_UPDATE" -> facts.kinds.add("UPDATE");
          case "CMD_INSERT" -> facts.kinds.add("INSERT");
          case "CMD_DELETE" -> facts.kinds.add("DELETE");
          default -> {}
        }
        fields(body, Set.of(), ctes, depth);
      }
      case "LockingClause" -> {
        // SELECT … FOR UPDATE/SHARE: row locks that stall writers until the transaction ends.
        facts.flags.add(CommandFlag.LOCKING);
        fields(body, Set.of(), ctes, depth);
      }
      case "AlterTableCmd" -> {
        if (ROW_SECURITY_AND_OWNER.contains(body.path("subtype").asText())) facts.flags.add(PRIVILEGE_CHANGE);
        fields(body, Set.of(), ctes, depth);
      }
      default -> {
        if (STRUCTURAL.contains(type)) {
          fields(body, Set.of(), ctes, depth);
        } else if (type.endsWith("Stmt")) {
          statement(type, body, ctes, false, depth);
        } else {
          // Unknown to this walker: say so rather than pass it as harmless.
          facts.flags.add(UNCLASSIFIED);
          fields(body, Set.of(), ctes, depth);
        }
      }
    }
  }

  private void rangeVar(JsonNode rv, Set<String> ctes) {
    String name = qualifiedName(rv);
    boolean unqualified = !rv.has("schemaname") && !rv.has("catalogname");
    if (unqualified && ctes.contains(name)) return;
    facts.objects.add(name);
  }

  private static String qualifiedName(JsonNode rv) {
    StringBuilder b = new StringBuilder();
    if (rv.has("catalogname")) b.append(rv.get("catalogname").asText()).append('.');
    if (rv.has("schemaname")) b.append(rv.get("schemaname").asText()).append('.');
    return b.append(rv.path("relname").asText()).toString();
  }

  private void operator(JsonNode name) {
    List<String> parts = strings(name);
    if (parts.isEmpty()) return;
    String op = parts.get(parts.size() - 1);
    boolean builtinSchema = parts.size() == 1 || (parts.size() == 2 && parts.get(0).equals("pg_catalog"));
    if (!builtinSchema || !Functions.OPERATORS.contains(op)) facts.flags.add(OPAQUE_CODE);
    else if (parts.size() == 1) facts.unqualifiedBuiltins.add(op);
  }

  // ---- functions ----------------------------------------------------------------------------

  private void funcCall(JsonNode body, Set<String> ctes, int depth) {
    List<String> names = strings(body.path("funcname"));
    if (names.isEmpty()) {
      facts.flags.add(UNCLASSIFIED);
      return;
    }
    String last = names.get(names.size() - 1);
    String lower = last.toLowerCase(Locale.ROOT);
    boolean builtinSchema = names.size() == 1 || (names.size() == 2 && names.get(0).equals("pg_catalog"));
    // EXTRACT(...), SUBSTRING(... FROM ...), x AT TIME ZONE y: the grammar writes pg_catalog.* itself.
    boolean sqlSyntax = body.path("funcformat").asText().equals("COERCE_SQL_SYNTAX") && builtinSchema;
    String called = sqlSyntax ? last : String.join(".", names);
    facts.functions.add(called);
    JsonNode args = body.path("args");
    // set_config of a setting named by a constant is a SET: flagged as one (setConfig), no more opaque.
    boolean setting = Functions.SETTINGS.contains(lower) && setConfig(args);
    boolean known = builtinSchema && (Functions.HARMLESS.contains(last) || Functions.SEQUENCE_WRITES.contains(last)
            || Functions.ADVISORY_LOCKS.contains(last) || Functions.NOTIFIES.contains(last) || setting)
        || names.size() == 2 && names.get(0).equals("information_schema")
            && Functions.HARMLESS_INFORMATION_SCHEMA.contains(last);
    if (!known) {
      facts.flags.add(OPAQUE_CODE);
      facts.opaqueCalls.add(called);
    } else if (names.size() == 1 && !sqlSyntax) {
      facts.unqualifiedBuiltins.add(last);
    }
    if (known && Functions.ADVISORY_LOCKS.contains(last)) facts.flags.add(CommandFlag.LOCKING);
    // SELECT pg_notify(…) is a NOTIFY, and is allowed where NOTIFY is (a look-alike is opaque anyway).
    if (known && Functions.NOTIFIES.contains(last)) facts.kinds.add("NOTIFY");
    // The checks below go by the bare name whatever the schema: extensions such as dblink and
    // pgcrypto live in ordinary schemas, and flagging a look-alike user function costs nothing.
    if (Functions.FILE_ACCESS.contains(lower)) facts.flags.add(FILE_ACCESS);
    if (Functions.WRITES.contains(lower)) facts.flags.add(DATA_MODIFYING);
    int[] secret = Functions.SECRET_ARGUMENTS.get(lower);
    if (secret != null) {
      boolean named = false;
      for (JsonNode a : args) named |= a.has("NamedArgExpr");
      for (int i = 0; i < args.size(); i++) {
        if (named || contains(secret, -1) || contains(secret, i)) collectStrings(args.get(i), facts.redactAt, 0);
      }
    }
    fields(body, Set.of("funcname"), ctes, depth);
  }

  /**
   * A name written after a dot, which PostgreSQL reads as a call of the function of that name on the
   * value before the dot when that value has no such field or column (attribute notation: {@code
   * (x).nextval} is {@code nextval(x)}, for an argument of any type). Which it is depends on types
   * Gatehouse does not know, so a name that a built-in (or a flagged extension function) callable
   * with one argument bears is classified as that call; harmless ones are columns as far as policy
   * is concerned. Functions someone made are the catalog's to find (SessionMasking.hiddenCode).
   */
  private void attributeCall(String name, JsonNode argument) {
    if (!Functions.calledByAttribute(name)) return;
    facts.functions.add(name);
    boolean known = Functions.SEQUENCE_WRITES.contains(name) || Functions.ADVISORY_LOCKS.contains(name);
    if (known) {
      facts.unqualifiedBuiltins.add(name);
    } else {
      facts.flags.add(OPAQUE_CODE);
      facts.opaqueCalls.add(name);
    }
    if (Functions.ADVISORY_LOCKS.contains(name)) facts.flags.add(CommandFlag.LOCKING);
    if (Functions.FILE_ACCESS.contains(name)) facts.flags.add(FILE_ACCESS);
    if (Functions.WRITES.contains(name)) facts.flags.add(DATA_MODIFYING);
    if (argument != null && Functions.SECRET_ARGUMENTS.containsKey(name)) collectStrings(argument, facts.redactAt, 0);
  }

  /**
   * The setting's name when {@code b} is {@code … FROM pg_settings WHERE name = 'x'} and nothing
   * else, for the one setting pg_dump sets that way ({@code restrict_nonsystem_relation_kind}, so
   * that older servers, which lack it, set nothing); null otherwise. Only for that name: a table
   * or WITH query of the name can make {@code name = 'x '} true of a row whose name is another
   * setting ({@code 'role'::char(10)}, which ignores trailing blanks; red-team round 10), and its
   * caller refuses a WITH query named pg_settings.
   */
  private static String settingRowOf(JsonNode b) {
    JsonNode from = b.path("fromClause");
    if (from.size() != 1 || b.has("groupClause") || b.has("havingClause")) return null;
    JsonNode rel = from.get(0).path("RangeVar");
    if (!rel.path("relname").asText("").equals("pg_settings")) return null;
    if (rel.has("schemaname") && !rel.path("schemaname").asText().equals("pg_catalog")) return null;
    JsonNode where = b.path("whereClause").path("A_Expr");
    if (!where.path("kind").asText().equals("AEXPR_OP") || !strings(where.path("name")).equals(List.of("="))) return null;
    JsonNode column = where.path("lexpr").path("ColumnRef").path("fields");
    if (column.size() != 1 || !column.get(0).path("String").path("sval").asText("").equals("name")) return null;
    String name = constantString(where.path("rexpr"));
    return "restrict_nonsystem_relation_kind".equals(name) ? name : null;
  }

  /**
   * Flags a {@code set_config(name, value, local)} call as the SET it is. True when it is no more
   * than that SET: the name is known, and a search_path is a constant that does not put another
   * schema before pg_catalog.
   */
  private boolean setConfig(JsonNode args) {
    facts.flags.add(SETTING_CHANGE);
    String name = constantString(args.path(0));
    JsonNode column = args.path(0).path("ColumnRef").path("fields");
    if (name == null && settingRow != null && column.size() == 1
        && column.get(0).path("String").path("sval").asText("").equals("name")) {
      name = settingRow; // set_config(name, …) FROM pg_settings WHERE name = 'x' (pg_dump)
    }
    if (name == null) {
      // The setting is computed at run time: it could be any of them.
      facts.flags.add(ROLE_CHANGE);
      facts.changesParsing = true;
      facts.changesPlanning = true;
      collectStrings(args.path(1), facts.redactAt, 0);
      return false;
    }
    String n = name.toLowerCase(Locale.ROOT);
    if (Functions.ROLE_SETTINGS.contains(n)) facts.flags.add(ROLE_CHANGE);
    if (Functions.PARSING_SETTINGS.contains(n)) facts.changesParsing = true;
    if (Functions.plannerSetting(n)) facts.changesPlanning = true;
    if (Functions.secretSetting(n)) collectStrings(args.path(1), facts.redactAt, 0);
    if (n.equals("search_path")) {
      // Computed, it could name any schema before pg_catalog; a constant is read like SET's.
      if (constantString(args.path(1)) == null || shadowsCatalog(args.path(1))) return false;
    }
    return true;
  }

  private static String constantString(JsonNode n) {
    JsonNode c = n.path("A_Const");
    if (c.has("sval")) return c.path("sval").path("sval").asText("");
    return null;
  }

  /**
   * Byte offsets of every constant under {@code n}: strings, and numbers and bare words too (round
   * 18b: {@code SET my.password TO S3cretIDENT} kept the word, a secret setting's value as much as a
   * quoted one).
   */
  private static void collectStrings(JsonNode n, Set<Integer> out, int depth) {
    if (depth > MAX_DEPTH || n == null) return;
    if (n.isArray()) {
      for (JsonNode e : n) collectStrings(e, out, depth + 1);
      return;
    }
    if (!n.isObject()) return;
    JsonNode c = n.get("A_Const");
    if (c != null && !c.has("isnull") && c.has("location")) out.add(c.get("location").asInt());
    Iterator<JsonNode> it = n.elements();
    while (it.hasNext()) collectStrings(it.next(), out, depth + 1);
  }

  /**
   * Whether a condition names a column that may be one of the statement's target ({@code target}:
   * the names the target goes by, its table's and its alias), or is {@code WHERE CURRENT OF}, which
   * picks a cursor's row: a column written without a table (it may be the target's), or one whose
   * table is the target. One that names none ({@code true}, {@code 1 = 1}, {@code NOT false}, no
   * condition at all) keeps every row or none: as good as a forgotten WHERE (review round 20:
   * {@code WHERE true} passed the rule on {@code no_where}); so does one that names only another
   * table's columns, the forgotten join condition of {@code UPDATE … FROM other WHERE other.id = 1}
   * (review round 22). Any column of the target will do, {@code id = id} too: the flag guards against
   * the forgotten clause, not against intent.
   */
  private static boolean namesTargetColumn(JsonNode n, Set<String> target, int depth) {
    if (depth > MAX_DEPTH || !(n.isArray() || n.isObject())) return false;
    if (n.has("CurrentOfExpr")) return true;
    JsonNode ref = n.get("ColumnRef");
    if (ref != null) {
      JsonNode fields = ref.path("fields");
      if (fields.size() < 2) return true;
      String table = fields.get(fields.size() - 2).path("String").path("sval").asText(null);
      return table == null || target.contains(table);
    }
    Iterator<JsonNode> it = n.elements();
    while (it.hasNext()) {
      if (namesTargetColumn(it.next(), target, depth + 1)) return true;
    }
    return false;
  }

  /** The names a statement's target relation goes by in its conditions: its table's, and its alias. */
  private static Set<String> targetNames(JsonNode relation) {
    Set<String> names = new HashSet<>();
    String table = relation.path("relname").asText("");
    if (!table.isEmpty()) names.add(table);
    String alias = relation.path("alias").path("aliasname").asText("");
    if (!alias.isEmpty()) names.add(alias);
    return names;
  }

  /**
   * Whether a MERGE updates or deletes every row of its target it matches to a source row, with an
   * {@code ON} condition that names no column of the target ({@code ON true}, {@code ON s.id = 1})
   * and a {@code WHEN MATCHED} action whose own condition names none either: {@link
   * #namesTargetColumn}'s rule, for MERGE.
   */
  private static boolean mergesEveryRow(JsonNode b) {
    Set<String> target = targetNames(b.path("relation"));
    if (namesTargetColumn(b.path("joinCondition"), target, 0)) return false;
    for (JsonNode w : b.path("mergeWhenClauses")) {
      JsonNode clause = w.path("MergeWhenClause");
      String command = clause.path("commandType").asText();
      if (clause.path("matched").asBoolean() && (command.equals("CMD_UPDATE") || command.equals("CMD_DELETE"))
          && !namesTargetColumn(clause.path("condition"), target, 0)) {
        return true;
      }
    }
    return false;
  }

  // ---- statements ---------------------------------------------------------------------------

  /**
   * One statement node. {@code explicit} is true for the top-level statement and for the inner
   * statement of EXPLAIN, PREPARE, DECLARE, CREATE TABLE AS, CREATE VIEW, COPY (query) and rule
   * actions; a plain SELECT nested in an expression (subquery, CTE, INSERT ... SELECT) adds no kind.
   */
  private void statement(String type, JsonNode b, Set<String> ctes, boolean explicit, int depth) {
    if (depth > MAX_DEPTH) {
      facts.flags.add(UNCLASSIFIED);
      return;
    }
    int d = depth + 1;
    switch (type) {
      case "SelectStmt" -> {
        // Kinds first, so the statement's own kind leads the list and nested ones follow.
        if (b.has("intoClause")) {
          kind("CREATE TABLE AS", DDL, DATA_MODIFYING);
          facts.kinds.add("SELECT");
          node(b.path("intoClause").path("rel"), Set.of(), d);
        } else if (explicit) {
          facts.kinds.add("SELECT");
        }
        Set<String> scope = withClause(b, ctes, d);
        if (b.has("larg")) statement("SelectStmt", b.get("larg"), scope, false, d);
        if (b.has("rarg")) statement("SelectStmt", b.get("rarg"), scope, false, d);
        String outer = settingRow;
        settingRow = scope.contains("pg_settings") ? null : settingRowOf(b);
        try {
          fields(b, Set.of("withClause", "intoClause", "larg", "rarg"), scope, d);
        } finally {
          settingRow = outer;
        }
      }
      case "InsertStmt" -> {
        dml(b, ctes, d, "INSERT");
        // ON CONFLICT … DO UPDATE updates the rows that are already there: a rule on UPDATE applies.
        if ("ONCONFLICT_UPDATE".equals(b.path("onConflictClause").path("action").asText())) kind("UPDATE", DATA_MODIFYING);
      }
      case "UpdateStmt" -> {
        dml(b, ctes, d, "UPDATE");
        if (!namesTargetColumn(b.path("whereClause"), targetNames(b.path("relation")), 0)) facts.flags.add(NO_WHERE);
      }
      case "DeleteStmt" -> {
        dml(b, ctes, d, "DELETE");
        if (!namesTargetColumn(b.path("whereClause"), targetNames(b.path("relation")), 0)) facts.flags.add(NO_WHERE);
      }
      case "MergeStmt" -> {
        dml(b, ctes, d, "MERGE");
        if (mergesEveryRow(b)) facts.flags.add(NO_WHERE);
      }
      case "CopyStmt" -> {
        kind("COPY");
        if (b.path("is_from").asBoolean()) facts.flags.add(DATA_MODIFYING);
        if (b.path("is_program").asBoolean()) facts.flags.add(CommandFlag.COPY_PROGRAM);
        else if (b.has("filename")) facts.flags.add(FILE_ACCESS);
        inner(b.path("query"), ctes, d);
        fields(b, Set.of("query"), ctes, d);
      }
      case "ExplainStmt" -> explicitInner(b, "EXPLAIN", "query", ctes, d);
      case "PrepareStmt" -> explicitInner(b, "PREPARE", "query", ctes, d);
      case "DeclareCursorStmt" -> explicitInner(b, "DECLARE CURSOR", "query", ctes, d);
      case "ExecuteStmt" -> {
        // EXECUTE's arguments are a Bind's parameters, whose values are not recorded either (round
        // 18b: EXECUTE pk('S3cret') of PREPARE pk(text) AS SELECT pgp_sym_encrypt('d', $1) kept the key).
        collectStrings(b.path("params"), facts.redactAt, 0);
        simple(b, ctes, d, "EXECUTE", OPAQUE_CODE);
      }
      case "DeallocateStmt" -> simple(b, ctes, d, b.has("name") ? "DEALLOCATE" : "DEALLOCATE ALL");
      case "FetchStmt" -> simple(b, ctes, d, b.path("ismove").asBoolean() ? "MOVE" : "FETCH");
      case "ClosePortalStmt" -> simple(b, ctes, d, b.has("portalname") ? "CLOSE CURSOR" : "CLOSE CURSOR ALL");
      case "TransactionStmt" -> simple(b, ctes, d, transactionKind(b.path("kind").asText()), CommandFlag.TRANSACTION_CONTROL);
      case "VariableSetStmt" -> {
        String k = b.path("kind").asText();
        kind(k.startsWith("VAR_RESET") ? "RESET" : "SET");
        boolean parsedBefore = facts.changesParsing;
        setting(b, false);
        if (depth == 0) roleSet(b, k);
        // SET client_encoding = 'UTF8' and SET standard_conforming_strings = on change nothing: the
        // session has those values from its start (and a SET LOCAL's end restores them).
        if (!parsedBefore && keepsFixedValue(b)) facts.changesParsing = false;
      }
      case "VariableShowStmt" -> simple(b, ctes, d, "SHOW");
      case "DiscardStmt" -> {
        String target = b.path("target").asText();
        switch (target) {
          case "DISCARD_ALL" -> {
            kind("DISCARD ALL", SETTING_CHANGE, ROLE_CHANGE);
            facts.changesParsing = true;
          }
          case "DISCARD_PLANS" -> kind("DISCARD PLANS");
          case "DISCARD_SEQUENCES" -> kind("DISCARD SEQUENCES");
          case "DISCARD_TEMP" -> kind("DISCARD TEMP");
          default -> kind("DISCARD", UNCLASSIFIED);
        }
      }
      case "AlterSystemStmt" -> {
        // Writes postgresql.auto.conf on the server; settings such as archive_command or
        // shared_preload_libraries run programs or load code later: as risky as COPY ... PROGRAM.
        settingHolder(b, "ALTER SYSTEM");
        facts.flags.add(FILE_ACCESS);
        facts.flags.add(OPAQUE_CODE);
      }
      case "AlterRoleSetStmt" -> {
        settingHolder(b, "ALTER ROLE");
        facts.flags.add(PRIVILEGE_CHANGE);
        if (b.has("role")) roleSpec(b.path("role"));
        else facts.roles.add(ClassifiedStatement.ALL_ROLES);
      }
      case "AlterDatabaseSetStmt" -> {
        settingHolder(b, "ALTER DATABASE");
        facts.flags.add(DDL);
      }
      case "CreateRoleStmt" -> {
        String t = b.path("stmt_type").asText();
        memberships(b);
        role(b, ctes, d, t.equals("ROLESTMT_USER") ? "CREATE USER" : t.equals("ROLESTMT_GROUP") ? "CREATE GROUP" : "CREATE ROLE");
      }
      case "AlterRoleStmt" -> {
        roleSpec(b.path("role"));
        memberships(b);
        role(b, ctes, d, "ALTER ROLE");
      }
      case "DropRoleStmt" -> {
        for (JsonNode r : b.path("roles")) roleSpec(r);
        simple(b, ctes, d, "DROP ROLE", PRIVILEGE_CHANGE);
      }
      case "GrantStmt" -> simple(b, ctes, d, b.path("is_grant").asBoolean() ? "GRANT" : "REVOKE", PRIVILEGE_CHANGE);
      case "GrantRoleStmt" -> {
        // GRANT role TO other: the other gains the role's rights (and, with ADMIN, its password's);
        // GRANT other TO role: the role gains the other's (beyond what registering it checked).
        for (JsonNode r : b.path("granted_roles")) facts.roles.add(r.path("AccessPriv").path("priv_name").asText(""));
        for (JsonNode r : b.path("grantee_roles")) roleSpec(r);
        simple(b, ctes, d, b.path("is_grant").asBoolean() ? "GRANT" : "REVOKE", PRIVILEGE_CHANGE);
      }
      case "AlterDefaultPrivilegesStmt" -> simple(b, ctes, d, "ALTER DEFAULT PRIVILEGES", PRIVILEGE_CHANGE);
      case "ReassignOwnedStmt" -> {
        for (JsonNode r : b.path("roles")) roleSpec(r);
        simple(b, ctes, d, "REASSIGN OWNED", PRIVILEGE_CHANGE);
      }
      case "DropOwnedStmt" -> {
        for (JsonNode r : b.path("roles")) roleSpec(r);
        simple(b, ctes, d, "DROP OWNED", PRIVILEGE_CHANGE, DDL);
      }
      case "DoStmt" -> {
        facts.redactCodeBodies = true;
        simple(b, ctes, d, "DO", OPAQUE_CODE);
      }
      case "CallStmt" -> {
        kind("CALL", OPAQUE_CODE);
        if (b.has("funccall")) funcCall(b.get("funccall"), ctes, d);
        fields(b, Set.of("funccall", "funcexpr"), ctes, d);
      }
      case "CreateFunctionStmt" -> {
        facts.redactCodeBodies = true;
        simple(b, ctes, d, b.path("is_procedure").asBoolean() ? "CREATE PROCEDURE" : "CREATE FUNCTION", DDL, OPAQUE_CODE);
      }
      case "AlterFunctionStmt" -> simple(b, ctes, d, "ALTER " + objectWords(b.path("objtype").asText("OBJECT_FUNCTION")), DDL);
      case "CreateTrigStmt" -> simple(b, ctes, d, "CREATE TRIGGER", DDL, OPAQUE_CODE);
      case "CreateEventTrigStmt" -> simple(b, ctes, d, "CREATE EVENT TRIGGER", DDL, OPAQUE_CODE);
      case "AlterEventTrigStmt" -> simple(b, ctes, d, "ALTER EVENT TRIGGER", DDL);
      case "RuleStmt" -> {
        // Rule actions run later, on someone else's statement: report what they would do.
        kind("CREATE RULE", DDL, OPAQUE_CODE);
        for (JsonNode a : b.path("actions")) inner(a, ctes, d);
        fields(b, Set.of("actions"), ctes, d);
      }
      case "CreateStmt" -> simple(b, ctes, d, "CREATE TABLE", DDL);
      case "CreateForeignTableStmt" -> simple(b, ctes, d, "CREATE FOREIGN TABLE", DDL);
      case "CreateTableAsStmt" -> {
        boolean matview = b.path("objtype").asText().equals("OBJECT_MATVIEW");
        kind(matview ? "CREATE MATERIALIZED VIEW" : "CREATE TABLE AS", DDL, DATA_MODIFYING);
        inner(b.path("query"), ctes, d);
        fields(b, Set.of("query"), ctes, d);
      }
      case "ViewStmt" -> {
        kind("CREATE VIEW", DDL);
        inner(b.path("query"), ctes, d);
        fields(b, Set.of("query"), ctes, d);
      }
      case "IndexStmt" -> simple(b, ctes, d, "CREATE INDEX", DDL);
      case "CreateSchemaStmt" -> {
        kind("CREATE SCHEMA", DDL);
        for (JsonNode e : b.path("schemaElts")) inner(e, ctes, d);
        fields(b, Set.of("schemaElts"), ctes, d);
      }
      case "CreateSeqStmt" -> simple(b, ctes, d, "CREATE SEQUENCE", DDL);
      case "AlterSeqStmt" -> simple(b, ctes, d, "ALTER SEQUENCE", DDL);
      case "AlterTableStmt" -> simple(b, ctes, d, "ALTER " + objectWords(b.path("objtype").asText("OBJECT_TABLE")), DDL);
      case "AlterTableMoveAllStmt" -> simple(b, ctes, d, "ALTER " + objectWords(b.path("objtype").asText("OBJECT_TABLE")), DDL);
      case "RenameStmt" -> {
        String t = b.path("renameType").asText();
        if (t.equals("OBJECT_ROLE")) facts.roles.add(b.path("subname").asText(""));
        boolean part = t.equals("OBJECT_COLUMN") || t.equals("OBJECT_TABCONSTRAINT") || t.equals("OBJECT_TRIGGER")
            || t.equals("OBJECT_RULE") || t.equals("OBJECT_POLICY");
        String words = part && b.has("relationType") && !t.equals("OBJECT_TRIGGER") && !t.equals("OBJECT_RULE") && !t.equals("OBJECT_POLICY")
            ? objectWords(b.path("relationType").asText()) : objectWords(t);
        simple(b, ctes, d, "ALTER " + words, DDL);
      }
      case "AlterObjectSchemaStmt", "AlterObjectDependsStmt" -> simple(b, ctes, d, "ALTER " + objectWords(b.path("objectType").asText()), DDL);
      case "AlterOwnerStmt" -> simple(b, ctes, d, "ALTER " + objectWords(b.path("objectType").asText()), DDL, PRIVILEGE_CHANGE);
      case "DropStmt" -> {
        String t = b.path("removeType").asText();
        kind("DROP " + objectWords(t), DDL);
        if (RELATION_OBJECT_TYPES.contains(t)) {
          for (JsonNode o : b.path("objects")) facts.objects.add(String.join(".", strings(o.path("List").path("items"))));
        }
        fields(b, Set.of("objects"), ctes, d);
        node(b.path("objects"), Set.of(), d);
      }
      case "TruncateStmt" -> simple(b, ctes, d, "TRUNCATE", DATA_MODIFYING);
      case "CommentStmt" -> simple(b, ctes, d, "COMMENT", DDL);
      case "SecLabelStmt" -> simple(b, ctes, d, "SECURITY LABEL", DDL);
      case "CreatedbStmt" -> simple(b, ctes, d, "CREATE DATABASE", DDL);
      case "AlterDatabaseStmt", "AlterDatabaseRefreshCollStmt" -> simple(b, ctes, d, "ALTER DATABASE", DDL);
      case "DropdbStmt" -> simple(b, ctes, d, "DROP DATABASE", DDL);
      case "CreateTableSpaceStmt" -> simple(b, ctes, d, "CREATE TABLESPACE", DDL, FILE_ACCESS);
      case "DropTableSpaceStmt" -> simple(b, ctes, d, "DROP TABLESPACE", DDL);
      case "AlterTableSpaceOptionsStmt" -> simple(b, ctes, d, "ALTER TABLESPACE", DDL);
      case "CreateExtensionStmt" -> simple(b, ctes, d, "CREATE EXTENSION", DDL, OPAQUE_CODE);
      case "AlterExtensionStmt", "AlterExtensionContentsStmt" -> simple(b, ctes, d, "ALTER EXTENSION", DDL, OPAQUE_CODE);
      case "CreateFdwStmt" -> secretOptions(b, ctes, d, "CREATE FOREIGN DATA WRAPPER", DDL);
      case "AlterFdwStmt" -> secretOptions(b, ctes, d, "ALTER FOREIGN DATA WRAPPER", DDL);
      case "CreateForeignServerStmt" -> secretOptions(b, ctes, d, "CREATE SERVER", DDL);
      case "AlterForeignServerStmt" -> secretOptions(b, ctes, d, "ALTER SERVER", DDL);
      case "CreateUserMappingStmt" -> secretOptions(b, ctes, d, "CREATE USER MAPPING", DDL, PRIVILEGE_CHANGE);
      case "AlterUserMappingStmt" -> secretOptions(b, ctes, d, "ALTER USER MAPPING", DDL, PRIVILEGE_CHANGE);
      case "DropUserMappingStmt" -> simple(b, ctes, d, "DROP USER MAPPING", DDL, PRIVILEGE_CHANGE);
      case "ImportForeignSchemaStmt" -> simple(b, ctes, d, "IMPORT FOREIGN SCHEMA", DDL);
      case "CreatePolicyStmt" -> simple(b, ctes, d, "CREATE POLICY", DDL, PRIVILEGE_CHANGE);
      case "AlterPolicyStmt" -> simple(b, ctes, d, "ALTER POLICY", DDL, PRIVILEGE_CHANGE);
      case "CreatePublicationStmt" -> simple(b, ctes, d, "CREATE PUBLICATION", DDL);
      case "AlterPublicationStmt" -> simple(b, ctes, d, "ALTER PUBLICATION", DDL);
      case "CreateSubscriptionStmt" -> secretOptions(b, ctes, d, "CREATE SUBSCRIPTION", DDL, OPAQUE_CODE);
      case "AlterSubscriptionStmt" -> secretOptions(b, ctes, d, "ALTER SUBSCRIPTION", DDL, OPAQUE_CODE);
      case "DropSubscriptionStmt" -> simple(b, ctes, d, "DROP SUBSCRIPTION", DDL);
      case "CreateDomainStmt" -> simple(b, ctes, d, "CREATE DOMAIN", DDL);
      case "AlterDomainStmt" -> simple(b, ctes, d, "ALTER DOMAIN", DDL);
      case "CompositeTypeStmt", "CreateEnumStmt", "CreateRangeStmt" -> simple(b, ctes, d, "CREATE TYPE", DDL);
      case "AlterEnumStmt", "AlterTypeStmt" -> simple(b, ctes, d, "ALTER TYPE", DDL);
      case "DefineStmt" -> {
        // Base types (input/output functions), aggregates (state functions) and operators bind
        // functions that later run without being named in the statement that triggers them.
        String object = b.path("kind").asText();
        boolean bindsFunctions = Set.of("OBJECT_TYPE", "OBJECT_AGGREGATE", "OBJECT_OPERATOR").contains(object);
        if (bindsFunctions) simple(b, ctes, d, "CREATE " + objectWords(object), DDL, OPAQUE_CODE);
        else simple(b, ctes, d, "CREATE " + objectWords(object), DDL);
      }
      case "CreateCastStmt" -> {
        // A cast WITH FUNCTION runs that function wherever the cast is applied, implicitly too.
        if (b.has("func")) simple(b, ctes, d, "CREATE CAST", DDL, OPAQUE_CODE);
        else simple(b, ctes, d, "CREATE CAST", DDL);
      }
      case "CreateConversionStmt" -> simple(b, ctes, d, "CREATE CONVERSION", DDL);
      case "CreateOpClassStmt" -> simple(b, ctes, d, "CREATE OPERATOR CLASS", DDL);
      case "CreateOpFamilyStmt" -> simple(b, ctes, d, "CREATE OPERATOR FAMILY", DDL);
      case "AlterOpFamilyStmt" -> simple(b, ctes, d, "ALTER OPERATOR FAMILY", DDL);
      case "AlterOperatorStmt" -> simple(b, ctes, d, "ALTER OPERATOR", DDL);
      case "CreatePLangStmt" -> simple(b, ctes, d, "CREATE LANGUAGE", DDL, OPAQUE_CODE);
      case "CreateTransformStmt" -> simple(b, ctes, d, "CREATE TRANSFORM", DDL);
      case "CreateAmStmt" -> simple(b, ctes, d, "CREATE ACCESS METHOD", DDL);
      case "CreateStatsStmt" -> simple(b, ctes, d, "CREATE STATISTICS", DDL);
      case "AlterStatsStmt" -> simple(b, ctes, d, "ALTER STATISTICS", DDL);
      case "AlterCollationStmt" -> simple(b, ctes, d, "ALTER COLLATION", DDL);
      case "AlterTSDictionaryStmt" -> simple(b, ctes, d, "ALTER TEXT SEARCH DICTIONARY", DDL);
      case "AlterTSConfigurationStmt" -> simple(b, ctes, d, "ALTER TEXT SEARCH CONFIGURATION", DDL);
      // The view's stored query runs again, with whatever functions it calls.
      case "RefreshMatViewStmt" -> simple(b, ctes, d, "REFRESH MATERIALIZED VIEW", DATA_MODIFYING, OPAQUE_CODE);
      case "VacuumStmt" -> simple(b, ctes, d, b.path("is_vacuumcmd").asBoolean() ? "VACUUM" : "ANALYZE");
      case "ClusterStmt" -> simple(b, ctes, d, "CLUSTER");
      case "ReindexStmt" -> simple(b, ctes, d, "REINDEX");
      case "LockStmt" -> simple(b, ctes, d, "LOCK TABLE", CommandFlag.LOCKING);
      case "ListenStmt" -> simple(b, ctes, d, "LISTEN");
      case "UnlistenStmt" -> simple(b, ctes, d, "UNLISTEN");
      case "NotifyStmt" -> simple(b, ctes, d, "NOTIFY");
      case "LoadStmt" -> simple(b, ctes, d, "LOAD", FILE_ACCESS, OPAQUE_CODE);
      case "CheckPointStmt" -> simple(b, ctes, d, "CHECKPOINT");
      case "ConstraintsSetStmt" -> simple(b, ctes, d, "SET CONSTRAINTS", SETTING_CHANGE);
      default -> {
        String name = type.endsWith("Stmt") ? type.substring(0, type.length() - 4) : type;
        simple(b, ctes, d, name.toUpperCase(Locale.ROOT), UNCLASSIFIED);
      }
    }
  }

  private void kind(String kind, CommandFlag... flags) {
    facts.kinds.add(kind);
    for (CommandFlag f : flags) facts.flags.add(f);
  }

  private void simple(JsonNode b, Set<String> ctes, int d, String kind, CommandFlag... flags) {
    kind(kind, flags);
    fields(b, Set.of(), ctes, d);
  }

  private void explicitInner(JsonNode b, String kind, String field, Set<String> ctes, int d) {
    // EXPLAIN without ANALYZE does not run its statement, but planning can evaluate functions and a
    // policy is safer seeing the inner statement either way.
    kind(kind);
    inner(b.path(field), ctes, d);
    fields(b, Set.of(field), ctes, d);
  }

  /** A statement that runs (or is stored) as such: its kind is reported even when it is a SELECT. */
  private void inner(JsonNode wrapped, Set<String> ctes, int d) {
    if (wrapped.isMissingNode() || wrapped.isNull()) return;
    if (wrapped.isObject() && wrapped.size() == 1) {
      Map.Entry<String, JsonNode> e = wrapped.fields().next();
      if (e.getKey().endsWith("Stmt") && !STRUCTURAL.contains(e.getKey())) {
        statement(e.getKey(), e.getValue(), ctes, true, d);
        return;
      }
    }
    node(wrapped, ctes, d);
  }

  private void dml(JsonNode b, Set<String> ctes, int d, String kind) {
    kind(kind, DATA_MODIFYING);
    Set<String> scope = withClause(b, ctes, d);
    // The target is always a table, never a CTE of the same name.
    if (b.has("relation")) {
      facts.objects.add(qualifiedName(b.get("relation")));
      JsonNode rel = b.get("relation");
      String schema = rel.path("schemaname").asText("");
      if (rel.path("relname").asText("").equals("pg_settings") && (schema.isEmpty() || schema.equals("pg_catalog"))) {
        // pg_settings' own rule runs set_config for an UPDATE of it: any setting, named by data
        // (round 11: UPDATE pg_settings SET setting = 'public, pg_catalog' WHERE name = 'search_path').
        facts.flags.add(SETTING_CHANGE);
        facts.flags.add(ROLE_CHANGE);
        facts.flags.add(OPAQUE_CODE);
        facts.changesParsing = true;
      }
    }
    fields(b, Set.of("withClause", "relation"), scope, d);
  }

  /** Visits the CTEs of a WITH and returns the scope in which the statement body sees them. */
  private Set<String> withClause(JsonNode b, Set<String> ctes, int d) {
    JsonNode with = b.path("withClause");
    if (!with.isObject()) return ctes;
    boolean recursive = with.path("recursive").asBoolean();
    List<String> names = new ArrayList<>();
    for (JsonNode c : with.path("ctes")) names.add(c.path("CommonTableExpr").path("ctename").asText());
    Set<String> all = new HashSet<>(ctes);
    all.addAll(names);
    int i = 0;
    for (JsonNode c : with.path("ctes")) {
      // A CTE sees the ones before it; with RECURSIVE it sees all of them, itself included.
      Set<String> visible = new HashSet<>(ctes);
      visible.addAll(recursive ? names : names.subList(0, i));
      JsonNode cte = c.path("CommonTableExpr");
      if (cte.isObject()) {
        node(cte.path("ctequery"), visible, d);
        fields(cte, Set.of("ctequery"), visible, d);
      } else {
        facts.flags.add(UNCLASSIFIED);
      }
      i++;
    }
    return all;
  }

  /**
   * A SET or RESET, on its own ({@code holder} false) or inside ALTER ROLE/DATABASE/SYSTEM ({@code
   * holder} true), which change defaults for later sessions.
   */
  private void setting(JsonNode set, boolean holder) {
    facts.flags.add(SETTING_CHANGE);
    String k = set.path("kind").asText();
    String name = set.path("name").asText("").toLowerCase(Locale.ROOT);
    if (k.equals("VAR_RESET_ALL")) {
      // RESET ALL returns every setting to its session default, the parsing settings included; role
      // and session_authorization are GUC_NO_RESET_ALL, so it leaves who the session acts as. ALTER
      // ROLE … RESET ALL does remove a default set by ALTER ROLE … SET role = …, for later sessions.
      if (holder) facts.flags.add(ROLE_CHANGE);
      facts.changesParsing = true;
    }
    if (Functions.ROLE_SETTINGS.contains(name)) facts.flags.add(ROLE_CHANGE);
    if (Functions.PARSING_SETTINGS.contains(name)) facts.changesParsing = true;
    // RESET and SET … TO DEFAULT return a planner setting to the session's default: nothing steered.
    if (k.equals("VAR_SET_VALUE") && Functions.plannerSetting(name)) facts.changesPlanning = true;
    if (Functions.secretSetting(name)) collectStrings(set.path("args"), facts.redactAt, 0);
    // pg_catalog is searched first unless the path names it later: then a schema listed before it
    // can shadow built-ins (public.lower() answering lower()), and the harmless-function list no
    // longer says what unqualified calls run. Such a path makes every later call opaque.
    if (name.equals("search_path") && shadowsCatalog(set.path("args"))) facts.flags.add(OPAQUE_CODE);
    // Arguments are constants by grammar; walk them anyway so nothing goes unseen.
    node(set.path("args"), Set.of(), 1);
  }

  /**
   * Whether a SET gives a parsing setting the one constant Gatehouse fixes it to ({@link
   * Functions#fixedParsingValue}). DEFAULT, FROM CURRENT, RESET and lists are not such a SET.
   */
  private static boolean keepsFixedValue(JsonNode set) {
    String name = set.path("name").asText("").toLowerCase(Locale.ROOT);
    JsonNode args = set.path("args");
    if (!set.path("kind").asText().equals("VAR_SET_VALUE") || args.size() != 1) return false;
    JsonNode c = args.get(0).path("A_Const");
    if (c.has("sval")) return Functions.fixedParsingValue(name, c.path("sval").path("sval").asText(""));
    // An integer: standard_conforming_strings = 1 (the server reads the number written as text).
    if (c.has("ival") && name.equals("standard_conforming_strings")) return c.path("ival").path("ival").asInt(0) == 1;
    return false;
  }

  /** Whether a search_path value lists another schema before pg_catalog. */
  static boolean shadowsCatalog(JsonNode args) {
    java.util.List<String> schemas = new java.util.ArrayList<>();
    collectSchemaNames(args, schemas, 0);
    int catalog = schemas.indexOf("pg_catalog");
    return catalog > 0;
  }

  private static void collectSchemaNames(JsonNode n, java.util.List<String> out, int depth) {
    if (depth > 32) return;
    JsonNode constant = n.path("A_Const");
    if (constant.has("ival") || constant.has("fval") || constant.has("boolval") || constant.has("bsval")) {
      // SET search_path = 0, pg_catalog names a schema "0" (the parser gives a number, 0 as {}).
      out.add("<" + constant.toString() + ">");
      return;
    }
    if (n.isArray() || n.isObject()) {
      var fields = n.fields();
      if (n.isArray()) {
        for (JsonNode e : n) collectSchemaNames(e, out, depth + 1);
        return;
      }
      while (fields.hasNext()) {
        var f = fields.next();
        if (f.getKey().equals("location")) continue;
        if (f.getValue().isTextual()) {
          // A single string may hold the whole list: SET search_path = 'public, pg_catalog'.
          for (String part : f.getValue().asText().split(",")) {
            String schema = part.strip();
            if (schema.startsWith("\"") && schema.endsWith("\"") && schema.length() >= 2) {
              schema = schema.substring(1, schema.length() - 1);
            } else {
              schema = schema.toLowerCase(Locale.ROOT);
            }
            if (!schema.isEmpty()) out.add(schema);
          }
        } else {
          collectSchemaNames(f.getValue(), out, depth + 1);
        }
      }
    }
  }

  /**
   * A statement that is a SET or RESET of {@code role} or {@code session_authorization}: whom the
   * session acts as afterwards ({@link ClassifiedStatement#roleSet}). A return to the role the
   * session signed in with ({@code RESET ROLE}, {@code SET ROLE NONE}, {@code SET role TO DEFAULT},
   * {@code SET SESSION AUTHORIZATION DEFAULT}, {@code RESET SESSION AUTHORIZATION}) changes no one's
   * identity beyond what the session started with, so it is no {@code ROLE_CHANGE} (review round 45:
   * Flyway restores the connection's role after each migration, and {@code no-role-change} refused
   * it). A role named by a constant is recorded for the gateway, which alone knows whether it is the
   * one the session signed in as.
   */
  private void roleSet(JsonNode b, String kind) {
    String name = b.path("name").asText("").toLowerCase(Locale.ROOT);
    if (!Functions.ROLE_SETTINGS.contains(name)) return;
    JsonNode args = b.path("args");
    if (kind.equals("VAR_RESET") || kind.equals("VAR_SET_DEFAULT")) {
      facts.roleSet = ClassifiedStatement.LOGIN_ROLE;
    } else if (kind.equals("VAR_SET_VALUE") && args.size() == 1) {
      String value = constantString(args.get(0));
      if (value == null || value.isEmpty()) return; // no role has an empty name: PostgreSQL refuses it
      // Only "none" exactly: PostgreSQL looks 'NONE' up as a role's name.
      facts.roleSet = name.equals("role") && value.equals("none") ? ClassifiedStatement.LOGIN_ROLE : value;
    }
    if (ClassifiedStatement.LOGIN_ROLE.equals(facts.roleSet)) facts.flags.remove(ROLE_CHANGE);
  }

  private void settingHolder(JsonNode b, String kind) {
    kind(kind, SETTING_CHANGE);
    JsonNode set = b.path("setstmt");
    if (set.isObject()) setting(set, true);
    fields(b, Set.of("setstmt"), Set.of(), 1);
  }

  /**
   * The roles whose memberships a CREATE or ALTER ROLE changes: {@code IN ROLE} (addroleto), {@code
   * ROLE} and {@code ADMIN} (rolemembers, adminmembers), {@code ALTER GROUP … ADD|DROP USER}
   * (rolemembers).
   */
  private void memberships(JsonNode b) {
    for (JsonNode option : b.path("options")) {
      JsonNode def = option.path("DefElem");
      String name = def.path("defname").asText("");
      if (!name.equals("addroleto") && !name.equals("rolemembers") && !name.equals("adminmembers")) continue;
      for (JsonNode r : def.path("arg").path("List").path("items")) roleSpec(r);
    }
  }

  /** A RoleSpec node: a role's name, or the keyword standing for one. */
  private void roleSpec(JsonNode spec) {
    JsonNode r = spec.has("RoleSpec") ? spec.path("RoleSpec") : spec; // wrapped in lists, bare in a field
    switch (r.path("roletype").asText("")) {
      case "ROLESPEC_CSTRING" -> facts.roles.add(r.path("rolename").asText(""));
      case "ROLESPEC_CURRENT_USER" -> facts.roles.add(ClassifiedStatement.CURRENT_USER);
      case "ROLESPEC_SESSION_USER" -> facts.roles.add(ClassifiedStatement.SESSION_USER);
      case "ROLESPEC_CURRENT_ROLE" -> facts.roles.add(ClassifiedStatement.CURRENT_ROLE);
      default -> facts.roles.add(ClassifiedStatement.ALL_ROLES); // PUBLIC, or a form this parser version does not name
    }
  }

  private void role(JsonNode b, Set<String> ctes, int d, String kind) {
    kind(kind, PRIVILEGE_CHANGE);
    for (JsonNode o : b.path("options")) {
      if (o.path("DefElem").path("defname").asText().equals("password")) facts.redactAllStrings = true;
    }
    fields(b, Set.of(), ctes, d);
  }

  private void secretOptions(JsonNode b, Set<String> ctes, int d, String kind, CommandFlag... flags) {
    // Options of servers, user mappings and subscriptions carry passwords and connection strings,
    // and the parse tree gives no location for them: redact every literal of the statement.
    facts.redactAllStrings = true;
    simple(b, ctes, d, kind, flags);
  }

  private static String transactionKind(String k) {
    return switch (k) {
      case "TRANS_STMT_BEGIN" -> "BEGIN";
      case "TRANS_STMT_START" -> "START TRANSACTION";
      case "TRANS_STMT_COMMIT" -> "COMMIT";
      case "TRANS_STMT_ROLLBACK", "TRANS_STMT_ROLLBACK_TO" -> "ROLLBACK";
      case "TRANS_STMT_SAVEPOINT" -> "SAVEPOINT";
      case "TRANS_STMT_RELEASE" -> "RELEASE";
      case "TRANS_STMT_PREPARE" -> "PREPARE TRANSACTION";
      case "TRANS_STMT_COMMIT_PREPARED" -> "COMMIT PREPARED";
      case "TRANS_STMT_ROLLBACK_PREPARED" -> "ROLLBACK PREPARED";
      default -> "TRANSACTION";
    };
  }

  static String objectWords(String objectType) {
    String mapped = OBJECT_WORDS.get(objectType);
    if (mapped != null) return mapped;
    String t = objectType.startsWith("OBJECT_") ? objectType.substring(7) : objectType;
    return t.replace('_', ' ');
  }

  /** The {@code sval}s of a list of String nodes. */
  private static List<String> strings(JsonNode list) {
    List<String> out = new ArrayList<>();
    for (JsonNode s : list) {
      JsonNode v = s.path("String").path("sval");
      if (v.isTextual()) out.add(v.asText());
    }
    return out;
  }

  private static boolean contains(int[] a, int v) {
    for (int x : a) if (x == v) return true;
    return false;
  }
}
