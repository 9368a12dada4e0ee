package dev.gatehouse.postgres;

import dev.gatehouse.core.Blocking;
import dev.gatehouse.core.ColumnOrigin;
import dev.gatehouse.masking.Reads;
import dev.gatehouse.masking.RelationNames;
import dev.gatehouse.masking.ResultColumn;
import dev.gatehouse.masking.TypeFamily;
import dev.gatehouse.masking.ValueFormat;
import dev.gatehouse.postgres.sql.SqlClassifier;
import dev.gatehouse.postgres.wire.RowDescription;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * Where result columns come from, for one resource: maps a RowDescription's (table OID, attribute
 * number) to a {@link ColumnOrigin}, and relation names to the base columns they hold, through
 * catalog queries on Gatehouse's own backend connection (opened with the resource's credentials,
 * never a client's session, so nothing a client does to its own session changes the answers).
 *
 * <ul>
 *   <li>A table (plain, partitioned, foreign) column is a {@link ColumnOrigin.Column}; attribute
 *       number 0 is the whole row, a {@link ColumnOrigin.Row} carrying every column of the table.
 *   <li>A view or materialized view reports its own OID. Its columns are resolved by asking
 *       PostgreSQL to analyse the view's definition ({@code pg_get_viewdef}) with Parse and Describe
 *       on this connection: the server's own analysis says which base column each output column is
 *       (recursively through views over views), with no SQL parser of ours to get wrong. A column
 *       that is an expression there is untraceable; so is a whole row of a view.
 *   <li>OID 0 (expressions, functions, UNION), a temporary table, or an OID this connection cannot
 *       see (a table created in the client's uncommitted transaction) is {@link
 *       ColumnOrigin.Untraceable}, never "no rule".
 * </ul>
 *
 * <p>What a view <em>reads</em> (for strict mode: a view can filter on a column it does not show)
 * comes from {@code pg_depend}, recursively to base columns.
 *
 * <p>Cached per relation; the cache is dropped by {@link #invalidate()} (the proxy calls it for
 * every DDL statement and all opaque code run on the resource) and entries expire after a TTL, which bounds how long a
 * change made outside Gatehouse goes unnoticed. An attribute number the cache does not know reloads
 * the relation once (a column added since).
 *
 * <p>Thread-safe: one connection, used under a {@link ReentrantLock} (lookups are short and mostly
 * served from the cache). A lookup that fails raises {@link PostgresGatewayException}; callers treat
 * that as "cannot trace" (fail closed), and the next lookup reconnects.
 */
final class ColumnCatalog implements AutoCloseable {
  private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(ColumnCatalog.class);
  static final Duration DEFAULT_TTL = Duration.ofSeconds(60);
  /**
   * After the look for hidden code failed (the resource unreachable, its statement or lock timeout),
   * how long it is not asked again: the catalog's one connection serves every session of the
   * resource, so a failing look would stall them all each time it is asked.
   */
  static final Duration RETRY_AFTER_FAILURE = Duration.ofSeconds(5);
  /** Views over views deeper than this are not followed: their columns are untraceable. */
  private static final int MAX_VIEW_DEPTH = 16;

  /**
   * One step of a closure over types (joined to a type {@code ty}): the types a value of it holds
   * or is checked as, whose conversion a conversion to it runs: a domain's base type, an array's
   * element, a composite's fields, a range's or a multirange's subtype.
   */
  private static final String COMPONENT_TYPES = """
      LATERAL (SELECT ty.typbasetype WHERE ty.typtype = 'd'
               UNION ALL SELECT ty.typelem WHERE ty.typelem <> 0
               UNION ALL SELECT f.atttypid FROM pg_catalog.pg_attribute f
                          WHERE ty.typrelid <> 0 AND f.attrelid = ty.typrelid AND f.attnum > 0
               UNION ALL SELECT g.rngsubtype FROM pg_catalog.pg_range g
                          WHERE g.rngtypid = ty.oid OR g.rngmultitypid = ty.oid) u(t)""";
  /**
   * SQL true when the type whose OID is {@code type} is a range with a function someone made for
   * its subtype difference or canonical form: the planner's estimates of a condition on a value of
   * it and a GiST index's inserts call it with no statement naming it (red-team round 32). Starts
   * with a space: a text block drops the one before its closing quotes.
   */
  private static String madeRangeCode(String type) {
    return " EXISTS (SELECT 1 FROM pg_catalog.pg_range g WHERE g.rngtypid = " + type
        + " AND (g.rngsubdiff::pg_catalog.oid >= 16384 OR g.rngcanonical::pg_catalog.oid >= 16384))";
  }

  /**
   * SQL true when a value of the type whose OID is {@code type} is, or holds (through domains,
   * arrays, composites and multiranges), a range {@link #madeRangeCode} counts: a condition on a
   * column of it calls that range's function at planning, whatever the condition compares it with
   * ({@code r @> 100}: red-team round 33). The system's types hold none.
   */
  private static String madeRangeReachable(String type) {
    return " (" + type + " >= 16384 AND" + typesHeld("SELECT " + type, "SELECT 1 FROM held WHERE" + madeRangeCode("held.t")) + ")";
  }

  /**
   * SQL: EXISTS {@code test} over {@code held(t)}, the types {@code start} (a query of type OIDs)
   * yields and every type they hold ({@link #COMPONENT_TYPES}, recursively).
   */
  private static String typesHeld(String start, String test) {
    return " EXISTS (WITH RECURSIVE held(t) AS (" + start
        + " UNION SELECT u.t FROM held JOIN pg_catalog.pg_type ty ON ty.oid = held.t, " + COMPONENT_TYPES + ") " + test + ")";
  }

  /**
   * A {@link #typesHeld} test: a domain someone made with a CHECK or a DEFAULT (a cast to it runs
   * them: round 29; information_schema's own domains are the system's), or a range {@link
   * #madeRangeCode} counts (round 32), among the types a view's query casts to.
   */
  private static final String CODED_DOMAIN_OR_RANGE = """
      SELECT 1 FROM held JOIN pg_catalog.pg_type ty ON ty.oid = held.t
       WHERE ty.typtype = 'd' AND (ty.typdefaultbin IS NOT NULL
             OR EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.contypid = ty.oid))
          OR""" + madeRangeCode("held.t");

  /**
   * One relation with its columns; whether it has inheritance kin; whether it has rules of its
   * own, or one of the relations someone made that a write through it (a view's) writes has; and
   * whether any relation such a write reaches has rules, the system's included.
   */
  private static final String RELATION_BY_OID = """
      WITH RECURSIVE
           -- The relations a write to $1 writes (or runs the rules of): $1, and through a view's
           -- definition whatever it reads (an auto-updatable view's write goes to its base table,
           -- whose triggers, defaults and rules run: red-team round 30).
           below(oid) AS (
             SELECT $1::pg_catalog.oid
             UNION
             SELECT d.refobjid FROM below b
               JOIN pg_catalog.pg_class rc ON rc.oid = b.oid AND rc.relkind = 'v'
               JOIN pg_catalog.pg_rewrite w ON w.ev_class = rc.oid
               JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = w.oid
                AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass)
      SELECT c.relkind, c.relpersistence, n.nspname, c.relname, a.attnum, a.attname, a.atttypid,
             c.relhassubclass OR c.relispartition
               OR EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid),
             -- rules of its own, or of a relation someone made that a view of it writes through
             -- (its base table's; the system's, pg_settings' UPDATE rule, count as a write's code)
             EXISTS (SELECT 1 FROM below b JOIN pg_catalog.pg_class r ON r.oid = b.oid AND r.relhasrules
                                               AND (r.oid = $1::pg_catalog.oid OR r.oid >= 16384)
                       JOIN pg_catalog.pg_rewrite w ON w.ev_class = r.oid AND w.rulename <> '_RETURN'),
             -- rules a write through it runs: its own, or those of any relation a view of it writes
             -- through, the system's too (UPDATE of a view over pg_settings calls set_config)
             EXISTS (SELECT 1 FROM below b JOIN pg_catalog.pg_class r ON r.oid = b.oid AND r.relhasrules
                       JOIN pg_catalog.pg_rewrite w ON w.ev_class = r.oid AND w.rulename <> '_RETURN')
        FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
       WHERE c.oid = $1::pg_catalog.oid
       ORDER BY a.attnum""";
  private static final String RELATIONS_BY_NAME = """
      SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relname = $1 AND ($2 = '' OR n.nspname = $2)""";
  /** The ancestors and descendants of a table by inheritance or partitioning (not its siblings). */
  private static final String KIN = """
      WITH RECURSIVE up(oid) AS (
             SELECT inhparent FROM pg_catalog.pg_inherits WHERE inhrelid = $1::pg_catalog.oid
             UNION SELECT i.inhparent FROM pg_catalog.pg_inherits i JOIN up ON i.inhrelid = up.oid),
           down(oid) AS (
             SELECT inhrelid FROM pg_catalog.pg_inherits WHERE inhparent = $1::pg_catalog.oid
             UNION SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN down ON i.inhparent = down.oid)
      SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       WHERE c.oid IN (SELECT oid FROM up UNION SELECT oid FROM down) AND c.oid <> $1::pg_catalog.oid
       ORDER BY 1, 2""";
  private static final String VIEW_DEFINITION = "SELECT pg_catalog.pg_get_viewdef($1::pg_catalog.oid)";
  /**
   * What a view's rules depend on: relations (with the column, 0 for all), and functions and
   * operators (column -1), each function with its schema and name.
   */
  private static final String VIEW_DEPENDENCIES = """
      SELECT DISTINCT d.refobjid, CASE WHEN d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
                                        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                                                         WHERE a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                                                           AND""" + madeRangeReachable("a.atttypid") + """
      )
                                       THEN d.refobjsubid ELSE -1 END,
             d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass,
             pn.nspname, p.proname
        FROM pg_catalog.pg_rewrite r
        JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = r.oid
        LEFT JOIN pg_catalog.pg_proc p
          ON d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND p.oid = d.refobjid
        LEFT JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
       WHERE r.ev_class = $1::pg_catalog.oid
         AND (d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjid <> $1::pg_catalog.oid
              OR d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass
              OR d.refclassid = 'pg_catalog.pg_operator'::pg_catalog.regclass
                 AND d.refobjid >= 16384
              -- a type someone made that holds a domain with a CHECK or a DEFAULT, or a range with
              -- made code (CODED_DOMAIN_OR_RANGE)
              OR d.refclassid = 'pg_catalog.pg_type'::pg_catalog.regclass AND d.refobjid >= 16384
                 AND""" + typesHeld("SELECT d.refobjid", CODED_DOMAIN_OR_RANGE) + ")";
  /**
   * What a statement may call without naming it, among the functions someone made (an OID from
   * {@code FirstNormalObjectId} on, in a schema this role may use, {@code pg_catalog} included;
   * except the members of an extension a superuser owns: what an administrator installed, whereas
   * a role may add its own function to an extension it made itself):
   * <ul>
   *   <li>{@code n}: such a function, or an operator that calls one: a call of that name written
   *       without a schema may pick it over the built-in, by argument types (an exact match on an
   *       enum, a domain or a row type wins);
   *   <li>{@code f}: a function whose first argument is a row type, or that may be called with one
   *       argument of any type, which {@code x.f} calls as {@code f(x)} (attribute notation),
   *       whatever columns are called so; here also a superuser's extension's function callable
   *       with one argument that is not immutable ({@code ('SELECT …').crosstab2} of tablefunc runs
   *       the query), which called by its name is opaque code as well;
   *   <li>{@code t}: a type a cast to which runs such code: a domain whose constraints call a made
   *       function or any function that is not immutable ({@code nextval}, {@code set_config}: a
   *       built-in gets no pg_depend row, and an operator's function none either, the constraint
   *       depending on the operator, so the constraint's node tree is read for its {@code funcid}s
   *       and {@code opfuncid}s: a made one counts even when declared immutable, which it need not
   *       be), or that use an operator or operator family whose function or support function is
   *       made (a row comparison calls the family's support function: review round 23); a range or
   *       multirange whose canonical or subtype-difference function, or the support functions of
   *       whose subtype's operator class, are made (its input compares its bounds); a type whose
   *       input, receive, typmod input, send or output function is made (a superuser's {@code ALTER TYPE point SET
   *       (TYPMOD_IN = …)} ran at {@code '(1,2)'::point(3)}); a type whose default btree or hash
   *       operator class calls made functions (sorting, grouping and comparing its values runs
   *       them: such a type is a {@code c} type too); a domain whose constraints convert a value to
   *       such a type ({@code VALUE::d}, found through pg_depend, or for a built-in type, which
   *       gets no pg_depend row, in the constraint's node tree), a domain
   *       over one, a composite type with a field of one, an array of one, a range or multirange
   *       over one (its input converts the bounds), and
   *       the target of a cast through a made function; also the source of such a cast, whose
   *       values a built-in taking the target converts ({@code reverse('paid'::order_state)}); and
   *       what a bare call of that name may be (a cast written as a call);
   *   <li>{@code r}: a table whose row type a cast through a made function converts from: a
   *       statement naming it may convert its rows ({@code lower(c)});
   *   <li>{@code c}: the OID of a type such a cast converts from: a column of that type may be
   *       converted where a statement passes it to a built-in ({@code lower(state)} on an enum);
   *       and of a type whose default comparison is made: a column of it may be sorted or compared;
   *       and of a domain, an array, a composite type, a range or a multirange over one of those
   *       ({@code to_json} of an array converts each element, of a row each field, {@code ||} a
   *       domain's value as its base type's; {@code DISTINCT} on an array compares its elements:
   *       review round 24), their names {@code t} too (except a table's row type: a statement
   *       naming the table counts by its columns); and of a range or multirange whose canonical or
   *       subtype-difference function, or whose subtype's operator class, is made: the planner
   *       estimates a condition on a column of it with them ({@code r && '[1,5)'}, EXPLAIN too),
   *       as it compares a compared type's values (not left to the cast from a range to its
   *       multirange, whose constructor is a made function as well); and of a type whose send or
   *       output function is made: sending a value of it runs that (a superuser's {@code ALTER
   *       TYPE point SET (SEND = …)} ran for {@code COPY … (FORMAT binary)}), which is a {@code t}
   *       type as well;
   *   <li>{@code a}: the OID of a type an assignment or implicit cast through a made function
   *       converts to, or of a domain, an array or a composite type over one: a write storing a
   *       value of the cast's source in a column of it runs the cast ({@code UPDATE tickets SET lvl
   *       = 2} with a cast from int to the enum {@code lvl}: review round 24). A target that is the
   *       system's counts only for a cast from a type of the system's too (from a type of the
   *       database's own, the value's type is a {@code c} or a {@code t} type already);
   *   <li>{@code k}: the OID of a table a foreign key references whose referencing column is of a
   *       {@code c} or {@code a} type: the key's checks, run by a write of the table, convert between
   *       the two columns' types with the cast ({@code DELETE} of the parent: review round 25);
   *   <li>{@code p}: when a type's typmod input function is made, the built-ins that parse type
   *       names from strings ({@code to_regtype('point(3)')} runs it: review round 24); with them,
   *       {@code regtype}, {@code regprocedure} and {@code regoperator} (whose input parses type
   *       names) and their arrays count as {@code c}, {@code d} and {@code t} types ({@link
   *       #PARSING_TYPES}: added here, not in the query, where they made the planner's estimates of
   *       the closures above, and the hash tables sized by them, grow the look from 5 to 20 ms);
   *   <li>{@code d}: the OID of a type whose values run made code when coerced to it (the {@code
   *       t} types): a column of it runs that code where a row is filled in
   *       ({@code json_populate_record(s, …)}).
   * </ul>
   * A cast or an operator needs no USAGE on its function's schema, so for them every made function
   * counts; an operator someone made counts whatever function it calls ({@code pg_notify}, say).
   * See {@link dev.gatehouse.postgres.sql.ClassifiedStatement#unqualifiedBuiltins}.
   */
  private static final String HAZARDS = """
      WITH RECURSIVE trusted(classid, objid) AS (
        SELECT d.classid, d.objid FROM pg_catalog.pg_depend d
          JOIN pg_catalog.pg_extension x ON x.oid = d.refobjid
          JOIN pg_catalog.pg_roles r ON r.oid = x.extowner
         WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND d.deptype = 'e' AND r.rolsuper),
      ours AS (
        SELECT p.oid, p.proname, p.pronamespace, p.proargtypes, p.pronargs, p.pronargdefaults FROM pg_catalog.pg_proc p
         WHERE p.oid >= 16384
           AND NOT EXISTS (SELECT 1 FROM trusted WHERE classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND objid = p.oid)),
      made AS (SELECT * FROM ours WHERE pg_catalog.has_schema_privilege(pronamespace, 'USAGE')),
      hooked(oid) AS (
        SELECT f.amprocfamily FROM pg_catalog.pg_amproc f WHERE f.amproc::pg_catalog.oid IN (SELECT oid FROM ours)
        UNION SELECT a.amopfamily FROM pg_catalog.pg_amop a JOIN pg_catalog.pg_operator o ON o.oid = a.amopopr
         WHERE o.oprcode::pg_catalog.oid IN (SELECT oid FROM ours)),
      compared(oid) AS (
        SELECT k.opcintype FROM pg_catalog.pg_opclass k JOIN pg_catalog.pg_am m ON m.oid = k.opcmethod
         WHERE k.opcdefault AND m.amname IN ('btree', 'hash') AND k.opcfamily IN (SELECT oid FROM hooked)),
      printed(oid) AS (
        SELECT t.oid FROM pg_catalog.pg_type t
         WHERE t.typsend::pg_catalog.oid IN (SELECT oid FROM ours) OR t.typoutput::pg_catalog.oid IN (SELECT oid FROM ours)),
      ranged(oid) AS (
        SELECT x.oid FROM pg_catalog.pg_range g
          CROSS JOIN LATERAL (VALUES (g.rngtypid), (g.rngmultitypid)) x(oid)
         WHERE g.rngcanonical::pg_catalog.oid IN (SELECT oid FROM ours) OR g.rngsubdiff::pg_catalog.oid IN (SELECT oid FROM ours)
            OR g.rngsubopc IN (SELECT k.oid FROM pg_catalog.pg_opclass k WHERE k.opcfamily IN (SELECT oid FROM hooked))),
      coded(oid) AS (
        SELECT oid FROM compared
        UNION
        SELECT c.contypid FROM pg_catalog.pg_constraint c
          JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass AND d.objid = c.oid
         WHERE c.contypid <> 0 AND d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass
           AND d.refobjid IN (SELECT oid FROM ours)
        UNION SELECT c.contypid FROM pg_catalog.pg_constraint c
          CROSS JOIN LATERAL pg_catalog.regexp_matches(c.conbin::pg_catalog.text, ':(?:op)?funcid (\\d+) ', 'g') m
          JOIN pg_catalog.pg_proc p ON p.oid = m[1]::pg_catalog.oid
         WHERE c.contypid <> 0 AND (p.provolatile <> 'i' OR p.oid IN (SELECT oid FROM ours))
        UNION SELECT c.contypid FROM pg_catalog.pg_constraint c
          JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass AND d.objid = c.oid
         WHERE c.contypid <> 0 AND (
               d.refclassid = 'pg_catalog.pg_operator'::pg_catalog.regclass AND (
                 d.refobjid IN (SELECT o.oid FROM pg_catalog.pg_operator o WHERE o.oprcode::pg_catalog.oid IN (SELECT oid FROM ours))
                 OR d.refobjid IN (SELECT a.amopopr FROM pg_catalog.pg_amop a WHERE a.amopfamily IN (SELECT oid FROM hooked)))
            OR d.refclassid = 'pg_catalog.pg_opfamily'::pg_catalog.regclass AND d.refobjid IN (SELECT oid FROM hooked))
        UNION SELECT oid FROM ranged
        UNION SELECT t.oid FROM pg_catalog.pg_type t
         WHERE t.typinput::pg_catalog.oid IN (SELECT oid FROM ours) OR t.typreceive::pg_catalog.oid IN (SELECT oid FROM ours)
            OR t.typmodin::pg_catalog.oid IN (SELECT oid FROM ours) OR t.oid IN (SELECT oid FROM printed)
        UNION SELECT t.oid FROM pg_catalog.pg_type t, coded
         WHERE t.typbasetype = coded.oid OR t.typelem = coded.oid AND t.typcategory = 'A'
            OR t.typtype = 'd' AND EXISTS (SELECT 1 FROM pg_catalog.pg_constraint c
                                           JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass
                                                                      AND d.objid = c.oid
                                           WHERE c.contypid = t.oid AND d.refclassid = 'pg_catalog.pg_type'::pg_catalog.regclass
                                             AND d.refobjid = coded.oid)
            OR t.typtype = 'c' AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                                           WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND a.atttypid = coded.oid)
            OR t.typtype IN ('r', 'm') AND EXISTS (SELECT 1 FROM pg_catalog.pg_range g
                                                   WHERE g.rngsubtype = coded.oid AND t.oid IN (g.rngtypid, g.rngmultitypid))
            OR t.typtype = 'd' AND EXISTS (SELECT 1 FROM pg_catalog.pg_constraint c
                                           WHERE c.contypid = t.oid AND c.conbin::pg_catalog.text
                                             ~ (':(resulttype|consttype|row_typeid|element_typeid|array_typeid|minmaxtype|typeId) '
                                                || coded.oid::pg_catalog.text || ' '))),
      converted(oid) AS (
        SELECT c.castsource FROM pg_catalog.pg_cast c WHERE c.castfunc IN (SELECT oid FROM ours) AND c.castsource >= 16384
        UNION SELECT oid FROM compared
        UNION SELECT oid FROM ranged
        UNION SELECT oid FROM printed
        UNION SELECT t.oid FROM pg_catalog.pg_type t, converted
         WHERE t.typbasetype = converted.oid OR t.typelem = converted.oid AND t.typcategory = 'A'
            OR t.typtype = 'c' AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                                           WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND a.atttypid = converted.oid)
            OR t.typtype IN ('r', 'm') AND EXISTS (SELECT 1 FROM pg_catalog.pg_range g
                                                   WHERE t.oid IN (g.rngtypid, g.rngmultitypid)
                                                     AND converted.oid IN (g.rngsubtype, g.rngtypid))),
      assigned(oid) AS (
        SELECT c.casttarget FROM pg_catalog.pg_cast c
         WHERE c.castfunc IN (SELECT oid FROM ours) AND c.castcontext IN ('a', 'i')
           AND (c.casttarget >= 16384 OR c.castsource < 16384)
        UNION SELECT t.oid FROM pg_catalog.pg_type t, assigned
         WHERE t.typbasetype = assigned.oid OR t.typelem = assigned.oid AND t.typcategory = 'A'
            OR t.typtype = 'c' AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                                           WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND a.atttypid = assigned.oid))
      SELECT 'n', proname FROM made
      UNION SELECT 'f', m.proname FROM made m JOIN pg_catalog.pg_type t ON t.oid = m.proargtypes[0]
       WHERE m.pronargs >= 1 AND t.typtype = 'c'
      UNION SELECT 'f', m.proname FROM made m WHERE m.pronargs >= 1 AND m.pronargs - m.pronargdefaults <= 1
      UNION SELECT 'f', p.proname FROM pg_catalog.pg_proc p
       WHERE p.oid >= 16384 AND p.provolatile <> 'i' AND p.pronargs >= 1 AND p.pronargs - p.pronargdefaults <= 1
         AND pg_catalog.has_schema_privilege(p.pronamespace, 'USAGE')
         AND EXISTS (SELECT 1 FROM trusted WHERE classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND objid = p.oid)
      UNION SELECT 'n', o.oprname FROM pg_catalog.pg_operator o
       WHERE o.oid >= 16384 AND pg_catalog.has_schema_privilege(o.oprnamespace, 'USAGE')
         AND NOT EXISTS (SELECT 1 FROM trusted WHERE classid = 'pg_catalog.pg_operator'::pg_catalog.regclass AND objid = o.oid)
      UNION SELECT 't', t.typname FROM pg_catalog.pg_type t WHERE t.oid IN (SELECT oid FROM coded)
      UNION SELECT 'd', t.oid::pg_catalog.text FROM pg_catalog.pg_type t WHERE t.oid IN (SELECT oid FROM coded)
      UNION SELECT 't', t.typname FROM pg_catalog.pg_cast c JOIN pg_catalog.pg_type t ON t.oid = c.casttarget
       WHERE c.castfunc IN (SELECT oid FROM ours)
      UNION SELECT 'r', r.relname FROM pg_catalog.pg_cast c JOIN pg_catalog.pg_type t ON t.oid = c.castsource
        JOIN pg_catalog.pg_class r ON r.oid = t.typrelid
       WHERE c.castfunc IN (SELECT oid FROM ours)
      UNION SELECT 't', t.typname FROM pg_catalog.pg_cast c JOIN pg_catalog.pg_type t ON t.oid = c.castsource
       WHERE c.castfunc IN (SELECT oid FROM ours) AND t.oid >= 16384
      UNION SELECT 'c', oid::pg_catalog.text FROM converted
      UNION SELECT 'a', oid::pg_catalog.text FROM assigned
      UNION SELECT 'k', c.confrelid::pg_catalog.text FROM pg_catalog.pg_constraint c
        JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
       WHERE c.contype = 'f' AND (a.atttypid IN (SELECT oid FROM converted) OR a.atttypid IN (SELECT oid FROM assigned))
      UNION SELECT 'p', x.name FROM (VALUES ('to_regtype'), ('to_regtypemod'), ('to_regprocedure'), ('to_regoperator'),
                                            ('regtypein'), ('regprocedurein'), ('regoperatorin'),
                                            ('has_type_privilege'), ('has_function_privilege')) x(name)
       WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_type t WHERE t.typmodin::pg_catalog.oid IN (SELECT oid FROM ours))
      UNION SELECT 't', t.typname FROM pg_catalog.pg_type t WHERE t.oid IN (SELECT oid FROM converted)
         AND (t.typtype <> 'c' OR EXISTS (SELECT 1 FROM pg_catalog.pg_class r WHERE r.oid = t.typrelid AND r.relkind = 'c'))""";


  /** The {@code p} rows of {@link #HAZARDS}: the built-ins that parse type names from strings. */
  private static final Set<String> TYPE_NAME_PARSERS = Set.of("to_regtype", "to_regtypemod", "to_regprocedure",
      "to_regoperator", "regtypein", "regprocedurein", "regoperatorin",
      // their text forms parse a type's or a function's signature (review round 25)
      "has_type_privilege", "has_function_privilege");

  /**
   * The types whose input parses type names ({@code regtype}, {@code regprocedure}, {@code
   * regoperator}) and their arrays, by OID (pg_type.dat) and name: opaque as {@code c}, {@code d}
   * and {@code t} types while a typmod input function is made (see {@link #HAZARDS}).
   */
  private static final Map<Integer, String> PARSING_TYPES = Map.of(2206, "regtype", 2202, "regprocedure",
      2204, "regoperator", 2211, "_regtype", 2207, "_regprocedure", 2208, "_regoperator");

  /** OIDs from here on are the database's own objects, not the system's (FirstNormalObjectId). */
  static final int FIRST_NORMAL_OID = 16384;
  private static final String TYPE_BY_OID =
      "SELECT typtype, typcategory, typbasetype FROM pg_catalog.pg_type WHERE oid = $1::pg_catalog.oid";

  /** Built-in type OIDs (pg_type.dat), so the common types need no lookup. */
  private static final Map<Integer, TypeFamily> BUILTIN_TYPES = Map.ofEntries(
      Map.entry(25, TypeFamily.TEXT), Map.entry(1043, TypeFamily.TEXT), Map.entry(1042, TypeFamily.TEXT),
      Map.entry(19, TypeFamily.TEXT), Map.entry(18, TypeFamily.TEXT), Map.entry(705, TypeFamily.TEXT),
      Map.entry(21, TypeFamily.INTEGER), Map.entry(23, TypeFamily.INTEGER), Map.entry(20, TypeFamily.INTEGER),
      Map.entry(1700, TypeFamily.NUMERIC), Map.entry(700, TypeFamily.DECIMAL), Map.entry(701, TypeFamily.DECIMAL),
      Map.entry(16, TypeFamily.BOOLEAN), Map.entry(1082, TypeFamily.DATE), Map.entry(1083, TypeFamily.TIME),
      Map.entry(1266, TypeFamily.TIME), Map.entry(1114, TypeFamily.TIMESTAMP), Map.entry(1184, TypeFamily.TIMESTAMPTZ),
      Map.entry(2950, TypeFamily.UUID), Map.entry(114, TypeFamily.JSON), Map.entry(3802, TypeFamily.JSON),
      Map.entry(17, TypeFamily.BYTEA), Map.entry(2249, TypeFamily.COMPOSITE));

  /** One relation as the catalog describes it. */
  record Relation(
      int oid, char kind, boolean temporary, String schema, String name,
      TreeMap<Integer, Attribute> attributes, List<ColumnOrigin.Kin> kin, boolean rules, boolean writeRules,
      Instant loadedAt) {
    boolean isView() {
      return kind == 'v' || kind == 'm';
    }

    /**
     * A relation with rules of its own (a view's {@code _RETURN} is its definition, not one), or a
     * view over one (a write through the view runs them): a statement on it may be rewritten into
     * any other (CREATE RULE … DO INSTEAD).
     */
    boolean rewritten() {
      return rules && !system(); // the system views' rules are the system's
    }

    /**
     * As {@link #rewritten()}, for a statement that writes it: also when a view of it writes through
     * a relation of the system's with rules ({@code UPDATE} of a view over {@code pg_settings} calls
     * {@code set_config}: round 30).
     */
    boolean rewritten(boolean writes) {
      return writes ? (rules || writeRules) && !system() : rewritten();
    }

    /** One of the system's own relations (initdb made it: {@code pg_catalog}, {@code information_schema}). */
    boolean system() {
      return Integer.compareUnsigned(oid, FIRST_NORMAL_OID) < 0;
    }

    ColumnOrigin.Column column(Attribute a) {
      return new ColumnOrigin.Column(schema, name, a.name(), kin);
    }
  }

  record Attribute(String name, int typeOid) {}

  private final Supplier<BackendConnection> connect;
  private final Predicate<String> opaque;
  private final Duration ttl;
  private final Clock clock;
  private final ReentrantLock lock = new ReentrantLock();
  private final Map<Integer, Relation> relations = new ConcurrentHashMap<>();
  /** View OID → origin of each output column (by attribute number). */
  private final Map<Integer, Map<Integer, ColumnOrigin>> viewColumns = new ConcurrentHashMap<>();
  /** View OID → every base column it reads (empty: cannot be known). */
  private final Map<Integer, Optional<Set<ColumnOrigin.Column>>> viewReads = new ConcurrentHashMap<>();
  private final Map<Integer, TypeFamily> types = new ConcurrentHashMap<>(BUILTIN_TYPES);
  /** Relation name as written → the OIDs it may name, with when that was learnt. */
  private final Map<String, Named> names = new ConcurrentHashMap<>();

  private record Named(List<Integer> oids, Instant loadedAt) {}
  private volatile Instant generation;
  private final java.util.concurrent.atomic.AtomicLong version = new java.util.concurrent.atomic.AtomicLong();
  /** When {@link #hazards} was learnt (null: never, or forgotten). */
  private volatile Instant hazardsLoaded;
  private volatile Hazards hazards;
  /** When a failed lookup of {@link #hazards} was last logged. */
  private volatile Instant shadowWarned;
  /**
   * When the look for hidden code last failed (null: never). For {@link #RETRY_AFTER_FAILURE} after
   * that it is not asked again, and statements calling built-ins by bare name count as opaque code.
   */
  private volatile Instant hazardsFailed;
  /** How often {@link #HAZARDS} was asked (tests). */
  private final java.util.concurrent.atomic.AtomicLong hazardQueries = new java.util.concurrent.atomic.AtomicLong();
  private BackendConnection connection;

  /**
   * @param connect opens a backend connection with the resource's own credentials
   * @param ttl how long a cached relation is trusted without DDL through Gatehouse
   * @param opaque whether SQL (a view's definition) calls a function or operator that is not a
   *     harmless built-in: such a view may read any table, whatever its dependencies say (PostgreSQL
   *     records no dependency on the built-ins, {@code query_to_xml} among them)
   */
  ColumnCatalog(Supplier<BackendConnection> connect, Duration ttl, Clock clock, Predicate<String> opaque) {
    this.opaque = opaque;
    this.connect = connect;
    this.ttl = ttl;
    this.clock = clock;
    this.generation = clock.instant();
  }

  /**
   * Which of {@code names} (see {@link dev.gatehouse.postgres.sql.ClassifiedStatement#unqualifiedBuiltins})
   * may not be the built-in it looks like: a function or operator someone made has that name, or a
   * cast to that type ({@code ::name}) runs someone's code. Empty when none; a failed lookup counts
   * every name (fail closed).
   */
  Optional<String> shadowed(Set<String> names) {
    Hazards h = hazards();
    if (h == null) return names.stream().findFirst();
    if (h.isEmpty()) return Optional.empty();
    for (String n : names) {
      // lower('x') is a cast when a type of that name fits better than any function.
      if (n.startsWith("::") ? h.types().contains(n.substring(2)) : h.names().contains(n) || h.types().contains(n)) {
        return Optional.of(n);
      }
    }
    return Optional.empty();
  }

  /**
   * Which of {@code names} (column names a statement references) is the name of a function someone
   * made that takes a row, or that can be called with one argument of any type: {@code x.name} and
   * {@code (v).name} call it as {@code name(x)} where {@code x} has no such column or field (round
   * 18c: {@code (2).mark_paid} ran an {@code UPDATE} in {@code mark_paid(int)}), and which {@code x}
   * is cannot be told from the name, so the name alone counts; likewise the name of a type a cast to
   * which runs code ({@code t} of {@link #HAZARDS}): {@code (6).rt_dom} is {@code 6::rt_dom} where
   * no field or function fits. Empty when none (a failed lookup counts every name, as a function).
   */
  Optional<CalledName> calledAsColumn(Set<String> names) {
    if (names.isEmpty()) return Optional.empty();
    Hazards h = hazards();
    if (h == null) return names.stream().findFirst().map(n -> new CalledName(n, false));
    for (String n : names) {
      if (h.functions().contains(n)) return Optional.of(new CalledName(n, false));
      // (x).name is a cast of x to the type name where x has no such field and no function fits.
      if (h.types().contains(n)) return Optional.of(new CalledName(n, true));
    }
    return Optional.empty();
  }

  /**
   * A name {@link #calledAsColumn} found: a function someone made, or ({@code type}) a type a cast
   * to which runs code someone made, with no such function (review round 20: the reason said
   * "function" of a domain).
   */
  record CalledName(String name, boolean type) {}

  /**
   * A column of {@code relations} that a statement may convert with a cast through a function
   * someone made (its type is that cast's source: {@code lower(state)} converts an enum to text
   * implicitly), or, with {@code fillsRows} (the statement fills rows of a table's type from
   * values: {@code json_populate_record}), one whose type runs made code when coerced to, or,
   * with {@code writes}, one whose type a made assignment or implicit cast converts to (the
   * {@code a} types of {@link #HAZARDS}). Empty when none; a failed lookup names the first relation.
   */
  Optional<String> convertedColumn(Collection<String> relations, boolean fillsRows, boolean writes) {
    Hazards h = hazards();
    if (h == null) return relations.stream().findFirst();
    if (h.castSources().isEmpty() && (!fillsRows || h.codedTypes().isEmpty())
        && (!writes || h.assignedTypes().isEmpty() && h.checkedByCast().isEmpty())) {
      return Optional.empty();
    }
    try {
      for (String relation : relations) {
        for (Relation r : relationsNamed(relation)) {
          // A write of a table a foreign key references runs the key's checks, which compare the
          // referencing column with its key through a cast someone made (review round 25).
          if (writes && h.checkedByCast().contains(r.oid())) return Optional.of(relation + "'s foreign keys' referencing column");
          for (Attribute a : r.attributes().values()) {
            if (h.castSources().contains(a.typeOid()) || fillsRows && h.codedTypes().contains(a.typeOid())
                || writes && h.assignedTypes().contains(a.typeOid())) {
              return Optional.of(relation + "." + a.name());
            }
          }
        }
      }
      return Optional.empty();
    } catch (PostgresGatewayException e) {
      return relations.stream().findFirst();
    }
  }

  /**
   * Whether {@code function} (a name without its schema, lower case) parses type names from strings
   * while a type's typmod input function is made ({@code to_regtype('point(3)')} runs it). A failed
   * lookup counts every such function.
   */
  boolean parsesTypeNames(String function) {
    Hazards h = hazards();
    return h == null ? TYPE_NAME_PARSERS.contains(function) : h.typeNameParsers().contains(function);
  }

  /**
   * The first of {@code relations} whose rows a cast through a function someone made converts (a
   * statement naming it may convert them: {@code lower(c)}, {@code c::text}). Empty when none; a
   * failed lookup names the first relation.
   */
  Optional<String> castFrom(Collection<String> relations) {
    Hazards h = hazards();
    if (h == null) return relations.stream().findFirst();
    if (h.castFrom().isEmpty()) return Optional.empty();
    for (String relation : relations) {
      for (RelationNames.Reading r : RelationNames.readings(relation)) {
        if (h.castFrom().contains(r.table())) return Optional.of(relation);
      }
    }
    return Optional.empty();
  }

  /**
   * The first of {@code relations} that has rules of its own ({@link Relation#rewritten}: a
   * statement naming it may run something else entirely), or, for a statement that {@code writes},
   * whose write runs rules of a relation below it; or is a view whose reads cannot be known (it calls
   * code). Empty when none; a failed lookup names the first relation (fail closed).
   */
  Optional<String> rewritten(Collection<String> relations, boolean writes) {
    try {
      for (String relation : relations) {
        for (Relation r : relationsNamed(relation)) {
          // The system's views run only the system's code (what they read is masking's business).
          if (r.rewritten(writes) || r.isView() && !r.system() && viewReads(r, 0).isEmpty()) return Optional.of(relation);
        }
      }
      return Optional.empty();
    } catch (PostgresGatewayException e) {
      return relations.stream().findFirst();
    }
  }

  /** See {@link #HAZARDS}. */
  private record Hazards(Set<String> names, Set<String> functions, Set<String> types, Set<String> castFrom,
      Set<Integer> castSources, Set<Integer> codedTypes, Set<Integer> assignedTypes, Set<String> typeNameParsers,
      Set<Integer> checkedByCast) {
    boolean isEmpty() {
      return names.isEmpty() && functions.isEmpty() && types.isEmpty() && castFrom.isEmpty() && castSources.isEmpty()
          && codedTypes.isEmpty() && assignedTypes.isEmpty() && typeNameParsers.isEmpty() && checkedByCast.isEmpty();
    }
  }

  /** The cached {@link Hazards}; null when the catalog cannot be asked. */
  private Hazards hazards() {
    Instant loaded = hazardsLoaded;
    Instant now = clock.instant();
    if (fresh(loaded, now)) return hazards;
    if (failedRecently(now)) return null;
    // Loaded by another thread while this one waited for the lock? Then one query served every
    // session asking at once (round 22: each of 15 waiting loop threads ran it again in turn, and
    // every session of the resource stalled for seconds when the TTL ran out). Failed meanwhile?
    // Then asking again at once would most likely fail as slowly: the waiters fail closed.
    return underLock(() -> {
      Instant at = clock.instant();
      if (fresh(hazardsLoaded, at)) return hazards;
      Instant failed = hazardsFailed;
      if (failed != null && !failed.isBefore(now) || failedRecently(at)) return null;
      return loadHazards(at);
    });
  }

  /** Whether the look for hidden code failed less than {@link #RETRY_AFTER_FAILURE} before {@code now}. */
  private boolean failedRecently(Instant now) {
    Instant failed = hazardsFailed;
    return failed != null && failed.plus(RETRY_AFTER_FAILURE).isAfter(now);
  }

  /** Runs {@code body} holding the catalog's lock, telling a loop thread it may wait for it. */
  private <T> T underLock(java.util.function.Supplier<T> body) {
    Blocking.aboutToBlock(); // the lock, a query on the catalog connection, maybe its connect
    lock.lock();
    try {
      return body.get();
    } finally {
      lock.unlock();
    }
  }

  /** Whether something loaded at {@code loaded} may still be used at {@code now}: within the TTL, after the last DDL. */
  private boolean fresh(Instant loaded, Instant now) {
    return loaded != null && loaded.plus(ttl).isAfter(now) && !loaded.isBefore(generation);
  }

  /** Asks the catalog for {@link #HAZARDS}; under the lock. Null when it cannot be asked. */
  private Hazards loadHazards(Instant now) {
    hazardQueries.incrementAndGet();
    try {
      Set<String> names = new HashSet<>(), functions = new HashSet<>(), types = new HashSet<>(), castFrom = new HashSet<>();
      Set<String> typeNameParsers = new HashSet<>();
      Set<Integer> castSources = new HashSet<>(), codedTypes = new HashSet<>(), assignedTypes = new HashSet<>(),
          checkedByCast = new HashSet<>();
      for (List<Optional<String>> row : locked(c -> c.query(HAZARDS))) {
        String name = row.get(1).orElse("");
        switch (row.get(0).orElse("")) {
          case "n" -> names.add(name);
          case "f" -> functions.add(name);
          case "r" -> castFrom.add(name);
          case "c" -> castSources.add(Integer.parseUnsignedInt(name));
          case "d" -> codedTypes.add(Integer.parseUnsignedInt(name));
          case "a" -> assignedTypes.add(Integer.parseUnsignedInt(name));
          case "k" -> checkedByCast.add(Integer.parseUnsignedInt(name));
          case "p" -> {
            typeNameParsers.add(name);
            castSources.addAll(PARSING_TYPES.keySet());
            codedTypes.addAll(PARSING_TYPES.keySet());
            types.addAll(PARSING_TYPES.values());
          }
          default -> types.add(name);
        }
      }
      hazards = new Hazards(Set.copyOf(names), Set.copyOf(functions), Set.copyOf(types), Set.copyOf(castFrom),
          Set.copyOf(castSources), Set.copyOf(codedTypes), Set.copyOf(assignedTypes), Set.copyOf(typeNameParsers),
          Set.copyOf(checkedByCast));
      hazardsLoaded = now;
      return hazards;
    } catch (PostgresGatewayException e) {
      hazardsFailed = clock.instant();
      Instant last = shadowWarned;
      if (last == null || !last.plus(Duration.ofMinutes(1)).isAfter(now)) {
        shadowWarned = now;
        log.warn("cannot read the resource's functions, operators and types ({}): statements calling built-ins by"
            + " bare name are treated as opaque code until it can", e.getMessage());
      }
      return null;
    }
  }

  /** How many times the look for hidden code was asked of the resource. */
  long hazardQueries() {
    return hazardQueries.get();
  }

  /** Changes whenever {@link #invalidate()} forgets what was known. */
  long version() {
    return version.get();
  }

  /** Forgets everything known: a DDL statement ran on the resource. */
  void invalidate() {
    version.incrementAndGet();
    hazardsLoaded = null;
    relations.clear();
    names.clear();
    viewColumns.clear();
    viewReads.clear();
    generation = clock.instant();
  }

  /**
   * The result columns of a row description, with the formats they travel in.
   *
   * @param formats the result format of each column (0 text, 1 binary), as the Bind asked; the row
   *     description's own format codes are used when this is empty
   */
  List<ResultColumn> columns(RowDescription description, short[] formats) {
    List<RowDescription.Field> fields = description.fields();
    List<ResultColumn> out = new ArrayList<>(fields.size());
    for (int i = 0; i < fields.size(); i++) {
      RowDescription.Field f = fields.get(i);
      short format = formats.length == 0 ? f.format() : formats.length == 1 ? formats[0] : formats[i];
      ValueFormat vf = format == 1 ? ValueFormat.BINARY : ValueFormat.TEXT;
      ColumnOrigin origin = origin(f.tableOid(), f.columnAttribute());
      List<TypeFamily> fieldTypes = List.of();
      TypeFamily type;
      if (origin instanceof ColumnOrigin.Row) {
        type = TypeFamily.COMPOSITE;
        fieldTypes = rowFieldTypes(f.tableOid());
      } else {
        type = family(f.typeOid());
      }
      out.add(new ResultColumn(origin, type, vf, fieldTypes));
    }
    return out;
  }

  /** Where the values of attribute {@code attnum} of relation {@code tableOid} come from. */
  ColumnOrigin origin(int tableOid, int attnum) {
    if (tableOid == 0) return ColumnOrigin.untraceable("expression");
    try {
      return originOf(tableOid, attnum, 0);
    } catch (PostgresGatewayException e) {
      return ColumnOrigin.untraceable("catalog unavailable");
    }
  }

  private ColumnOrigin originOf(int oid, int attnum, int depth) {
    Optional<Relation> found = relation(oid, attnum);
    if (found.isEmpty()) return ColumnOrigin.untraceable("relation not visible to Gatehouse");
    Relation r = found.get();
    if (r.temporary()) return ColumnOrigin.untraceable("temporary table");
    if (r.isView()) {
      if (attnum == 0) return ColumnOrigin.untraceable("whole row of a view");
      if (depth >= MAX_VIEW_DEPTH) return ColumnOrigin.untraceable("views nested too deep");
      Map<Integer, ColumnOrigin> columns = viewColumns.get(oid);
      if (columns == null) {
        columns = resolveView(r, depth);
        viewColumns.put(oid, columns);
      }
      return columns.getOrDefault(attnum, ColumnOrigin.untraceable("view column unknown to Gatehouse"));
    }
    if (attnum == 0) return new ColumnOrigin.Row(r.schema(), r.name(), names(r), r.kin());
    Attribute a = r.attributes().get(attnum);
    if (a == null) return ColumnOrigin.untraceable("column unknown to Gatehouse");
    return r.column(a);
  }

  /** A view's definition as PostgreSQL prints it (a SELECT); empty when it has none. */
  private String definition(Relation view) {
    return locked(c -> c.query(VIEW_DEFINITION, Integer.toUnsignedString(view.oid())))
        .stream().findFirst().flatMap(row -> row.get(0)).orElse("");
  }

  private Map<Integer, ColumnOrigin> resolveView(Relation view, int depth) {
    Map<Integer, ColumnOrigin> columns = new HashMap<>();
    String definition = definition(view);
    if (definition.isBlank()) return columns;
    Optional<RowDescription> shape;
    try {
      shape = locked(c -> c.describe(definition));
    } catch (PostgresGatewayException e) {
      return columns; // every column untraceable
    }
    if (shape.isEmpty()) return columns;
    List<RowDescription.Field> fields = shape.get().fields();
    for (int i = 0; i < fields.size(); i++) {
      RowDescription.Field f = fields.get(i);
      ColumnOrigin o = f.tableOid() == 0 ? ColumnOrigin.untraceable("expression in a view")
          : originOf(f.tableOid(), f.columnAttribute(), depth + 1);
      // Output column i of the definition is attribute i + 1 of the view.
      columns.put(i + 1, o instanceof ColumnOrigin.Row ? ColumnOrigin.untraceable("whole row in a view") : o);
    }
    return columns;
  }

  private List<String> names(Relation r) {
    List<String> names = new ArrayList<>();
    for (Attribute a : r.attributes().values()) names.add(a.name());
    return names;
  }

  private List<TypeFamily> rowFieldTypes(int tableOid) {
    try {
      Optional<Relation> r = relation(tableOid, -1);
      if (r.isEmpty()) return List.of();
      List<TypeFamily> types = new ArrayList<>();
      for (Attribute a : r.get().attributes().values()) types.add(family(a.typeOid()));
      return types;
    } catch (PostgresGatewayException e) {
      return List.of();
    }
  }

  /** The type family of a type OID; unknown types are looked up (domains resolve to their base). */
  TypeFamily family(int typeOid) {
    TypeFamily known = types.get(typeOid);
    if (known != null) return known;
    try {
      TypeFamily f = lookupType(typeOid, 0);
      types.put(typeOid, f);
      return f;
    } catch (PostgresGatewayException e) {
      return TypeFamily.OTHER;
    }
  }

  private TypeFamily lookupType(int typeOid, int depth) {
    TypeFamily known = types.get(typeOid);
    if (known != null) return known;
    if (depth > 8) return TypeFamily.OTHER;
    List<List<Optional<String>>> rows = locked(c -> c.query(TYPE_BY_OID, Integer.toUnsignedString(typeOid)));
    if (rows.isEmpty()) return TypeFamily.OTHER;
    String typtype = rows.get(0).get(0).orElse("");
    String category = rows.get(0).get(1).orElse("");
    if (typtype.equals("d")) {
      return lookupType(Integer.parseUnsignedInt(rows.get(0).get(2).orElse("0")), depth + 1);
    }
    if (typtype.equals("c")) return TypeFamily.COMPOSITE;
    // citext and other extension string types are in the string category.
    if (typtype.equals("b") && category.equals("S")) return TypeFamily.TEXT;
    return TypeFamily.OTHER;
  }

  /**
   * The base columns a statement may read through these relations: every column of each table, and
   * for a view every base column it depends on. Names as the classifier reports them ({@code
   * schema.table} or {@code table}: then every schema's relation of that name). Relations the
   * catalog does not know (CTE names, tables created in the client's open transaction) add nothing:
   * they hold no base column Gatehouse knows of.
   *
   * @param columnNames when present, only table columns of these names count (the statement names
   *     no other column of a table); {@code *} or a name no table read has (a whole-row reference)
   *     means every column
   * @return {@link Reads#unknown()} when the catalog cannot be asked
   */
  Reads reads(Collection<String> relationNames, Optional<Set<String>> columnNames) {
    return reads(relationNames, columnNames, Set.of());
  }

  /**
   * As above; {@code outputNames} (names the statement gave select-list items, whose reads are
   * among {@code columnNames} already) are no whole-row references when no table has them.
   */
  Reads reads(Collection<String> relationNames, Optional<Set<String>> columnNames, Set<String> outputNames) {
    try {
      Set<ColumnOrigin.Column> columns = new LinkedHashSet<>();
      List<Relation> tables = new ArrayList<>();
      for (String name : relationNames) {
        for (Relation r : relationsNamed(name)) {
          if (r.rewritten()) return Reads.unknown();
          if (!r.isView()) {
            tables.add(r);
            continue;
          }
          Optional<Set<ColumnOrigin.Column>> read = viewReads(r, 0);
          if (read.isEmpty()) return Reads.unknown();
          columns.addAll(read.get());
        }
      }
      boolean everything = columnNames.isEmpty() || columnNames.get().contains("*");
      if (!everything) {
        Set<String> known = new HashSet<>();
        for (Relation t : tables) for (Attribute a : t.attributes().values()) known.add(a.name());
        for (String n : columnNames.get()) {
          if (!known.contains(n) && !outputNames.contains(n)) {
            everything = true; // perhaps a table alias used as a whole-row value
            break;
          }
        }
      }
      for (Relation t : tables) {
        for (Attribute a : t.attributes().values()) {
          if (everything || columnNames.get().contains(a.name())) {
            columns.add(t.column(a));
          }
        }
      }
      return Reads.columns(columns);
    } catch (PostgresGatewayException e) {
      return Reads.unknown();
    }
  }

  /**
   * The columns of the named table, in attribute order; empty when no such table is known, or when
   * the name may mean more than one relation (the same name in two schemas, a temporary table of
   * that name: which one the server copies depends on the session's search_path, which Gatehouse
   * does not follow; round 30 review: a masked table's columns must not be taken for another's).
   */
  List<ColumnOrigin.Column> tableColumns(String name) {
    List<Relation> named = relationsNamed(name);
    if (named.size() != 1) return List.of();
    Relation r = named.getFirst();
    if (r.isView() || r.temporary()) return List.of();
    List<ColumnOrigin.Column> out = new ArrayList<>();
    for (Attribute a : r.attributes().values()) out.add(r.column(a));
    return out;
  }

  /**
   * Every base column a view reads, through views over views; empty when that cannot be known: the
   * view calls a function other than a harmless built-in, or a user-defined operator (either may
   * read any table), or reads a catalog relation that quotes other tables' values ({@link
   * SessionMasking#QUOTING_RELATIONS}: pg_stats and the like). The system's own views
   * ({@code pg_settings}, {@code information_schema.tables} …) call built-ins that read the catalogs
   * and statistics: their functions count as harmless, and the ones that quote values are named in
   * QUOTING_RELATIONS, which the statement's own relations are checked against too.
   */
  private Optional<Set<ColumnOrigin.Column>> viewReads(Relation view, int depth) {
    Optional<Set<ColumnOrigin.Column>> cached = viewReads.get(view.oid());
    if (cached != null) return cached;
    // Which column types run made code when converted (the catalog's look for hidden code): when
    // it cannot be asked now, the view's reads are unknown, and not remembered as such.
    Hazards h = hazards();
    if (h == null) return Optional.empty();
    Optional<Set<ColumnOrigin.Column>> result = depth < MAX_VIEW_DEPTH && (view.system() || !opaque.test(definition(view)))
        ? dependencies(view, depth, h) : Optional.empty();
    viewReads.put(view.oid(), result);
    return result;
  }

  /** {@link #viewReads} of a view whose definition calls no opaque code, from what its rules depend on. */
  private Optional<Set<ColumnOrigin.Column>> dependencies(Relation view, int depth, Hazards h) {
    // A column of a type a made cast converts from, or whose conversion runs made code, may run
    // that code where the view passes it to a built-in (to_json of an enum: red-team round 34).
    Set<ColumnOrigin.Column> out = new LinkedHashSet<>();
    for (List<Optional<String>> row : locked(c -> c.query(VIEW_DEPENDENCIES, Integer.toUnsignedString(view.oid())))) {
      int oid = Integer.parseUnsignedInt(row.get(0).orElse("0"));
      int sub = Integer.parseInt(row.get(1).orElse("0"));
      if (sub < 0) {
        boolean harmless = row.get(2).orElse("f").equals("t") && Integer.compareUnsigned(oid, FIRST_NORMAL_OID) < 0
            && (view.system() || row.get(3).orElse("").equals("pg_catalog") && SqlClassifier.harmlessBuiltin(row.get(4).orElse(""))
                && !SessionMasking.statistics(row.get(4).orElse("")));
        if (harmless) continue;
        return Optional.empty(); // a function or operator that may read anything
      }
      Optional<Relation> dep = relation(oid, sub);
      if (dep.isEmpty()) continue;
      Relation d = dep.get();
      if (d.schema().equals("pg_catalog")
          && (SessionMasking.QUOTING_RELATIONS.contains(d.name()) || SessionMasking.statistics(d.name()))) {
        return Optional.empty(); // a view over them reads what they do (round 29: over pg_stat_database)
      }
      if (d.isView()) {
        Optional<Set<ColumnOrigin.Column>> inner = viewReads(d, depth + 1);
        if (inner.isEmpty()) return Optional.empty();
        out.addAll(inner.get());
      } else if (sub == 0) {
        for (Attribute a : d.attributes().values()) {
          if (converts(h, a)) return Optional.empty();
          out.add(d.column(a));
        }
      } else {
        Attribute a = d.attributes().get(sub);
        if (a != null && converts(h, a)) return Optional.empty();
        if (a != null) out.add(d.column(a));
      }
    }
    return Optional.of(Set.copyOf(out));
  }


  /** Whether converting a value of {@code a}'s type may run code someone made ({@link #HAZARDS}' {@code c} and {@code t} types). */
  private static boolean converts(Hazards h, Attribute a) {
    return h.castSources().contains(a.typeOid()) || h.codedTypes().contains(a.typeOid());
  }

  private List<Relation> relationsNamed(String name) {
    Instant now = clock.instant();
    Named known = names.get(name);
    if (known == null || !fresh(known.loadedAt(), now)) {
      known = underLock(() -> {
        Named again = names.get(name); // looked up by another thread while this one waited for the lock?
        Instant at = clock.instant();
        if (again != null && fresh(again.loadedAt(), at)) return again;
        // A dot may be a separator or part of a quoted name: every reading counts.
        Set<Integer> oids = new LinkedHashSet<>();
        for (RelationNames.Reading reading : RelationNames.readings(name)) {
          for (List<Optional<String>> row : locked(c -> c.query(RELATIONS_BY_NAME, reading.table(), reading.schema()))) {
            oids.add(Integer.parseUnsignedInt(row.get(0).orElse("0")));
          }
        }
        Named found = new Named(List.copyOf(oids), at);
        if (names.size() > 10_000) names.clear(); // bounded: names come from clients' statements
        names.put(name, found);
        return found;
      });
    }
    List<Relation> out = new ArrayList<>();
    for (int oid : known.oids()) relation(oid, -1).ifPresent(out::add);
    return out;
  }

  /**
   * The relation with this OID, from the cache when fresh and when it knows {@code attnum} (a
   * positive attribute number it lacks means the table changed: reload once).
   */
  private Optional<Relation> relation(int oid, int attnum) {
    Instant now = clock.instant();
    Relation cached = relations.get(oid);
    if (cached != null && fresh(cached.loadedAt(), now) && (attnum <= 0 || cached.attributes().containsKey(attnum))) {
      return Optional.of(cached);
    }
    return underLock(() -> {
      Relation again = relations.get(oid); // loaded by another thread while this one waited for the lock?
      Instant at = clock.instant();
      if (again != null && fresh(again.loadedAt(), at) && (attnum <= 0 || again.attributes().containsKey(attnum))) {
        return Optional.of(again);
      }
      return loadRelation(oid, again, at);
    });
  }

  /** Asks the catalog for the relation with this OID and caches it; under the lock. */
  private Optional<Relation> loadRelation(int oid, Relation cached, Instant now) {
    List<List<Optional<String>>> rows = locked(c -> c.query(RELATION_BY_OID, Integer.toUnsignedString(oid)));
    if (rows.isEmpty()) {
      relations.remove(oid);
      return Optional.empty();
    }
    List<Optional<String>> first = rows.get(0);
    TreeMap<Integer, Attribute> attributes = new TreeMap<>();
    for (List<Optional<String>> row : rows) {
      if (row.get(4).isEmpty()) continue; // a relation without columns
      attributes.put(Integer.parseInt(row.get(4).get()),
          new Attribute(row.get(5).orElse(""), Integer.parseUnsignedInt(row.get(6).orElse("0"))));
    }
    List<ColumnOrigin.Kin> kin = List.of();
    if (first.get(7).orElse("f").equals("t")) {
      List<ColumnOrigin.Kin> found = new ArrayList<>();
      for (List<Optional<String>> row : locked(c -> c.query(KIN, Integer.toUnsignedString(oid)))) {
        found.add(new ColumnOrigin.Kin(row.get(0).orElse(""), row.get(1).orElse("")));
      }
      kin = List.copyOf(found);
    }
    Relation r = new Relation(oid, first.get(0).orElse("?").charAt(0), first.get(1).orElse("p").equals("t"),
        first.get(2).orElse(""), first.get(3).orElse(""), attributes, kin, first.get(8).orElse("f").equals("t"),
        first.get(9).orElse("t").equals("t"), now);
    relations.put(oid, r);
    if (cached != null) {
      viewColumns.remove(oid);
      viewReads.remove(oid);
    }
    return Optional.of(r);
  }

  private interface Call<T> {
    T run(CatalogClient client);
  }

  private <T> T locked(Call<T> call) {
    return underLock(() -> {
      boolean fresh = connection == null || connection.isClosed();
      if (fresh) connection = connect.get();
      try {
        return attempt(call);
      } catch (PostgresGatewayException e) {
        // A connection kept from an earlier look may have been closed by the target since (a
        // restart, a failover, an idle-connection reaper, pg_terminate_backend): found only now, at
        // its use. The catalog's queries only read, so they run once more on a new one, rather than
        // refusing statements policy allows as if the resource were unreachable (review round 45).
        if (fresh || !e.sqlstate().equals("08006")) throw e;
        connection = connect.get();
        return attempt(call);
      }
    });
  }

  /** Runs {@code call} on the current connection (held under the lock); drops the connection when it fails. */
  private <T> T attempt(Call<T> call) {
    try {
      return call.run(new CatalogClient(connection));
    } catch (PostgresGatewayException e) {
      if (!e.sqlstate().equals("XX000")) {
        // The connection is in an unknown state: drop it, the next lookup reconnects.
        connection.abort();
        connection = null;
      }
      throw e;
    } catch (RuntimeException e) {
      connection.abort();
      connection = null;
      throw new PostgresGatewayException("XX000", "catalog lookup failed: " + e.getMessage(), e);
    }
  }

  @Override
  public void close() {
    lock.lock();
    try {
      if (connection != null) connection.close();
      connection = null;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Whether a value of the type {@code typeOid} may be converted by a cast through a function
   * someone made where a built-in takes it ({@code to_json($1)}: the {@code c} rows of {@link
   * #HAZARDS}). When the catalog cannot be asked, true for a type of the database's own.
   */
  boolean convertedByMadeCast(int typeOid) {
    Hazards h = hazards();
    return h == null ? Integer.compareUnsigned(typeOid, FIRST_NORMAL_OID) >= 0 : h.castSources().contains(typeOid);
  }

  /**
   * Whether converting a value to the type {@code typeOid} may run code someone made: a domain
   * whose constraint calls it, or a type built on one (the {@code d} rows of {@link #HAZARDS}).
   * When the catalog cannot be asked, true for a type of the database's own (the system's never).
   */
  boolean runsCodeWhenCoerced(int typeOid) {
    Hazards h = hazards();
    // The system's types count only by what the catalog says (regtype while a typmod input is made).
    return h == null ? Integer.compareUnsigned(typeOid, FIRST_NORMAL_OID) >= 0 : h.codedTypes().contains(typeOid);
  }
}
