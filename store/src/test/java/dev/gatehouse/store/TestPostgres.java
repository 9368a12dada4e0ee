package dev.gatehouse.store;

import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HexFormat;
import java.util.Optional;

/**
 * The one place the store tests know how to reach PostgreSQL: the machine's server at
 * 127.0.0.1:5432, user postgres, trust authentication. When testkit's PostgresFixture is available
 * (with its embedded fallback), only this class changes.
 */
final class TestPostgres {
  static final String HOST = "127.0.0.1";
  static final int PORT = 5432;
  static final String USER = "postgres";

  private TestPostgres() {}

  static String url(String database) {
    return "jdbc:postgresql://" + HOST + ":" + PORT + "/" + database;
  }

  /** Creates a uniquely named, empty database and returns its name. */
  static String createDatabase() {
    byte[] b = new byte[6];
    new SecureRandom().nextBytes(b);
    String name = "gh_store_" + HexFormat.of().formatHex(b);
    admin("CREATE DATABASE " + name);
    return name;
  }

  static void dropDatabase(String name) {
    admin("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
  }

  static StoreConfig config(String database) {
    return StoreConfig.of(url(database), Optional.of(USER), Optional.empty());
  }

  /** A plain connection to the database, for tests that play someone with write access. */
  static Connection connect(String database) throws SQLException {
    return DriverManager.getConnection(url(database), USER, "");
  }

  private static void admin(String sql) {
    try (Connection c = DriverManager.getConnection(url("postgres"), USER, ""); Statement s = c.createStatement()) {
      s.execute(sql);
    } catch (SQLException e) {
      throw new IllegalStateException("PostgreSQL at " + HOST + ":" + PORT + " refused: " + sql + ": " + e.getMessage(), e);
    }
  }
}
