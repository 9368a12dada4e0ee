package dev.gatehouse.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import org.junit.jupiter.api.Test;

class PostgresFixtureTest {
  private final PostgresFixture pg = PostgresFixture.shared();

  @Test
  void sharedFixtureIsOnePerJvm() {
    assertThat(PostgresFixture.shared()).isSameAs(pg);
  }

  @Test
  void createdDatabaseHoldsDataUntilItIsDropped() throws Exception {
    String db = pg.createDatabase("fixture_test");
    assertThat(db).startsWith("fixture_test_");
    pg.execute(db, "CREATE TABLE t (v int); INSERT INTO t VALUES (41), (1)");
    try (Connection c = pg.connect(db); Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT sum(v) FROM t")) {
      assertThat(rs.next()).isTrue();
      assertThat(rs.getInt(1)).isEqualTo(42);
    }
    pg.dropDatabase(db);
    assertThatThrownBy(() -> pg.connect(db)).isInstanceOf(TestkitException.class).hasMessageContaining(db);
  }

  @Test
  void createdDatabaseNamesAreUnique() {
    String a = pg.createDatabase("fixture_unique");
    String b = pg.createDatabase("fixture_unique");
    assertThat(a).isNotEqualTo(b);
    pg.dropDatabase(a);
    pg.dropDatabase(b);
  }

  @Test
  void dropDatabaseEndsSessionsStillConnected() throws Exception {
    String db = pg.createDatabase("fixture_drop");
    try (Connection leftOpen = pg.connect(db)) {
      pg.dropDatabase(db);
      assertThat(leftOpen.isValid(2)).isFalse();
    }
  }

  @Test
  void failedStatementReportsTheServersMessageAndSqlState() {
    assertThatThrownBy(() -> pg.execute("postgres", "SELECT * FROM no_such_table"))
        .isInstanceOf(TestkitException.class)
        .hasMessageContaining("no_such_table")
        .hasMessageContaining("42P01");
  }

  @Test
  void serverRunsPostgresql15LikeTheParsersGrammar() throws Exception {
    try (Connection c = pg.connect("postgres"); Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT current_setting('server_version_num')::int")) {
      rs.next();
      assertThat(rs.getInt(1)).isBetween(150000, 159999);
    }
  }

  @Test
  void databasePrefixWithQuotesOrUpperCaseIsRejected() {
    assertThatThrownBy(() -> pg.createDatabase("x\"; DROP")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> pg.createDatabase("Upper")).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void unknownModeIsRefusedWithTheAcceptedValues() {
    assertThatThrownBy(() -> PostgresFixture.open("sideways"))
        .isInstanceOf(TestkitException.class)
        .hasMessageContaining("auto, machine, embedded or host:port");
  }

  @Test
  void embeddedServerStartsServesQueriesAndStops() throws Exception {
    PostgresFixture embedded = PostgresFixture.open("embedded");
    try {
      assertThat(embedded.kind()).isEqualTo(PostgresFixture.Kind.EMBEDDED);
      assertThat(embedded.port()).isNotEqualTo(pg.port());
      String db = embedded.createDatabase("embedded_test");
      try (Connection c = embedded.connect(db); Statement st = c.createStatement();
          ResultSet rs = st.executeQuery("SELECT current_database(), current_setting('server_version_num')::int")) {
        rs.next();
        assertThat(rs.getString(1)).isEqualTo(db);
        assertThat(rs.getInt(2)).isBetween(150000, 159999);
      }
    } finally {
      embedded.shutdown();
    }
    assertThatThrownBy(() -> embedded.connect("postgres")).isInstanceOf(TestkitException.class);
  }
}
