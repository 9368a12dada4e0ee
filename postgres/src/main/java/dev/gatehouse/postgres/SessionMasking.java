package dev.gatehouse.postgres;

import dev.gatehouse.core.Classification;
import dev.gatehouse.core.CommandFlag;
import dev.gatehouse.core.Decision;
import dev.gatehouse.core.Principal;
import dev.gatehouse.masking.Detectors;
import dev.gatehouse.masking.MaskPlanner;
import dev.gatehouse.masking.Masking;
import dev.gatehouse.masking.MaskingException;
import dev.gatehouse.masking.Reads;
import dev.gatehouse.masking.StatementFacts;
import dev.gatehouse.postgres.sql.ClassifiedStatement;
import dev.gatehouse.postgres.sql.ColumnUse;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Masking for one session: turns each allowed statement's obligations (the masking rule names
 * policy applied) into a {@link StatementMasking}, using the resource's {@link ColumnCatalog} to
 * learn what the statement reads, and keeps the detectors for text that reaches the client outside
 * any statement's result (notifications, parameter values).
 *
 * <p>Asynchronous side channels belong to no statement, so they use every detector of every rule
 * policy has applied in this session so far (sticky: once a session has been masked, it stays
 * scanned).
 *
 * <p>Thread-safe: both directions of the session use it.
 */
final class SessionMasking {
  /**
   * Views and functions that quote other rows' data or other sessions' statements: reading them
   * counts as reading every masked column (strict mode then masks their untraceable columns whole).
   */
  static final Set<String> QUOTING_RELATIONS = Set.of(
      "pg_stats", "pg_stats_ext", "pg_stats_ext_exprs", "pg_statistic", "pg_statistic_ext_data",
      "pg_stat_activity", "pg_stat_statements", "pg_stat_statements_info", "pg_prepared_statements",
      "pg_cursors", "pg_prepared_xacts", "pg_stat_get_activity", "pg_stat_statements_reset",
      "pg_stat_get_backend_activity", "pg_mcv_list_items", "pg_stat_progress_copy");

  /**
   * Functions that move what they are given somewhere masking cannot follow: SQL or table names as
   * strings, settings echoed back and kept, notification payloads, messages to replication, a
   * sequence's value (setval: read back later with no masked column in sight).
   */
  static final Set<String> LAUNDERING_FUNCTIONS = Set.of(
      "query_to_xml", "query_to_xmlschema", "query_to_xml_and_xmlschema", "table_to_xml", "table_to_xmlschema",
      "table_to_xml_and_xmlschema", "cursor_to_xml", "cursor_to_xmlschema", "schema_to_xml", "schema_to_xmlschema",
      "schema_to_xml_and_xmlschema", "database_to_xml", "database_to_xmlschema", "database_to_xml_and_xmlschema",
      "dblink", "dblink_exec", "dblink_send_query", "dblink_open", "dblink_fetch", "set_config", "pg_notify",
      "pg_logical_emit_message", "lo_from_bytea", "lo_put", "ts_stat", "ts_rewrite", "xpath_table", "setval");

  /**
   * Of {@link #LAUNDERING_FUNCTIONS}, those that keep or send the values they are given rather than
   * run SQL given as text: they launder only what the statement reads from a relation or from
   * something it cannot trace (a statistics function's text). {@code
   * set_config('work_mem', '64MB', false)} moves no masked value (it was refused as copying masked
   * columns into an SQL string).
   */
  static final Set<String> VALUE_KEEPING_FUNCTIONS = Set.of(
      "set_config", "pg_notify", "pg_logical_emit_message", "lo_from_bytea", "lo_put", "setval");

  /** Why a statement that changes the planner's settings counts as reading every masked column. */
  static final String STEERS_PLANNER = "the statement changes the planner's settings (enable_*, *_cost, work_mem …)";

  private static final Set<String> LAUNDERING_KINDS = Set.of(
      "CREATE TABLE AS", "CREATE MATERIALIZED VIEW", "REFRESH MATERIALIZED VIEW", "INSERT", "UPDATE", "MERGE",
      "SELECT INTO");

  /** Statement kinds whose rows come from something declared or prepared earlier. */
  private static final Set<String> DEFERRED_KINDS = Set.of("FETCH", "MOVE", "EXECUTE", "CALL", "DO");

  /**
   * Statement kinds that run what earlier statements left to run: the queries of WITH HOLD cursors
   * (run to the end at commit), deferred triggers and constraints. What they read is unknown, so
   * the errors and notices they raise lose their text; they return no rows and compare nothing.
   */
  private static final Set<String> COMMITTING_KINDS = Set.of("COMMIT", "END", "PREPARE TRANSACTION", "COMMIT PREPARED",
      "SET CONSTRAINTS");

  /**
   * The cumulative statistics' views and functions ({@code pg_stat_*}, {@code pg_statio_*},
   * {@code pg_stat_get_*}): what running statements cost, which tells of the values they carried
   * (red-team round 28: {@code pg_stat_database.temp_bytes} after a sort that spilled grew with the
   * length of the e-mail the sorted rows held). What a statement reading them reads is unknown.
   */
  static boolean statistics(String name) {
    return name.startsWith("pg_stat") && !name.equals("pg_statistic_ext");
  }

  /**
   * Statement kinds that sort a table's rows by an index's columns, which only the catalog knows (a
   * bare CLUSTER reuses the index chosen earlier): a plain SELECT shows that order afterwards, so
   * every column of the table counts as used outside the select list (round 21: CLUSTER USING the
   * e-mail's unique index, with probe rows, read out every e-mail). ANALYZE (and VACUUM, which may
   * analyze) counts the same: it computes statistics of every column's values that EXPLAIN then
   * shows (round 26: in a transaction that deleted all rows but one and was rolled back, the
   * width EXPLAIN SELECT email printed was that one e-mail's length).
   */
  private static final Set<String> SORTING_KINDS = Set.of("CLUSTER", "ANALYZE", "VACUUM");

  /**
   * Statement kinds that store values in a table (so does COPY FROM): the table's unique indexes
   * compare what they store with every row (23505 when a guess is right), and a probe row sorts
   * among the others wherever a plan follows an index. Every column of what such a statement names
   * counts as used outside its select list (round 25: with wide rows inserted and the table
   * vacuumed, the planner chose an index-only scan of the e-mail's unique index by itself, and
   * probe rows read every e-mail out).
   */
  private static final Set<String> WRITING_KINDS = Set.of("INSERT", "UPDATE", "MERGE");

  /**
   * The number of the sync point that ends the batch of the latest statement that touched masked
   * columns in a transaction not yet over; 0 when none. Until that transaction ends, PostgreSQL's
   * own commit (at a Sync, after a query's last statement) may run what such a statement left to
   * run (a WITH HOLD cursor's query), and what it raises there may quote masked values.
   */
  private final AtomicLong touchedUntil = new AtomicLong();

  private final Masking masking;
  private final Optional<ColumnCatalog> catalog;
  private static final long HIDDEN_CODE_MEMO_NANOS = 1_000_000_000L;
  /** {@link #hiddenCode}'s last answer, for the statement it was about, as of catalog version and time. */
  private record Memo(ClassifiedStatement statement, long version, long at, Optional<String> answer) {}
  private volatile Memo memo;
  private final String resource;
  private final Principal principal;
  private final Map<List<String>, MaskPlanner> planners = new ConcurrentHashMap<>();
  private volatile Detectors sideChannel = Detectors.none();
  private volatile boolean masked;
  /**
   * A statement that may change the planner's settings ran in this session ({@link
   * ClassifiedStatement#changesPlanning}): from then on a plan may follow an index on a confined
   * column and return rows in its order, so every column a statement reads counts as used outside
   * its select list (round 24: with seq and bitmap scans off, {@code SELECT email FROM customers}
   * came back in e-mail order, and probe rows read every e-mail out).
   */
  private volatile boolean plannerSteered;

  /** A statement that may change the planner's settings is being forwarded. */
  void plannerSteered() {
    plannerSteered = true;
  }

  SessionMasking(Masking masking, Optional<ColumnCatalog> catalog, String resource, Principal principal) {
    this.masking = masking;
    this.catalog = catalog;
    this.resource = resource;
    this.principal = principal;
  }

  /** Whether any masking rule is configured at all. */
  boolean configured() {
    return !masking.ruleNames().isEmpty();
  }

  /** A statement touching masked columns was decided; its batch ends at sync point {@code syncPoint}. */
  void touched(long syncPoint) {
    touchedUntil.accumulateAndGet(syncPoint, Math::max);
  }

  /** The transaction ended at sync point {@code syncPoint} (ReadyForQuery idle). */
  void transactionEnded(long syncPoint) {
    touchedUntil.updateAndGet(t -> t <= syncPoint ? 0 : t);
  }

  /** Whether a statement touching masked columns ran in a transaction not yet over. */
  boolean touchedInTransaction() {
    return touchedUntil.get() != 0;
  }

  /**
   * The masking of one allowed statement, or empty when no rule in force applies (its result is
   * relayed without decoding).
   *
   * @throws MaskingException when policy names a masking rule that is not defined (fail closed: the
   *     caller refuses the statement)
   */
  Optional<StatementMasking> statement(Decision decision, ClassifiedStatement statement) {
    if (!(decision instanceof Decision.Allow allow) || !configured()) return Optional.empty();
    List<String> masks = withDeferred(allow.obligations().masks(), statement.classification().kinds());
    if (masks.isEmpty()) return Optional.empty();
    MaskPlanner planner = planners.computeIfAbsent(masks, m -> masking.planner(resource, principal, m));
    if (planner.isEmpty()) return Optional.empty();
    masked = true;
    sideChannel = sideChannel.with(planner.detectors());
    Facts facts = facts(statement);
    return Optional.of(new StatementMasking(planner, facts, catalog,
        copyTarget(statement), statement.columnUse().map(ColumnUse::copyColumns).orElse(List.of()),
        statement.columnUse().map(u -> StatementMasking.CopyOutput.of(u.copyOptions()))
            .orElse(new StatementMasking.CopyOutput(StatementMasking.CopyLayout.OTHER, false))));
  }

  /**
   * The masks of a statement's decision, and for one that runs what an earlier statement declared
   * or prepared (FETCH, MOVE, EXECUTE…), the masks of every DECLARE and PREPARE this session was
   * allowed with too: the rows come from that statement, whose decision said how they are masked,
   * while the FETCH's own decision may carry no mask at all (a mask rule limited to SELECT; red-team
   * round 10). A DECLARE's or PREPARE's masks are remembered for the rest of the session.
   */
  private List<String> withDeferred(List<String> masks, List<String> kinds) {
    boolean declares = false, runsDeclared = false;
    for (String kind : kinds) {
      String k = kind.toUpperCase(Locale.ROOT);
      declares |= k.equals("DECLARE CURSOR") || k.equals("PREPARE");
      runsDeclared |= DEFERRED_KINDS.contains(k);
    }
    if (declares && !masks.isEmpty()) {
      synchronized (deferredMasks) {
        deferredMasks.addAll(masks);
      }
    }
    if (!runsDeclared) return masks;
    synchronized (deferredMasks) {
      if (deferredMasks.isEmpty() || masks.containsAll(deferredMasks)) return masks;
      java.util.LinkedHashSet<String> all = new java.util.LinkedHashSet<>(masks);
      all.addAll(deferredMasks);
      return List.copyOf(all);
    }
  }

  // ---- cursors: what a FETCH reads --------------------------------------------------------------

  /** At most this many cursors are followed; a FETCH from any other reads unknown columns. */
  static final int MAX_CURSORS = 256;

  /**
   * What the session's cursors read, so that a FETCH is masked by what its DECLARE read rather than
   * as reading anything (round 12: with psql's FETCH_COUNT, strict mode turned count(*) of a table
   * with no masked column into NULL). An entry is {@link Pending} from the DECLARE's decision and
   * becomes the cursor's {@link Facts} when the target completes that DECLARE; any later decision
   * about the same name (a DECLARE, a CLOSE, a protocol Bind or Close of a portal of that name) removes
   * it first, so an answer arriving late never names a cursor that another statement has replaced. A
   * FETCH from a name with no facts (unknown, pending, failed, made by code) reads unknown columns.
   * Guarded by itself.
   */
  private final Map<String, Object> cursors = new java.util.HashMap<>();
  /** Code Gatehouse cannot see into ran: it may have made cursors under any name. */
  private volatile boolean cursorsUnknown;

  private record Pending(Object token) {}

  /**
   * A DECLARE of cursor {@code name} reading as {@code statement} (masked as {@code masking}, whose
   * facts are the statement's, when any mask applies) is being forwarded: returns what
   * to run when the target completes it (the cursor then exists and reads that), or nothing to run.
   */
  Runnable declared(String name, ClassifiedStatement statement, Optional<StatementMasking> masking) {
    Facts facts = masking.isPresent() ? masking.get().read() : facts(statement); // read once per DECLARE
    Pending pending = new Pending(new Object());
    synchronized (cursors) {
      cursors.remove(name);
      if (cursorsUnknown || cursors.size() >= MAX_CURSORS) return () -> { };
      cursors.put(name, pending);
    }
    return () -> {
      synchronized (cursors) {
        if (cursors.get(name) == pending) cursors.put(name, facts);
      }
    };
  }

  /** A statement or protocol message may end or replace cursor (portal) {@code name}: its facts are forgotten. */
  void cursorTouched(String name) {
    synchronized (cursors) {
      cursors.remove(name);
    }
  }

  /** CLOSE ALL, DISCARD ALL: every cursor ends. */
  void cursorsClosed() {
    synchronized (cursors) {
      cursors.clear();
    }
  }

  /**
   * Code Gatehouse cannot see into may run: it can make cursors under any name, so none is known any
   * more, and change the planner's settings ({@code set_config} in a DO block), so the session
   * counts as steered ({@link #plannerSteered}).
   */
  void codeMayRun() {
    cursorsUnknown = true;
    plannerSteered = true;
    synchronized (cursors) {
      cursors.clear();
    }
  }

  /** What a FETCH from {@code name} reads: its DECLARE's facts when known. */
  private Optional<Facts> cursorFacts(String name) {
    if (cursorsUnknown) return Optional.empty();
    synchronized (cursors) {
      return cursors.get(name) instanceof Facts f ? Optional.of(f) : Optional.empty();
    }
  }

  /** The masks of the DECLARE and PREPARE statements allowed in this session (see withDeferred). */
  private final java.util.Set<String> deferredMasks = new java.util.LinkedHashSet<>();

  /**
   * What one statement reads, three ways.
   *
   * @param plan the columns it names (strict mode decides on them)
   * @param screen the columns whose values may flow into what it writes, with whether it writes
   *     (laundering), and those it names outside its select list (confinement)
   * @param everything every column of every relation it touches: a notice or error could quote any
   *     of them (a NOT NULL violation quotes the whole row)
   */
  record Facts(StatementFacts plan, StatementFacts screen, StatementFacts everything) {}

  /** What the statement reads and whether it copies what it reads somewhere masking cannot follow. */
  Facts facts(ClassifiedStatement statement) {
    Facts f = factsOf(statement);
    List<String> kinds = statement.classification().kinds();
    if (!kinds.isEmpty() && kinds.get(0).equalsIgnoreCase("EXPLAIN")) {
      // EXPLAIN returns its plan, not the rows: node names, costs, counts and the statement's own
      // expressions, never a value it read (round 12: every plan of a query on customers came back
      // NULL). What it may run (ANALYZE) is screened, and its errors withheld, as the query's own.
      return new Facts(StatementFacts.readsNothing(), f.screen(), f.everything());
    }
    return f;
  }

  private Facts factsOf(ClassifiedStatement statement) {
    Classification c = statement.classification();
    // Steering the planner lets a later plain SELECT show a confined column's order: confinement
    // refuses it as it refuses CLUSTER, whatever the statement itself reads. What it reads is still
    // traced, for strict mode (a set_config of work_mem copied no masked column: it was refused as
    // copying them into an SQL string).
    boolean steers = statement.changesPlanning();
    boolean unknown = c.has(CommandFlag.UNCLASSIFIED) || c.has(CommandFlag.OPAQUE_CODE);
    boolean launders = c.has(CommandFlag.OPAQUE_CODE) || c.has(CommandFlag.UNCLASSIFIED);
    boolean committing = false;
    boolean sorts = false;
    boolean writes = false;
    for (String kind : c.kinds()) {
      String k = kind.toUpperCase(Locale.ROOT);
      if (WRITING_KINDS.contains(k) || k.equals("COPY") && c.has(CommandFlag.DATA_MODIFYING)) writes = true;
      if (DEFERRED_KINDS.contains(k)) unknown = true;
      if (SORTING_KINDS.contains(k)) sorts = true;
      if (COMMITTING_KINDS.contains(k)) committing = true;
      if (LAUNDERING_KINDS.contains(k)) launders = true;
      if (k.equals("COPY") && (c.has(CommandFlag.FILE_ACCESS) || c.has(CommandFlag.COPY_PROGRAM))) launders = true;
    }
    boolean keepsValues = false;
    for (String f : c.functions()) {
      String name = lastPart(f);
      if (VALUE_KEEPING_FUNCTIONS.contains(name)) keepsValues = true;
      else if (LAUNDERING_FUNCTIONS.contains(name) || name.startsWith("dblink")) launders = true;
      if (QUOTING_RELATIONS.contains(name) || statistics(name)) unknown = true;
    }
    for (String o : c.objects()) {
      if (QUOTING_RELATIONS.contains(lastPart(o)) || statistics(lastPart(o))) unknown = true;
    }
    // A value kept from a statement that reads no relation and nothing untraceable holds no masked
    // value; from pg_stat_get_backend_activity() (no relation, but any session's text) it may.
    if (keepsValues && (unknown || !c.objects().isEmpty())) launders = true;
    if (committing && !unknown && !steers) {
      StatementFacts runs = new StatementFacts(Reads.unknown(), Reads.nothing(), launders);
      return new Facts(runs, new StatementFacts(Reads.nothing(), Reads.nothing(), launders), runs);
    }
    if (sorts && !unknown && !steers) {
      Reads all = catalog.isEmpty() || c.objects().isEmpty() ? Reads.unknown() : catalog.get().reads(c.objects(), Optional.empty());
      StatementFacts sorted = new StatementFacts(Reads.nothing(), all, launders);
      return new Facts(sorted, sorted, new StatementFacts(all, all, launders));
    }
    Optional<ColumnUse> use = statement.columnUse();
    if ((unknown || steers) && !launders && fetchesOnly(c.kinds())) {
      // A FETCH or MOVE runs a query already screened where its cursor or portal was declared or
      // bound in this session (cursors made by opaque code cannot be: such code is refused wherever
      // it could read masked columns); it computes on nothing itself, so confinement has nothing to
      // refuse (psql's FETCH_COUNT with confined columns: round 12). Its rows read what its
      // DECLARE read, when Gatehouse followed it; otherwise they are unknown.
      StatementFacts nothingOutside = new StatementFacts(Reads.unknown(), Reads.nothing(), false);
      Optional<Facts> declared = use.flatMap(ColumnUse::cursor)
          .filter(k -> k.kind() == ColumnUse.Cursor.Kind.FETCH)
          .flatMap(k -> cursorFacts(k.name()));
      if (declared.isPresent()) return new Facts(declared.get().plan(), nothingOutside, declared.get().everything());
      StatementFacts all = StatementFacts.unknown(false);
      return new Facts(all, nothingOutside, all);
    }
    if (unknown || catalog.isEmpty() || use.isEmpty()) {
      Reads none = steers && !unknown ? Reads.unknown(STEERS_PLANNER) : Reads.unknown();
      StatementFacts all = new StatementFacts(none, none, launders);
      return new Facts(all, all, all);
    }
    ColumnCatalog cat = catalog.get();
    Reads everything = cat.reads(c.objects(), Optional.empty());
    Set<String> aliases = use.get().outputNames();
    Reads reads = named(cat, c.objects(), use.get().read(), aliases);
    Reads outside = steers ? Reads.unknown(STEERS_PLANNER)
        : writes ? everything
        : plannerSteered ? named(cat, c.objects(), union(use.get().read(), use.get().outsideProjection()), aliases)
        : named(cat, c.objects(), use.get().outsideProjection(), aliases);
    Reads written = named(cat, c.objects(), use.get().intoWrite(), aliases);
    return new Facts(
        new StatementFacts(reads, outside, launders),
        new StatementFacts(written, outside, launders),
        new StatementFacts(everything, everything, launders));
  }

  private static Set<String> union(Set<String> a, Set<String> b) {
    if (b.isEmpty() || a.containsAll(b)) return a;
    Set<String> all = new java.util.HashSet<>(a);
    all.addAll(b);
    return all;
  }

  private static boolean fetchesOnly(List<String> kinds) {
    if (kinds.isEmpty()) return false;
    for (String kind : kinds) {
      if (!kind.equalsIgnoreCase("FETCH") && !kind.equalsIgnoreCase("MOVE")) return false;
    }
    return true;
  }

  private static Reads named(ColumnCatalog catalog, Set<String> objects, Set<String> names, Set<String> aliases) {
    return names.isEmpty() ? Reads.columns(Set.of()) : catalog.reads(objects, Optional.of(names), aliases);
  }

  /** For {@code COPY table [(columns)] TO STDOUT}: the table, so its columns map through the catalog. */
  private static Optional<String> copyTarget(ClassifiedStatement statement) {
    Classification c = statement.classification();
    if (!c.kinds().equals(List.of("COPY")) || c.objects().size() != 1) return Optional.empty();
    return Optional.of(c.objects().iterator().next());
  }

  /**
   * Why the statement may run code it does not show, code someone made on the resource, when it
   * may: a function or operator it calls by a built-in's bare name may be theirs, a cast may run
   * theirs, a name it uses as a column may call their function ({@code x.f} is {@code f(x)}), or a
   * table it names has rules that rewrite it. Empty when none of that can happen. When the
   * resource's catalog cannot tell, every such statement may.
   */
  Optional<String> hiddenCode(ClassifiedStatement statement) {
    if (catalog.isEmpty()) {
      return statement.unqualifiedBuiltins().isEmpty() ? Optional.empty() : Optional.of("the resource's catalog is unknown");
    }
    // A prepared statement's every Bind asks again: the last answer serves for a second, unless
    // DDL through Gatehouse made the catalog forget what it knew.
    long now = System.nanoTime();
    long version = catalog.get().version();
    Memo m = memo;
    if (m != null && sameParts(m.statement(), statement) && m.version() == version && now - m.at() < HIDDEN_CODE_MEMO_NANOS) {
      return m.answer();
    }
    Optional<String> answer = lookForHiddenCode(statement, catalog.get());
    memo = new Memo(statement, version, now, answer);
    return answer;
  }

  /**
   * Whether {@link #lookForHiddenCode} reads the same of both: the same statement, or the same
   * instances of all it reads (a simple query of one shape with other numbers: the classifier's
   * templates share them).
   */
  private static boolean sameParts(ClassifiedStatement a, ClassifiedStatement b) {
    return a == b || (a.classification() == b.classification() && a.columnUse() == b.columnUse()
        && a.unqualifiedBuiltins() == b.unqualifiedBuiltins());
  }

  private static Optional<String> lookForHiddenCode(ClassifiedStatement statement, ColumnCatalog cat) {
    for (String f : statement.classification().functions()) {
      if (cat.parsesTypeNames(lastPart(f))) {
        return Optional.of(lastPart(f) + " parses type names, whose modifiers run a typmod input function made on the resource");
      }
    }
    if (!statement.unqualifiedBuiltins().isEmpty()) {
      Optional<String> shadowed = cat.shadowed(statement.unqualifiedBuiltins());
      if (shadowed.isPresent()) {
        String n = shadowed.get();
        return Optional.of(n.startsWith("::") ? "a cast to " + n.substring(2) + " runs code made on the resource"
            : n + " may be a function or operator made on the resource, not the built-in");
      }
    }
    Set<String> objects = statement.classification().objects();
    if (!objects.isEmpty()) {
      boolean writes = statement.classification().has(CommandFlag.DATA_MODIFYING);
      Optional<String> ruled = cat.rewritten(objects, writes);
      if (ruled.isPresent()) {
        return Optional.of(ruled.get() + " has rules that rewrite statements on it, or is a view that calls code");
      }
      Optional<String> converted = cat.castFrom(objects);
      if (converted.isPresent()) return Optional.of("a cast made on the resource converts the rows of " + converted.get());
      boolean fillsRows = false;
      for (String f : statement.classification().functions()) fillsRows |= lastPart(f).contains("populate_record");
      // A write may store a value of a made assignment cast's source in a column of its target.
      Optional<String> column = cat.convertedColumn(objects, fillsRows, writes);
      if (column.isPresent()) {
        return Optional.of(column.get() + " has a type that runs code made on the resource when its values are converted or compared");
      }
    }
    if (statement.columnUse().isPresent()) {
      Optional<ColumnCatalog.CalledName> called = cat.calledAsColumn(statement.columnUse().get().read());
      if (called.isPresent()) {
        String n = called.get().name();
        return Optional.of(called.get().type() ? "x." + n + " is a cast to type " + n + ", which runs code made on the resource"
            : n + " may call a function made on the resource (x." + n + ")");
      }
    }
    return Optional.empty();
  }

  /**
   * Why the server may run code someone made on the resource when it converts a Bind's values to
   * these parameter types (a Parse's): a domain whose CHECK calls a made function runs it for each
   * value, as a cast to the domain does. Empty when none may; the system's types ({@code oid <
   * 16384}) only where the catalog says so ({@code regtype} while a type's typmod input function is
   * made). When the catalog cannot tell, every type of the database's own may.
   */
  Optional<String> codedParameter(int[] parameterTypes) {
    for (int i = 0; i < parameterTypes.length; i++) {
      int oid = parameterTypes[i];
      boolean system = Integer.compareUnsigned(oid, ColumnCatalog.FIRST_NORMAL_OID) < 0;
      // A value converted to it (a domain's CHECK), or converted from it by a made cast where a
      // built-in takes it (to_json($1): review round 25).
      if (catalog.isEmpty() ? !system : catalog.get().runsCodeWhenCoerced(oid) || catalog.get().convertedByMadeCast(oid)) {
        return Optional.of("parameter $" + (i + 1) + " has type oid " + Integer.toUnsignedString(oid)
            + ", which runs code made on the resource when a value is converted to or from it (or the catalog cannot tell)");
      }
    }
    return Optional.empty();
  }

  /** A DDL statement ran (or may have): the catalog's answers may be stale. */
  void schemaChanged() {
    catalog.ifPresent(ColumnCatalog::invalidate);
  }

  /** Whether a statement of this session has been masked: side channels are then scanned. */
  boolean masked() {
    return masked;
  }

  /** Masks what the detectors of this session's rules find in a text going to the client. */
  String scan(String text) {
    Detectors d = sideChannel;
    if (d.isEmpty() || text.isEmpty()) return text;
    byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
    byte[] out = d.redact(utf8);
    return out == utf8 ? text : new String(out, StandardCharsets.UTF_8);
  }

  private static String lastPart(String name) {
    int dot = name.lastIndexOf('.');
    return (dot < 0 ? name : name.substring(dot + 1)).replace("\"", "").toLowerCase(Locale.ROOT);
  }
}
