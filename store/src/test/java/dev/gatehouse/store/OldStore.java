package dev.gatehouse.store;

import dev.gatehouse.audit.SignedCheckpoint;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Map;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.migration.JavaMigration;

/**
 * A store at an earlier schema version, on SQLite or on the test PostgreSQL, for the upgrade tests:
 * migrated only up to that version, filled by the test over plain JDBC, then opened by {@link
 * JdbcStore}, which upgrades it.
 */
final class OldStore {
  private OldStore() {}

  interface Connect {
    Connection open() throws SQLException;
  }

  /** What an upgrade test does with its old store, on either database. */
  interface Upgrade {
    void check(String url, Dialect dialect, Connect connect, StoreConfig config) throws Exception;
  }

  static void onSqlite(Path dir, Upgrade upgrade) throws Exception {
    String url = "jdbc:sqlite:" + dir.resolve("gatehouse.db");
    upgrade.check(url, Dialect.SQLITE, () -> DriverManager.getConnection(url), StoreConfig.sqlite(dir.resolve("gatehouse.db")));
  }

  static void onPostgres(Upgrade upgrade) throws Exception {
    String database = TestPostgres.createDatabase();
    try {
      upgrade.check(TestPostgres.url(database), Dialect.POSTGRESQL, () -> TestPostgres.connect(database),
          TestPostgres.config(database));
    } finally {
      TestPostgres.dropDatabase(database);
    }
  }

  /** Applies the migrations up to {@code target}, with the given Java ones among them. */
  static void migrateTo(String url, Dialect dialect, String target, JavaMigration... javaMigrations) {
    Flyway.configure(JdbcStore.class.getClassLoader())
        .dataSource(url, dialect == Dialect.POSTGRESQL ? TestPostgres.USER : null, null)
        .locations("classpath:db/migration/common", "classpath:db/migration/" + dialect.migrations)
        .placeholders(Map.of("identity", dialect == Dialect.SQLITE ? "INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT"
            : "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"))
        .javaMigrations(javaMigrations)
        .table("gatehouse_schema_history")
        .target(target)
        .load()
        .migrate();
  }

  /** Inserts a checkpoint row as every schema version since 1 keeps them. */
  static void insertCheckpoint(Connection c, SignedCheckpoint cp) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(
        "INSERT INTO audit_checkpoints (chain_id, seq, hash, time_us, key_id, signature) VALUES (?, ?, ?, ?, ?, ?)")) {
      ps.setString(1, cp.chainId());
      ps.setLong(2, cp.seq());
      ps.setString(3, cp.hash());
      ps.setLong(4, ChronoUnit.MICROS.between(Instant.EPOCH, cp.time()));
      ps.setString(5, cp.keyId());
      ps.setString(6, cp.signature());
      ps.executeUpdate();
    }
  }
}
