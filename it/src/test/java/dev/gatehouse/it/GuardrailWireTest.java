package dev.gatehouse.it;

import static dev.gatehouse.it.GatewayStack.ALICE;
import static dev.gatehouse.it.GatewayStack.DANA;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.gatehouse.testkit.OidcFixture;
import dev.gatehouse.testkit.Psql;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.sql.BatchUpdateException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.postgresql.PGConnection;
import org.postgresql.largeobject.LargeObjectManager;

/**
 * Issue #3's dangerous statements (THREATS.md items 1-7, after postgres-sql's corpus) sent through
 * the wire by alice, a {@code developers} user under the reference policy, over every route a
 * client has: psql's simple query (all statements in one Query message), psql inside an explicit
 * transaction, pgjdbc's extended protocol, named server-side prepared statements, simple query
 * mode, batches (one Sync for the lot) and transactions. Each must be refused with SQLSTATE 42501
 * by Gatehouse, leave the session usable, and leave the target exactly as it was.
 *
 * <p>The target role owns the tables, so almost everything here is something the target itself
 * would have done: a refusal can only have come from the gateway (and its message says so).
 */
class GuardrailWireTest {
  @TempDir static Path dir;
  static OidcFixture oidc;
  static TargetDatabase target;
  static GatewayStack stack;
  static Connection admin;
  static Map<String, String> baseline;
  static final String MARK = HexFormat.of().formatHex(new SecureRandom().generateSeed(4));
  static final Path PROGRAM_FILE = Path.of("/tmp/gh-it-program-" + MARK);
  static final Path COPY_FILE = Path.of("/tmp/gh-it-copy-" + MARK);

  /** Client sessions through the gateway, reused across cases: a denial must leave them usable. */
  static final Map<String, Connection> sessions = new java.util.HashMap<>();

  @BeforeAll
  static void start() {
    oidc = OidcFixture.start();
    target = TargetDatabase.create();
    stack = GatewayStack.start(dir, oidc, GatewayStack.Target.of(target));
    // A function its owner declared IMMUTABLE although it has a side effect (it advances a
    // sequence): PostgreSQL's planner folds such a call with constant arguments while planning.
    target.execute(String.join(";\n",
        "SET ROLE " + target.role(),
        "CREATE SEQUENCE public.ticket",
        "CREATE FUNCTION public.bump(n int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN PERFORM nextval('public.ticket'); RETURN n; END $$",
        // Traps with built-ins' names: PostgreSQL picks them over pg_catalog's by argument types.
        "CREATE FUNCTION public.lower(integer) RETURNS text LANGUAGE sql AS $$ DELETE FROM public.orders; SELECT 'gone' $$",
        "CREATE FUNCTION public.wipe_op(integer, text) RETURNS boolean LANGUAGE sql AS $$ DELETE FROM public.orders; SELECT true $$",
        "CREATE OPERATOR public.# (leftarg = integer, rightarg = text, function = public.wipe_op)",
        // ... and calls written without any name (red-team round 6): BETWEEN finds >= and <= by
        // name, a cast to a domain runs its CHECK, x.f calls f(x), a rule rewrites an INSERT.
        "CREATE OPERATOR public.>= (leftarg = integer, rightarg = text, function = public.wipe_op)",
        "CREATE OPERATOR public.<= (leftarg = integer, rightarg = text, function = public.wipe_op)",
        "CREATE FUNCTION public.wipe_check(text) RETURNS boolean LANGUAGE sql AS $$ DELETE FROM public.orders; SELECT true $$",
        "CREATE DOMAIN public.checked AS text CHECK (public.wipe_check(VALUE))",
        "CREATE FUNCTION public.wipe_row(orders) RETURNS int LANGUAGE sql AS $$ DELETE FROM public.orders; SELECT 1 $$",
        "CREATE TABLE public.inbox (id int, body text)",
        "CREATE RULE inbox_wipe AS ON INSERT TO public.inbox DO INSTEAD DELETE FROM public.orders",
        // Round 7: a domain named like a built-in function, a domain over a checked one, a cast from
        // a table's rows through a function, a view with an INSTEAD rule, a view calling a function.
        "CREATE DOMAIN public.upper AS text CHECK (public.wipe_check(VALUE))",
        "CREATE DOMAIN public.checked_too AS public.checked",
        "CREATE TABLE public.ledger (id int)",
        "INSERT INTO public.ledger VALUES (1)",
        "CREATE FUNCTION public.ledger_text(public.ledger) RETURNS text LANGUAGE sql AS $$ DELETE FROM public.orders; SELECT 'x' $$",
        "CREATE CAST (public.ledger AS text) WITH FUNCTION public.ledger_text(public.ledger) AS IMPLICIT",
        "CREATE VIEW public.outbox AS SELECT 1 AS id",
        "CREATE RULE outbox_wipe AS ON INSERT TO public.outbox DO INSTEAD DELETE FROM public.orders",
        "CREATE VIEW public.wipe_view AS SELECT public.wipe_check('x') AS ok",
        // Round 8: an overload on a made type wins over the built-in by an exact match.
        "CREATE TYPE public.mood AS ENUM ('ok', 'sad')",
        "CREATE TABLE public.moods (m public.mood)",
        "INSERT INTO public.moods VALUES ('ok')",
        "CREATE FUNCTION public.initcap(public.mood) RETURNS text LANGUAGE sql AS $$ DELETE FROM public.orders; SELECT 'x' $$",
        // Round 9: an operator bound to a built-in that is no harmless one; a cast from an enum
        // through a function, which a built-in taking text applies implicitly; a domain whose CHECK
        // writes, reached through a column definition list and through a row being filled in.
        "CREATE OPERATOR public.& (leftarg = text, rightarg = text, function = pg_catalog.pg_notify)",
        "CREATE TYPE public.order_state AS ENUM ('paid', 'shipped')",
        "CREATE FUNCTION public.order_state_label(public.order_state) RETURNS text LANGUAGE sql AS $$ DELETE FROM public.orders; SELECT 'x' $$",
        "CREATE CAST (public.order_state AS text) WITH FUNCTION public.order_state_label(public.order_state) AS IMPLICIT",
        "CREATE TABLE public.shipments (id int, state public.order_state)",
        "INSERT INTO public.shipments VALUES (1, 'paid')",
        "CREATE TABLE public.signups (id int, address public.checked)",
        // Controls: a domain whose CHECK calls only built-ins, a view over a table.
        "CREATE DOMAIN public.plain_email AS text CHECK (VALUE ~ '@')",
        "CREATE VIEW public.order_ids AS SELECT id FROM public.orders",
        "RESET ROLE"));
    admin = target.admin();
    baseline = target.snapshot(admin);
  }

  @AfterAll
  static void stop() throws SQLException {
    for (Connection c : sessions.values()) c.close();
    if (admin != null) admin.close();
    if (stack != null) stack.close();
    if (target != null) target.close();
    if (oidc != null) oidc.close();
  }

  static Stream<Arguments> dangerous() {
    return Stream.of(
        // 1. Lexical evasion
        c("DROP TABLE orders"),
        c("dRoP   TaBlE\n\t\"orders\""),
        c("DROP/**/TABLE/**/orders"),
        c("/* outer /* nested */ still a comment */ DROP TABLE orders"),
        c("DROP TABLE U&\"ord\\0065rs\""),
        c("TRUNCATE orders"),
        c("truncate table public.customers, orders cascade"),
        c("DELETE FROM orders"),
        c("delete from orders -- where id = 1"),
        c("DELETE FROM orders /* WHERE id = 1 */"),
        c("UPDATE customers SET email = 'gone@example.com'"),
        // 2. Several statements in one message
        multi("SELECT 1; DROP TABLE orders"),
        multi("SELECT 1; /* ; */ DROP TABLE orders"),
        multi("SELECT ';'; DROP TABLE orders"),
        multi("SELECT 'it''s; fine'; DELETE FROM orders"),
        multi("SELECT $$;$$; DROP TABLE orders"),
        multi("SELECT $tag$ $$; DROP TABLE x; $$ $tag$; TRUNCATE orders"),
        multi("SELECT 1 -- ;\n; DROP TABLE orders"),
        multi("INSERT INTO scratch VALUES (1, 'before'); DROP TABLE orders; INSERT INTO scratch VALUES (2, 'after')"),
        // 7. Data-modifying statements hidden in WITH
        c("WITH gone AS (DELETE FROM orders RETURNING *) SELECT count(*) FROM gone"),
        c("WITH u AS (UPDATE customers SET email = 'x' RETURNING id) SELECT * FROM u"),
        c("WITH d AS (DELETE FROM orders RETURNING *), i AS (INSERT INTO scratch SELECT id, status FROM d RETURNING 1) SELECT count(*) FROM i"),
        c("EXPLAIN ANALYZE DELETE FROM orders"),
        // 4. Deferred and dynamic SQL
        c("DO $$BEGIN DELETE FROM orders; END$$"),
        c("DO $$ BEGIN EXECUTE 'DROP TABLE ' || 'orders'; END $$"),
        c("DO LANGUAGE plpgsql $x$ BEGIN TRUNCATE customers CASCADE; END $x$"),
        multi("PREPARE wipe AS DELETE FROM orders; EXECUTE wipe"),
        c("CREATE FUNCTION wipe() RETURNS void LANGUAGE sql AS 'DELETE FROM orders'"),
        c("SELECT query_to_xml('DELETE FROM orders RETURNING *', true, false, '')"),
        // A built-in's name, shadowed by a function or operator someone created (red-team round 5).
        c("SELECT lower(1)"),
        c("SELECT 1 # 'x'::text"),
        c("SELECT 1 BETWEEN 'a'::text AND 'b'::text"),
        c("SELECT 'x'::checked"),
        c("SELECT o.wipe_row FROM orders o"),
        c("INSERT INTO inbox VALUES (1, 'x')"),
        c("SELECT upper('abc')"),
        c("SELECT 'x'::checked_too"),
        c("SELECT l::text FROM ledger l"),
        c("SELECT o.wipe_row AS wipe_row FROM orders o"),
        c("SELECT (o).wipe_row FROM orders o"),
        c("INSERT INTO outbox VALUES (1)"),
        c("SELECT * FROM wipe_view"),
        c("SELECT initcap(m) FROM moods"),
        c("SELECT 'chan' & 'payload'"),
        c("SELECT reverse(state) FROM shipments"),
        c("SELECT reverse('paid'::order_state)"),
        c("SELECT * FROM json_to_record('{\"a\": \"x\"}') AS r(a checked)"),
        c("SELECT XMLSERIALIZE(CONTENT '<a>x</a>'::xml AS checked)"),
        c("SELECT json_populate_record(s, '{\"address\": \"x\"}') FROM signups s"),
        // 5. Server programs, files, large objects
        c("COPY orders TO PROGRAM 'touch " + PROGRAM_FILE + "'"),
        c("COPY scratch FROM PROGRAM 'echo 7,x'"),
        c("COPY orders TO '" + COPY_FILE + "'"),
        // Refused at the Bind over the extended protocol, before the target plans them.
        c("SELECT pg_read_file('/etc/hostname')"),
        c("SELECT lo_import('/etc/hostname')"),
        c("SELECT lo_from_bytea(0, 'smuggled')"),
        // 6. Session state that changes meaning
        c("SELECT set_config('search_path', 'public, pg_catalog', false)"),
        c("SELECT set_config('standard_conforming_strings', 'off', false)"),
        c("SELECT 1 WHERE set_config('role', current_user, true) IS NOT NULL"),
        // Another role than the one Gatehouse signs in as (that one, and a return to it, are no
        // role change: PgjdbcTest's Flyway case).
        c("SET ROLE pg_monitor"),
        c("SET SESSION AUTHORIZATION postgres"),
        c("SET client_encoding = 'SJIS'"),
        c("SET NAMES 'GBK'"),
        c("SET standard_conforming_strings = off"),
        c("RESET client_encoding"),
        c("ALTER ROLE %ROLE% SET search_path = evil"),
        // A path naming pg_catalog after another schema lets that schema shadow built-ins.
        c("SET search_path = public, pg_catalog"),
        c("SET search_path TO 'public, pg_catalog'"),
        // Schema and privileges on named objects
        c("ALTER TABLE orders RENAME TO old_orders"),
        c("GRANT ALL ON customers TO PUBLIC"),
        c("CREATE TABLE stolen AS SELECT * FROM customers"));
  }

  /** How a case is sent: everywhere, or everywhere but in a pgjdbc batch. */
  enum Routes { ALL, NO_BATCH }

  private static Arguments c(String sql) {
    return Arguments.of(sql, Routes.ALL);
  }

  /** Several statements in one string: pgjdbc refuses those in a batch, so that route is skipped. */
  private static Arguments multi(String sql) {
    return Arguments.of(sql, Routes.NO_BATCH);
  }

  private static String sql(String template) {
    return template.replace("%ROLE%", target.role());
  }

  @ParameterizedTest(name = "[{index}] {0}")
  @MethodSource("dangerous")
  void dangerousStatementIsRefusedOnEveryRouteAndTheTargetIsUntouched(String template, Routes routes) throws Exception {
    String sql = sql(template);
    List<String> problems = new ArrayList<>();

    // psql -c: one simple-protocol Query message carrying everything.
    Psql.Result single = stack.psql(ALICE, token()).command(sql);
    expectPsqlDenial("psql -c", single, problems);
    expectUntouched("psql -c", problems);

    // psql inside an explicit transaction: refused, the transaction aborted, rolled back.
    Psql.Result tx = stack.psql(ALICE, token()).withOnErrorStop(false).withArgs("-At").script(
        "BEGIN;\nINSERT INTO scratch VALUES (900, 'inside');\n" + sql + "\n;\nSELECT 'after';\nROLLBACK;\n");
    expectPsqlDenial("psql in BEGIN", tx, problems);
    if (!PsqlOutput.sqlStates(tx).contains("25P02")) problems.add("psql in BEGIN: the transaction was not aborted\n" + PsqlOutput.describe(tx));
    expectUntouched("psql in BEGIN", problems);

    // pgjdbc, simple query mode.
    Properties simple = new Properties();
    simple.setProperty("preferQueryMode", "simple");
    expectJdbcDenial("pgjdbc simple", problems, c -> c.createStatement().execute(sql), session("simple", simple));

    // pgjdbc, extended protocol (unnamed statements; pgjdbc splits multi-statements itself).
    expectJdbcDenial("pgjdbc extended", problems, c -> c.createStatement().execute(sql), session("extended", new Properties()));
    // pgjdbc, named server-side prepared statements.
    Properties prepared = new Properties();
    prepared.setProperty("prepareThreshold", "-1");
    expectJdbcDenial("pgjdbc prepared", problems, c -> {
      try (PreparedStatement ps = c.prepareStatement(sql)) {
        ps.execute();
      }
    }, session("prepared", prepared));

    // pgjdbc batch: three statements, one Sync; the allowed ones around the denial must not stick.
    Connection batchSession = session("extended", new Properties());
    if (routes == Routes.ALL) {
      try (Statement s = batchSession.createStatement()) {
        s.addBatch("INSERT INTO scratch VALUES (901, 'batch before')");
        s.addBatch(sql);
        s.addBatch("INSERT INTO scratch VALUES (902, 'batch after')");
        s.executeBatch();
        problems.add("pgjdbc batch: executed without error");
      } catch (BatchUpdateException e) {
        checkDenial("pgjdbc batch", e, problems);
      }
      expectUntouched("pgjdbc batch", problems);
      expectUsable("pgjdbc batch", batchSession, problems);
    }

    // pgjdbc transaction: insert, the denial, then the transaction is aborted and rolls back.
    Connection txSession = session("extended", new Properties());
    txSession.setAutoCommit(false);
    try (Statement s = txSession.createStatement()) {
      s.executeUpdate("INSERT INTO scratch VALUES (903, 'transaction')");
      try {
        s.execute(sql);
        problems.add("pgjdbc transaction: executed without error");
      } catch (SQLException e) {
        checkDenial("pgjdbc transaction", e, problems);
      }
      try {
        s.executeQuery("SELECT 1").close();
        problems.add("pgjdbc transaction: not aborted after the denial");
      } catch (SQLException e) {
        if (!"25P02".equals(e.getSQLState())) problems.add("pgjdbc transaction: after the denial " + e.getSQLState() + " " + e.getMessage());
      }
    } finally {
      txSession.rollback();
      txSession.setAutoCommit(true);
    }
    expectUntouched("pgjdbc transaction", problems);
    expectUsable("pgjdbc transaction", txSession, problems);

    finish(sql, problems);
  }

  private static void finish(String sql, List<String> problems) {
    if (Files.exists(PROGRAM_FILE) || Files.exists(COPY_FILE)) problems.add("a file was written on the server");
    if (!problems.isEmpty()) fail("for " + sql + ":\n- " + String.join("\n- ", problems));
  }

  @Test
  void deniedExtendedProtocolStatementIsNotEvenPlannedOnTheTarget() throws SQLException {
    // bump() is opaque code to the policy, so alice may not call it. Over the simple protocol the
    // whole Query is replaced; over the extended protocol PostgreSQL plans a portal (folding
    // immutable calls) and starts its executor at Bind, so Gatehouse decides at Bind and a denied
    // Bind never reaches the target.
    Psql.Result simple = stack.psql(ALICE, token()).command("SELECT bump(1)");
    assertThat(PsqlOutput.sqlState(simple)).as(PsqlOutput.describe(simple)).contains("42501");
    assertThat(ticketAdvanced()).as("the sequence after the simple-protocol denial").isFalse();
    try (Connection c = stack.jdbc(ALICE); Statement s = c.createStatement()) {
      try {
        s.executeQuery("SELECT bump(1)").close();
        fail("SELECT bump(1) was allowed");
      } catch (SQLException e) {
        assertThat(e.getSQLState()).isEqualTo("42501");
        assertThat(e.getMessage()).contains("Gatehouse");
      }
    }
    assertThat(ticketAdvanced()).as("the sequence after the extended-protocol denial: the Bind reached the target").isFalse();

    // The same bug seen from the client: the target's own privilege check at Bind answers first.
    Connection c = session("extended", new Properties());
    for (String sql : List.of("SELECT pg_read_file('/etc/hostname')", "SELECT lo_import('/etc/hostname')")) {
      try (Statement s = c.createStatement()) {
        s.execute(sql);
        fail(sql + " was allowed");
      } catch (SQLException e) {
        assertThat(e.getMessage()).as(sql).contains("Gatehouse");
      }
    }
  }

  private static boolean ticketAdvanced() throws SQLException {
    try (Statement s = admin.createStatement(); ResultSet rs = s.executeQuery("SELECT is_called FROM public.ticket")) {
      rs.next();
      return rs.getBoolean(1);
    }
  }

  @Test
  void fastPathFunctionCallOfTheLargeObjectApiIsRefused() throws SQLException {
    Connection c = stack.jdbc(ALICE);
    try (c) {
      c.setAutoCommit(false);
      LargeObjectManager lo = c.unwrap(PGConnection.class).getLargeObjectAPI();
      try {
        long oid = lo.createLO(LargeObjectManager.READWRITE);
        fail("the FunctionCall creating large object " + oid + " was forwarded");
      } catch (SQLException e) {
        assertThat(e.getSQLState()).isEqualTo("42501");
        assertThat(e.getMessage()).contains("Gatehouse");
      }
      c.rollback();
      c.setAutoCommit(true);
      try (ResultSet rs = c.createStatement().executeQuery("SELECT count(*) FROM customers")) {
        rs.next();
        assertThat(rs.getInt(1)).isEqualTo(3);
      }
    }
    assertThat(target.snapshot(admin)).isEqualTo(baseline);
  }

  @Test
  void theSameStatementsStayPossibleWhereThePolicyAllowsThem() throws SQLException {
    // Controls: the refusals above come from the rules, not from a gateway that refuses everything.
    try (Connection alice = stack.jdbc(ALICE); Statement s = alice.createStatement()) {
      assertThat(s.executeUpdate("INSERT INTO scratch VALUES (1, 'alice')")).isEqualTo(1);
      assertThat(s.executeUpdate("DELETE FROM scratch WHERE id = 1")).isEqualTo(1);
      s.execute("SELECT 1; SELECT 2");
      // Made objects that run no made code are no hidden code.
      try (ResultSet rs = s.executeQuery("SELECT 'a@example.com'::plain_email, count(*) FROM order_ids WHERE id <> 0")) {
        assertThat(rs.next()).isTrue();
      }
    }
    try (Connection dana = stack.jdbc(DANA); Statement s = dana.createStatement()) {
      s.executeUpdate("INSERT INTO scratch VALUES (2, 'dana')");
      s.execute("TRUNCATE scratch");
    }
    assertThat(target.snapshot(admin)).isEqualTo(baseline);
  }

  // ---- helpers --------------------------------------------------------------------------------

  private static String token() {
    return stack.token(ALICE);
  }

  private interface JdbcCall {
    void run(Connection c) throws SQLException;
  }

  private static Connection session(String name, Properties props) throws SQLException {
    Connection c = sessions.get(name);
    if (c == null || c.isClosed()) {
      c = stack.jdbc(ALICE, token(), props);
      sessions.put(name, c);
    }
    return c;
  }

  private static void expectJdbcDenial(String route, List<String> problems, JdbcCall call, Connection c) {
    try {
      call.run(c);
      problems.add(route + ": executed without error");
    } catch (SQLException e) {
      checkDenial(route, e, problems);
    }
    expectUntouched(route, problems);
    expectUsable(route, c, problems);
  }

  private static void checkDenial(String route, SQLException e, List<String> problems) {
    if (!"42501".equals(e.getSQLState()) || e.getMessage() == null || !e.getMessage().contains("Gatehouse")) {
      problems.add(route + ": expected Gatehouse's 42501, got " + e.getSQLState() + " " + e.getMessage());
    }
  }

  private static void expectPsqlDenial(String route, Psql.Result r, List<String> problems) {
    List<String> states = PsqlOutput.sqlStates(r);
    if (states.isEmpty() || !states.getFirst().equals("42501") || !r.stderr().contains("Gatehouse")) {
      problems.add(route + ": expected Gatehouse's 42501 first\n" + PsqlOutput.describe(r));
    }
    if (r.stdout().contains("after") && !route.contains("BEGIN")) problems.add(route + ": statements after the denial ran");
  }

  private static void expectUntouched(String route, List<String> problems) {
    Map<String, String> now = target.snapshot(admin);
    if (!now.equals(baseline)) {
      problems.add(route + ": the target changed: " + now + " (was " + baseline + ")");
      restore();
    }
  }

  private static void expectUsable(String route, Connection c, List<String> problems) {
    try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT count(*) FROM orders")) {
      rs.next();
      if (rs.getInt(1) != 5) problems.add(route + ": orders has " + rs.getInt(1) + " rows through the session");
    } catch (SQLException e) {
      problems.add(route + ": the session is not usable after the denial: " + e.getSQLState() + " " + e.getMessage());
    }
  }

  /** After a failure, put the target back so the next case starts from the baseline. */
  private static void restore() {
    target.execute("DELETE FROM scratch WHERE id >= 900");
  }
}
