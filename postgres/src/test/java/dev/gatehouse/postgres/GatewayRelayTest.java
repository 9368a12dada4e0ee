package dev.gatehouse.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.gatehouse.core.Decision;
import dev.gatehouse.core.Outcome;
import dev.gatehouse.testkit.Psql;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.sql.BatchUpdateException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.postgresql.copy.CopyManager;

/** psql and pgjdbc through the gateway to a real PostgreSQL: the relay and per-statement decisions. */
class GatewayRelayTest {
  static GatewayHarness h;

  @BeforeAll
  static void start() {
    h = new GatewayHarness();
  }

  @AfterAll
  static void stop() {
    h.close();
  }

  @BeforeEach
  void emptyTable() throws SQLException {
    try (Connection c = h.admin()) {
      c.createStatement().execute("CREATE TABLE IF NOT EXISTS t (id int primary key, v text); TRUNCATE t");
    }
  }

  @Test
  void psqlCommandRunsThroughTheGatewayAndIsAudited() {
    Psql.Result r = h.psql().withArgs("-At").command("SELECT 40 + 2 AS answer");
    assertThat(r.stderr()).isEmpty();
    assertThat(r.stdout().strip()).isEqualTo("42");
    assertThat(h.audit.outcomeOf("SELECT 40 + 2")).get()
        .satisfies(o -> {
          assertThat(o.status()).isEqualTo(Outcome.Status.OK);
          assertThat(o.rows()).isEqualTo(1);
        });
  }

  @Test
  void psqlScriptRunsStatementByStatementWithTransactions() {
    Psql.Result r = h.psql().withArgs("-At").script("""
        BEGIN;
        INSERT INTO t VALUES (1, 'one'), (2, 'two');
        COMMIT;
        SELECT v FROM t ORDER BY id;
        \\echo done
        """);
    assertThat(r.stderr()).isEmpty();
    assertThat(r.stdout()).contains("one\ntwo").contains("done");
  }

  @Test
  void deniedStatementReturnsInsufficientPrivilegeAndLeavesTheTargetUntouched() throws SQLException {
    Psql.Result r = h.psql().command("DROP TABLE t");
    assertThat(r.succeeded()).isFalse();
    assertThat(r.stderr()).contains("permission denied by Gatehouse policy: DROP is not allowed (rule no-drop)");
    assertThat(h.tableExists("t")).isTrue();
    assertThat(h.audit.all(GatewayHarness.Event.Decided.class))
        .anySatisfy(d -> {
          assertThat(d.command().text()).isEqualTo("DROP TABLE t");
          assertThat(d.decision()).isInstanceOf(Decision.Deny.class);
        });
  }

  @Test
  void multiStatementQueryWithADeniedStatementRunsNoneOfIt() throws SQLException {
    Psql.Result r = h.psql().command("INSERT INTO t VALUES (1, 'x'); DROP TABLE t");
    assertThat(r.stderr()).contains("permission denied by Gatehouse policy");
    assertThat(h.tableExists("t")).isTrue();
    assertThat(h.count("t")).isZero();
    assertThat(h.audit.outcomeOf("INSERT INTO t VALUES (1, 'x')")).get()
        .extracting(Outcome::status).isEqualTo(Outcome.Status.REFUSED);
  }

  @Test
  void deniedStatementInsideATransactionAbortsItAndRollbackStillWorks() throws SQLException {
    try (Connection c = h.jdbc()) {
      c.setAutoCommit(false);
      Statement s = c.createStatement();
      s.executeUpdate("INSERT INTO t VALUES (1, 'in tx')");
      assertThatThrownBy(() -> s.execute("DROP TABLE t"))
          .isInstanceOf(SQLException.class)
          .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("42501"))
          .hasMessageContaining("rule no-drop");
      // The server's own state: the transaction block is aborted.
      assertThatThrownBy(() -> s.executeQuery("SELECT 1"))
          .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("25P02"));
      c.rollback();
      try (ResultSet rs = s.executeQuery("SELECT count(*) FROM t")) {
        rs.next();
        assertThat(rs.getInt(1)).isZero();
      }
    }
    assertThat(h.tableExists("t")).isTrue();
    assertThat(h.count("t")).isZero();
  }

  @Test
  void aDumpsPreambleRunsInOneTransactionAndOnlyRealParsingChangesAreRefused() throws SQLException {
    // What pg_dump writes first, and psql's \encoding UTF8: the values Gatehouse fixes, so they pass.
    Psql.Result r = h.psql().withArgs("-1", "-At").script("""
        SET client_encoding = 'UTF8';
        SET standard_conforming_strings = on;
        SET LOCAL client_encoding TO 'unicode';
        \\encoding UTF8
        SET client_encoding = 'UNICODE';
        INSERT INTO t VALUES (1, 'restored');
        SHOW standard_conforming_strings;
        """);
    assertThat(r.stderr()).isEmpty();
    assertThat(r.succeeded()).isTrue();
    assertThat(r.stdout()).contains("on");
    assertThat(h.count("t")).isEqualTo(1);
    // Anything else that would change how the server reads text is still refused, and says what is fixed.
    for (String sql : java.util.List.of("SET client_encoding = 'LATIN1'", "SET standard_conforming_strings = off",
        "SET backslash_quote = off", "RESET client_encoding")) {
      Psql.Result refused = h.psql().withVerboseErrors().command(sql);
      assertThat(refused.sqlState()).as(sql).contains("42501");
      assertThat(refused.stderr()).as(sql).contains("client_encoding", "standard_conforming_strings", "backslash_quote",
          "rule parsing-settings");
      // On record as a refusal by that rule, not as policy's allow (review round 45).
      assertThat(h.audit.all(GatewayHarness.Event.Decided.class)).as(sql)
          .filteredOn(d -> d.command().text().equals(sql)).singleElement().satisfies(d ->
              assertThat(d.decision()).isInstanceOfSatisfying(Decision.Deny.class, deny -> {
                assertThat(deny.rule()).isEqualTo("parsing-settings");
                assertThat(deny.reason()).contains("fixed for the session");
              }));
      assertThat(h.audit.outcomeOf(sql)).as("nothing ran, so no outcome").isEmpty();
    }
  }

  @Test
  void psqlReportsAbortedTransactionAfterADenialInsideBegin() throws SQLException {
    Psql.Result r = h.psql().withOnErrorStop(false).script("""
        BEGIN;
        INSERT INTO t VALUES (7, 'seven');
        DROP TABLE t;
        SELECT 1;
        ROLLBACK;
        SELECT count(*) AS rows_after FROM t;
        """);
    assertThat(r.stderr()).contains("permission denied by Gatehouse policy")
        .contains("current transaction is aborted");
    assertThat(r.stdout()).contains("ROLLBACK").contains("rows_after");
    assertThat(h.count("t")).isZero();
  }

  @Test
  void aQueryThatIsNotUtf8GetsError22021AndTheSessionGoesOn() throws SQLException {
    // PostgreSQL answers such a query with an error and keeps the session; so does the gateway,
    // without forwarding the bytes (the session's client encoding is UTF8).
    java.io.ByteArrayOutputStream script = new java.io.ByteArrayOutputStream();
    script.writeBytes("\\set VERBOSITY verbose\nSELECT 1 AS before_it;\nINSERT INTO t VALUES (9, 'a".getBytes(StandardCharsets.UTF_8));
    script.write(0xff);
    script.writeBytes("b');\nSELECT 2 AS after_it;\n".getBytes(StandardCharsets.UTF_8));
    Psql.Result r = h.psql().withOnErrorStop(false).script(script.toByteArray());
    assertThat(r.stderr()).contains("ERROR:  22021: invalid byte sequence for encoding \"UTF8\"")
        .doesNotContain("FATAL").doesNotContain("connection");
    assertThat(r.stdout()).contains("before_it").contains("after_it");
    assertThat(h.count("t")).isZero();
    // Audited as refused, and its text (which could not be redacted) is not recorded.
    assertThat(h.audit.all(GatewayHarness.Event.Decided.class)).anySatisfy(d -> {
      assertThat(d.decision().rule()).isEqualTo("unreadable-command");
      assertThat(d.command().text()).startsWith("<query of ").doesNotContain("INSERT");
    });
  }

  @Test
  void preparedStatementsPastThePrepareThresholdWithBinaryTransferWork() throws SQLException {
    Properties p = new Properties();
    p.setProperty("prepareThreshold", "2");
    p.setProperty("binaryTransfer", "true");
    try (Connection c = h.jdbc(p);
        PreparedStatement insert = c.prepareStatement("INSERT INTO t VALUES (?, ?)");
        PreparedStatement select = c.prepareStatement("SELECT id, v, ?::bytea FROM t WHERE id = ?")) {
      for (int i = 1; i <= 10; i++) {
        insert.setInt(1, i);
        insert.setString(2, "v" + i);
        assertThat(insert.executeUpdate()).isEqualTo(1);
      }
      for (int i = 1; i <= 10; i++) {
        select.setBytes(1, new byte[] {1, 2, (byte) i});
        select.setInt(2, i);
        try (ResultSet rs = select.executeQuery()) {
          assertThat(rs.next()).isTrue();
          assertThat(rs.getInt(1)).isEqualTo(i);
          assertThat(rs.getString(2)).isEqualTo("v" + i);
          assertThat(rs.getBytes(3)).containsExactly(1, 2, i);
        }
      }
    }
    assertThat(h.count("t")).isEqualTo(10);
  }

  @Test
  void batchWithADeniedStatementRollsBackTheWholeBatch() throws SQLException {
    try (Connection c = h.jdbc(); Statement s = c.createStatement()) {
      s.addBatch("INSERT INTO t VALUES (1, 'a')");
      s.addBatch("INSERT INTO t VALUES (2, 'b')");
      s.addBatch("DROP TABLE t");
      s.addBatch("INSERT INTO t VALUES (3, 'c')");
      assertThatThrownBy(s::executeBatch)
          .isInstanceOf(BatchUpdateException.class)
          .hasMessageContaining("permission denied by Gatehouse policy");
      // The session is still usable afterwards.
      try (ResultSet rs = s.executeQuery("SELECT count(*) FROM t")) {
        rs.next();
        assertThat(rs.getInt(1)).isZero();
      }
    }
    assertThat(h.tableExists("t")).isTrue();
    assertThat(h.count("t")).isZero();
  }

  @Test
  void copyInAndOutRelayTheData() throws Exception {
    try (Connection c = h.jdbc()) {
      CopyManager copy = c.unwrap(PGConnection.class).getCopyAPI();
      StringBuilder data = new StringBuilder();
      for (int i = 1; i <= 1000; i++) data.append(i).append('\t').append("row ").append(i).append('\n');
      long in = copy.copyIn("COPY t FROM STDIN", new StringReader(data.toString()));
      assertThat(in).isEqualTo(1000);
      StringWriter out = new StringWriter();
      long n = copy.copyOut("COPY (SELECT * FROM t ORDER BY id) TO STDOUT", out);
      assertThat(n).isEqualTo(1000);
      assertThat(out.toString()).isEqualTo(data.toString());
    }
    assertThat(h.count("t")).isEqualTo(1000);
    assertThat(h.audit.outcomeOf("COPY t FROM STDIN")).get()
        .satisfies(o -> assertThat(o.rows()).isEqualTo(1000));
  }

  @Test
  void notificationsReachTheListener() throws Exception {
    try (Connection listener = h.jdbc(); Connection sender = h.jdbc()) {
      listener.createStatement().execute("LISTEN gatehouse_channel");
      sender.createStatement().execute("NOTIFY gatehouse_channel, 'hello'");
      PGNotification[] got = listener.unwrap(PGConnection.class).getNotifications(10_000);
      assertThat(got).isNotNull().hasSize(1);
      assertThat(got[0].getName()).isEqualTo("gatehouse_channel");
      assertThat(got[0].getParameter()).isEqualTo("hello");
      // Another session's notification carries that session's process id, not the listener's.
      assertThat(got[0].getPID()).isNotEqualTo(listener.unwrap(PGConnection.class).getBackendPID());
    }
  }

  @Test
  void aSessionsOwnNotificationCarriesTheProcessIdItsClientWasGiven() throws Exception {
    // Drivers skip their own notifications by comparing the two (round 9: the target's own pid
    // came through, which the client had never been given).
    try (Connection c = h.jdbc()) {
      c.createStatement().execute("LISTEN own_channel");
      c.createStatement().execute("NOTIFY own_channel, 'mine'");
      PGNotification[] got = c.unwrap(PGConnection.class).getNotifications(10_000);
      assertThat(got).isNotNull().hasSize(1);
      assertThat(got[0].getPID()).isEqualTo(c.unwrap(PGConnection.class).getBackendPID());
    }
  }

  @Test
  void cancelStopsARunningQuery() throws Exception {
    try (Connection c = h.jdbc(); Statement s = c.createStatement()) {
      Thread canceller = Thread.ofVirtual().start(() -> {
        GatewayHarness.eventually(() -> runningSleeps() > 0);
        try {
          s.cancel();
        } catch (SQLException e) {
          throw new IllegalStateException(e);
        }
      });
      assertThatThrownBy(() -> s.execute("SELECT pg_sleep(60)"))
          .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("57014"));
      canceller.join();
      // still usable
      try (ResultSet rs = s.executeQuery("SELECT 1")) {
        assertThat(rs.next()).isTrue();
      }
    }
  }

  @Test
  void emptyQueryIsForwarded() throws SQLException {
    try (Connection c = h.jdbc(); Statement s = c.createStatement()) {
      assertThat(s.execute("")).isFalse();
      assertThat(s.execute("-- only a comment")).isFalse();
    }
  }

  @Test
  void serverErrorsReachTheClientUnchanged() throws SQLException {
    try (Connection c = h.jdbc(); Statement s = c.createStatement()) {
      assertThatThrownBy(() -> s.execute("SELECT * FROM no_such_table"))
          .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("42P01"));
      try (ResultSet rs = s.executeQuery("SELECT 2")) {
        assertThat(rs.next()).isTrue();
      }
    }
    assertThat(h.audit.outcomeOf("no_such_table")).get()
        .satisfies(o -> assertThat(o.errorCode()).contains("42P01"));
  }

  static int runningSleeps() {
    return runningSleepsIn(h);
  }

  static int runningSleepsIn(GatewayHarness h) {
    try (Connection c = h.admin(); ResultSet rs = c.createStatement().executeQuery(
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%' AND state = 'active'")) {
      rs.next();
      return rs.getInt(1);
    } catch (SQLException e) {
      return 0;
    }
  }
}
