package dev.gatehouse.it;

import static org.awaitility.Awaitility.await;

import dev.gatehouse.core.Secret;
import dev.gatehouse.testkit.PostgresFixture;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The gateway's target for the end-to-end tests: a fresh database on the machine's (or embedded)
 * PostgreSQL, owned by a least-privileged LOGIN role with a password, as an operator would set it up
 * (the gateway refuses a superuser target). The role owns two tables, {@code customers} (3 rows) and
 * {@code orders} (5 rows), so everything a guardrail should stop is something the target itself
 * would have allowed: a refusal can only come from Gatehouse.
 *
 * <p>{@link #snapshot()} describes the state a guardrail must leave untouched. {@link #close()} drops
 * the database and the role. Used from one test thread at a time.
 */
final class TargetDatabase implements AutoCloseable {
  private static final SecureRandom RANDOM = new SecureRandom();

  private final PostgresFixture pg;
  private final String database;
  private final String role;
  private final Secret password;

  private TargetDatabase(PostgresFixture pg, String database, String role, Secret password) {
    this.pg = pg;
    this.database = database;
    this.role = role;
    this.password = password;
  }

  static TargetDatabase create() {
    PostgresFixture pg = PostgresFixture.shared();
    byte[] b = new byte[6];
    RANDOM.nextBytes(b);
    String role = "gh_it_" + HexFormat.of().formatHex(b);
    RANDOM.nextBytes(b);
    Secret password = Secret.of("tgt-" + HexFormat.of().formatHex(b) + "-pw");
    pg.execute("postgres", "CREATE ROLE " + role + " LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD "
        + PostgresFixture.quoteLiteral(password.reveal()));
    String database = pg.createDatabase("gh_it");
    pg.execute("postgres", "ALTER DATABASE " + database + " OWNER TO " + role);
    // Created under the role, so it owns them: DROP, TRUNCATE, DELETE are all within its rights.
    pg.execute(database, String.join(";\n",
        "SET ROLE " + role,
        "CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text NOT NULL)",
        "CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customers(id), status text NOT NULL)",
        "INSERT INTO customers VALUES (1, 'Ada', 'ada@example.com'), (2, 'Grace', 'grace@example.com'), (3, 'Alan', 'alan@example.com')",
        "INSERT INTO orders VALUES (1, 1, 'paid'), (2, 1, 'paid'), (3, 2, 'paid'), (4, 3, 'refunded'), (5, 3, 'paid')",
        "CREATE TABLE scratch (id int PRIMARY KEY, note text)",
        "RESET ROLE"));
    return new TargetDatabase(pg, database, role, password);
  }

  String database() {
    return database;
  }

  String role() {
    return role;
  }

  Secret password() {
    return password;
  }

  String host() {
    return pg.host();
  }

  int port() {
    return pg.port();
  }

  /** A superuser connection to the target database, bypassing the gateway. */
  Connection admin() {
    return pg.connect(database);
  }

  /** Runs SQL on the target as the superuser, bypassing the gateway. */
  void execute(String sql) {
    pg.execute(database, sql);
  }

  long count(String table) {
    try (Connection c = admin(); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT count(*) FROM " + table)) {
      rs.next();
      return rs.getLong(1);
    } catch (SQLException e) {
      throw new IllegalStateException("counting " + table + ": " + e.getMessage(), e);
    }
  }

  /**
   * The state a guardrail must leave untouched: the tables and their contents, functions, large
   * objects, the role's attributes, settings and memberships.
   */
  Map<String, String> snapshot() {
    try (Connection c = admin()) {
      return snapshot(c);
    } catch (SQLException e) {
      throw new IllegalStateException("snapshot of " + database + ": " + e.getMessage(), e);
    }
  }

  /** {@link #snapshot()} over a superuser connection the caller holds (from {@link #admin()}). */
  Map<String, String> snapshot(Connection c) {
    Map<String, String> state = new LinkedHashMap<>();
    try (Statement s = c.createStatement()) {
      query(s, state, "tables", "SELECT coalesce(string_agg(c.relname || ':' || c.relkind::text || ':' || coalesce(c.relacl::text, '')"
          + ", ',' ORDER BY c.relname), '') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'");
      for (String table : new String[] {"customers", "orders", "scratch"}) {
        query(s, state, table, "SELECT CASE WHEN to_regclass('public." + table + "') IS NULL THEN 'missing' ELSE"
            + " (SELECT coalesce(string_agg(t::text, ';' ORDER BY t::text), '') FROM public." + table + " t) END");
      }
      query(s, state, "functions", "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'");
      query(s, state, "largeObjects", "SELECT count(*) FROM pg_largeobject_metadata");
      query(s, state, "roleSettings", "SELECT coalesce(string_agg(array_to_string(setconfig, ','), ';'), '') FROM pg_db_role_setting"
          + " WHERE setrole = (SELECT oid FROM pg_roles WHERE rolname = '" + role + "')");
      query(s, state, "role", "SELECT rolsuper::text || rolcreaterole::text || rolcreatedb::text || coalesce(rolpassword, '')"
          + " FROM pg_authid WHERE rolname = '" + role + "'");
      query(s, state, "memberships", "SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = '" + role + "'");
    } catch (SQLException e) {
      throw new IllegalStateException("snapshot of " + database + ": " + e.getMessage(), e);
    }
    return state;
  }

  private static void query(Statement s, Map<String, String> into, String key, String sql) throws SQLException {
    try (ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      into.put(key, rs.getString(1));
    }
  }

  /**
   * Terminates the target backends serving the gateway for the given application name (the gateway
   * passes the client's application_name on), as an administrator would, and waits until they are
   * gone.
   *
   * @return how many were terminated
   */
  int terminateBackends(String applicationName) {
    int n;
    try (Connection c = admin();
        PreparedStatement ps = c.prepareStatement("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            + " WHERE datname = ? AND usename = ? AND application_name = ?")) {
      ps.setString(1, database);
      ps.setString(2, role);
      ps.setString(3, applicationName);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        n = rs.getInt(1);
      }
    } catch (SQLException e) {
      throw new IllegalStateException("terminating backends: " + e.getMessage(), e);
    }
    await("backends of " + applicationName + " gone").atMost(Duration.ofSeconds(30)).until(() -> backends(applicationName) == 0);
    return n;
  }

  /** How many target backends serve the gateway for an application name. */
  int backends(String applicationName) {
    try (Connection c = admin();
        PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM pg_stat_activity WHERE datname = ? AND usename = ? AND application_name = ?")) {
      ps.setString(1, database);
      ps.setString(2, role);
      ps.setString(3, applicationName);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getInt(1);
      }
    } catch (SQLException e) {
      throw new IllegalStateException("counting backends: " + e.getMessage(), e);
    }
  }

  @Override
  public void close() {
    try {
      pg.dropDatabase(database);
    } finally {
      pg.execute("postgres", "DROP ROLE IF EXISTS " + role);
    }
  }
}
