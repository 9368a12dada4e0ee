package dev.gatehouse.it;

import static dev.gatehouse.it.GatewayStack.ALICE;
import static dev.gatehouse.it.GatewayStack.DANA;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.gatehouse.audit.AuditEvent;
import dev.gatehouse.audit.EventType;
import java.nio.file.Path;
import java.sql.BatchUpdateException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * pgjdbc, the driver most applications use, through the whole gateway: server-side prepared
 * statements and binary transfer, batches and transactions with a denied statement inside, and
 * cancellation. The target's state is checked directly, bypassing the gateway.
 */
class PgjdbcTest {
  @TempDir static Path dir;
  static EndToEnd e2e;
  static GatewayStack stack;

  @BeforeAll
  static void start() {
    e2e = EndToEnd.start(dir);
    stack = e2e.stack();
  }

  @AfterAll
  static void stop() {
    if (e2e != null) e2e.close();
  }

  /**
   * A migration tool through the gateway under the reference policy (review round 45): Flyway sets
   * the connection's role back to the one it connected as after each migration ({@code SET ROLE
   * '<the target's role>'}), which {@code no-role-change} refused, so no migration ran. A return to
   * the role Gatehouse signs in as is no role change; any other role still is.
   */
  @Test
  void flywayMigratesThroughTheGatewayAndOnlyTheRoleItSignedInAsIsNoRoleChange() throws Exception {
    Path migrations = dir.resolve("flyway");
    java.nio.file.Files.createDirectories(migrations);
    java.nio.file.Files.writeString(migrations.resolve("V1__probe.sql"), "CREATE TABLE flyway_probe (id int PRIMARY KEY, note text);\n");
    java.nio.file.Files.writeString(migrations.resolve("V2__rows.sql"), "INSERT INTO flyway_probe VALUES (1, 'one'), (2, 'two');\n");
    javax.sql.DataSource viaGateway = new org.postgresql.ds.PGSimpleDataSource() {
      @Override
      public Connection getConnection() throws SQLException {
        return stack.jdbc(DANA);
      }
    };
    var result = org.flywaydb.core.Flyway.configure().dataSource(viaGateway).baselineOnMigrate(true).baselineVersion("0")
        .locations("filesystem:" + migrations).load().migrate();
    assertThat(result.success).isTrue();
    assertThat(result.migrationsExecuted).isEqualTo(2);
    assertThat(e2e.target().count("flyway_probe")).as("read on the target, not through the gateway").isEqualTo(2);
    assertThat(stack.events()).as("Flyway's SET ROLE back to the gateway's own role, allowed")
        .anySatisfy(e -> {
          assertThat(e.body().type()).isEqualTo(EventType.COMMAND_DECIDED);
          assertThat(e.body().command().orElseThrow().text()).isEqualTo("SET ROLE '" + e2e.target().role() + "'");
          assertThat(e.body().decision().orElseThrow().effect().name()).isEqualTo("ALLOW");
        });
    try (Connection c = stack.jdbc(DANA); Statement st = c.createStatement()) {
      st.execute("RESET ROLE");
      assertThatThrownBy(() -> st.execute("SET ROLE pg_monitor")).isInstanceOf(SQLException.class)
          .hasMessageContaining("no-role-change").satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("42501"));
      assertThatThrownBy(() -> st.execute("SET ROLE \"" + e2e.target().role().toUpperCase(java.util.Locale.ROOT) + "\""))
          .as("another spelling is another role").isInstanceOf(SQLException.class).hasMessageContaining("no-role-change");
      try (ResultSet rs = st.executeQuery("SELECT current_user")) {
        rs.next();
        assertThat(rs.getString(1)).isEqualTo(e2e.target().role());
      }
    }
  }

  @Test
  void preparedStatementPastThePrepareThresholdWithBinaryTransferReturnsTheRightValuesAndAuditsEachExecution() throws SQLException {
    Properties p = new Properties();
    p.setProperty("prepareThreshold", "3");
    p.setProperty("binaryTransfer", "true");
    String sql = "SELECT c.id, c.name, ?::int8 * 2, ?::bytea, ?::timestamptz, ?::float8 FROM customers c WHERE c.id = ?";
    OffsetDateTime when = OffsetDateTime.of(2026, 1, 2, 3, 4, 5, 0, ZoneOffset.UTC);
    try (Connection c = stack.jdbc(ALICE, stack.token(ALICE), p);
        PreparedStatement ps = c.prepareStatement(sql)) {
      for (int i = 0; i < 10; i++) {
        int id = 1 + i % 3;
        ps.setLong(1, 1_000_000_000_000L + i);
        ps.setBytes(2, new byte[] {0, (byte) i, (byte) 0xff});
        ps.setObject(3, when.plusDays(i));
        ps.setDouble(4, i + 0.5);
        ps.setInt(5, id);
        try (ResultSet rs = ps.executeQuery()) {
          assertThat(rs.next()).isTrue();
          assertThat(rs.getInt(1)).isEqualTo(id);
          assertThat(rs.getString(2)).isEqualTo(List.of("Ada", "Grace", "Alan").get(id - 1));
          assertThat(rs.getLong(3)).isEqualTo(2 * (1_000_000_000_000L + i));
          assertThat(rs.getBytes(4)).containsExactly(0, i, 0xff);
          assertThat(rs.getObject(5, OffsetDateTime.class).toInstant()).isEqualTo(when.plusDays(i).toInstant());
          assertThat(rs.getDouble(6)).isEqualTo(i + 0.5);
          assertThat(rs.next()).isFalse();
        }
      }
      assertThat(ps.unwrap(org.postgresql.PGStatement.class).isUseServerPrepare())
          .as("pgjdbc switched to a named server-side statement").isTrue();
    }
    // One decision and one completion per execution, whichever way pgjdbc sent it (pgjdbc sends
    // the placeholders as $1..$5).
    List<AuditEvent> events = stack.awaitEvents("ten executions audited", all -> completions(all, "$2::bytea") >= 10);
    assertThat(events.stream().filter(e -> e.type() == EventType.COMMAND_DECIDED
        && e.body().command().map(cmd -> cmd.text().contains("$2::bytea")).orElse(false))).hasSize(10);
    assertThat(completions(events, "$2::bytea")).isEqualTo(10);
  }

  private static long completions(List<AuditEvent> events, String text) {
    List<String> decided = events.stream().filter(e -> e.type() == EventType.COMMAND_DECIDED
        && e.body().command().map(c -> c.text().contains(text)).orElse(false)).map(AuditEvent::id).toList();
    return events.stream().filter(e -> e.type() == EventType.COMMAND_COMPLETED && e.body().ref().map(decided::contains).orElse(false)
        && e.body().outcome().map(o -> o.status().equals("OK")).orElse(false)).count();
  }

  @Test
  void batchWithADeniedStatementFailsWholeAndLeavesTheTablesUntouched() throws SQLException {
    var before = e2e.target().snapshot();
    try (Connection c = stack.jdbc(ALICE); Statement s = c.createStatement()) {
      s.addBatch("INSERT INTO scratch VALUES (100, 'first of the batch')");
      s.addBatch("DELETE FROM orders");
      s.addBatch("INSERT INTO scratch VALUES (101, 'last of the batch')");
      assertThatThrownBy(s::executeBatch).isInstanceOfSatisfying(BatchUpdateException.class, e -> {
        assertThat(e.getSQLState()).isEqualTo("42501");
        assertThat(e.getMessage()).contains("rule no-unbounded-writes");
      });
      // The session is still usable.
      try (ResultSet rs = s.executeQuery("SELECT count(*) FROM orders")) {
        rs.next();
        assertThat(rs.getInt(1)).isEqualTo(5);
      }
    }
    assertThat(e2e.target().snapshot()).isEqualTo(before);
  }

  @Test
  void deniedStatementInsideATransactionAbortsItAndRollbackWorks() throws SQLException {
    var before = e2e.target().snapshot();
    try (Connection c = stack.jdbc(ALICE); Statement s = c.createStatement()) {
      c.setAutoCommit(false);
      s.executeUpdate("INSERT INTO scratch VALUES (200, 'inside the transaction')");
      assertThatThrownBy(() -> s.execute("TRUNCATE orders")).isInstanceOfSatisfying(SQLException.class, e -> {
        assertThat(e.getSQLState()).isEqualTo("42501");
        assertThat(e.getMessage()).contains("rule no-drop-truncate");
      });
      // As after a refusal by the server: the transaction is aborted until it ends.
      assertThatThrownBy(() -> s.executeQuery("SELECT 1")).isInstanceOfSatisfying(SQLException.class,
          e -> assertThat(e.getSQLState()).isEqualTo("25P02"));
      c.rollback();
      try (ResultSet rs = s.executeQuery("SELECT count(*) FROM scratch WHERE id = 200")) {
        rs.next();
        assertThat(rs.getInt(1)).isZero();
      }
      c.commit();
    }
    assertThat(e2e.target().snapshot()).isEqualTo(before);
  }

  @Test
  void statementCancelStopsARunningQueryAndTheSessionGoesOn() throws Exception {
    Properties p = new Properties();
    p.setProperty("ApplicationName", "it-cancel");
    // dana (dba) may call pg_sleep, which the reference policy counts as opaque code for others.
    try (Connection c = stack.jdbc(DANA, stack.token(DANA), p); Statement s = c.createStatement()) {
      CompletableFuture<SQLException> running = CompletableFuture.supplyAsync(() -> {
        try {
          s.execute("SELECT pg_sleep(60)");
          return null;
        } catch (SQLException e) {
          return e;
        }
      });
      await("pg_sleep running on the target").atMost(Duration.ofSeconds(30)).until(() -> sleeping("it-cancel"));
      s.cancel();
      SQLException cancelled = running.get(30, TimeUnit.SECONDS);
      assertThat((Throwable) cancelled).as("the cancelled statement's error").isNotNull();
      assertThat(cancelled.getSQLState()).isEqualTo("57014");
      try (ResultSet rs = s.executeQuery("SELECT count(*) FROM customers")) {
        rs.next();
        assertThat(rs.getInt(1)).isEqualTo(3);
      }
    }
  }

  private static boolean sleeping(String application) throws SQLException {
    try (Connection admin = e2e.target().admin();
        PreparedStatement ps = admin.prepareStatement(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = ? AND state = 'active' AND query LIKE '%pg_sleep%'")) {
      ps.setString(1, application);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getInt(1) == 1;
      }
    }
  }
}
