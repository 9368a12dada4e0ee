package dev.gatehouse.store;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.gatehouse.audit.Durability;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Map;
import java.util.Objects;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.FlywayException;

/**
 * The database behind Gatehouse's durable state: a connection pool on SQLite or PostgreSQL, migrated
 * to the current schema when opened (Flyway; the same tables on both, {@code db/migration/common}
 * plus a small per-dialect part). Audit rows are append-only: the schema refuses UPDATE and DELETE
 * on them with triggers, and no code path here issues either.
 *
 * <p>What {@link Durability} means on each database:
 *
 * <ul>
 *   <li>SQLite, {@code PROCESS}: WAL journal, {@code synchronous=NORMAL}. A commit has been written
 *       to the WAL file (in the operating system's cache) before it returns, so it survives the
 *       gateway being killed; a power loss or kernel crash may lose the last commits (never corrupt
 *       the database).
 *   <li>SQLite, {@code MACHINE}: WAL journal, {@code synchronous=FULL}: the WAL is fsynced at every
 *       commit (every batch), so a commit survives power loss.
 *   <li>PostgreSQL, both: {@code synchronous_commit=on} on every connection, so a commit returns
 *       after the server has flushed its WAL. That survives the gateway being killed, and the
 *       server's crash or power loss as long as the server runs with {@code fsync=on} (its
 *       administrator's business); {@code MACHINE} refuses to open a server that reports {@code
 *       fsync=off}.
 * </ul>
 *
 * <p>SQLite is native code: calls are kept short and batched, and the audit writer calls it from a
 * platform thread. Thread-safe; close it once, after everything using it is closed.
 */
public final class JdbcStore implements AutoCloseable {
  private static final int SQLITE_PAGE_SIZE = 65_536;

  private final StoreConfig config;
  private final Dialect dialect;
  private final HikariDataSource pool;
  private final JdbcAuditStore audit;

  private JdbcStore(StoreConfig config, Dialect dialect, HikariDataSource pool) {
    this.config = config;
    this.dialect = dialect;
    this.pool = pool;
    this.audit = new JdbcAuditStore(this);
  }

  /**
   * Connects, checks the durability the configuration asks for can be given, and migrates the schema.
   *
   * @throws StoreException naming the URL without credentials and what failed
   */
  public static JdbcStore open(StoreConfig config) {
    Objects.requireNonNull(config, "config == null");
    Dialect dialect = config.dialect();
    HikariConfig hc = new HikariConfig();
    hc.setPoolName("gatehouse-store");
    hc.setJdbcUrl(config.url());
    hc.setMaximumPoolSize(config.poolSize());
    hc.setMinimumIdle(1);
    hc.setConnectionTimeout(5_000);
    hc.setInitializationFailTimeout(1); // fail at start, naming the store, rather than at the first event
    config.user().ifPresent(hc::setUsername);
    config.password().ifPresent(p -> hc.setPassword(p.reveal()));
    switch (dialect) {
      case SQLITE -> {
        prepareSqliteFile(config);
        hc.setDriverClassName("org.sqlite.JDBC");
        hc.addDataSourceProperty("journal_mode", "WAL");
        hc.addDataSourceProperty("synchronous", config.durability() == Durability.MACHINE ? "FULL" : "NORMAL");
        hc.addDataSourceProperty("busy_timeout", "10000");
        // Take the write lock when a transaction begins, not at its first write: no upgrade deadlocks.
        hc.addDataSourceProperty("transaction_mode", "IMMEDIATE");
      }
      case POSTGRESQL -> {
        hc.setDriverClassName("org.postgresql.Driver");
        hc.setConnectionInitSql("SET synchronous_commit = on");
        hc.addDataSourceProperty("ApplicationName", "gatehouse");
      }
    }
    HikariDataSource pool;
    try {
      pool = new HikariDataSource(hc);
    } catch (RuntimeException e) {
      throw new StoreException("cannot connect to the store at " + config.redactedUrl() + ": " + rootMessage(e), e);
    }
    JdbcStore store = new JdbcStore(config, dialect, pool);
    try {
      store.checkDurability();
      store.migrate();
      return store;
    } catch (RuntimeException e) {
      pool.close();
      throw e;
    }
  }

  public Dialect dialect() {
    return dialect;
  }

  public Durability durability() {
    return config.durability();
  }

  /** The store's URL without credentials. */
  public String url() {
    return config.redactedUrl();
  }

  /** The audit store on this database (always the same instance; closed with this store). */
  public JdbcAuditStore audit() {
    return audit;
  }

  DataSource dataSource() {
    return pool;
  }

  @Override
  public void close() {
    audit.close();
    pool.close();
  }

  @Override
  public String toString() {
    return "JdbcStore[" + config.redactedUrl() + ", " + config.durability() + "]";
  }

  private void checkDurability() {
    try (Connection c = pool.getConnection(); Statement s = c.createStatement()) {
      switch (dialect) {
        case SQLITE -> {
          String mode = single(s, "PRAGMA journal_mode");
          if (!"wal".equalsIgnoreCase(mode)) {
            throw new StoreException("the SQLite store at " + url() + " is in journal mode " + mode + ", not WAL");
          }
        }
        case POSTGRESQL -> {
          String commit = single(s, "SHOW synchronous_commit");
          if (!"on".equals(commit)) {
            throw new StoreException("the PostgreSQL store at " + url() + " runs with synchronous_commit=" + commit
                + "; audit events need it on");
          }
          if (config.durability() == Durability.MACHINE && !"on".equals(single(s, "SHOW fsync"))) {
            throw new StoreException("durability 'machine' needs the PostgreSQL server at " + url()
                + " to run with fsync=on, and it reports fsync=off");
          }
        }
      }
    } catch (SQLException e) {
      throw new StoreException("cannot check the store at " + url() + ": " + e.getMessage(), e);
    }
  }

  private void migrate() {
    try {
      Flyway.configure(JdbcStore.class.getClassLoader())
          .dataSource(pool)
          .locations("classpath:db/migration/common", "classpath:db/migration/" + dialect.migrations)
          .placeholders(Map.of("identity", switch (dialect) {
            case SQLITE -> "INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT";
            case POSTGRESQL -> "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY";
          }))
          .javaMigrations(new CanonicalEventsMigration(dialect), new LeanRowsMigration(dialect), new EventBlocksMigration(dialect))
          .table("gatehouse_schema_history")
          .load()
          .migrate();
    } catch (FlywayException e) {
      throw new StoreException("cannot migrate the store at " + url() + ": " + e.getMessage(), e);
    }
  }

  private static String single(Statement s, String sql) throws SQLException {
    try (ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getString(1);
    }
  }

  private static void prepareSqliteFile(StoreConfig config) {
    String rest = config.url().substring("jdbc:sqlite:".length());
    if (rest.isEmpty() || rest.contains(":memory:") || rest.contains("?") || rest.startsWith("file:")) {
      throw new StoreException("store URL " + config.redactedUrl()
          + " must name a SQLite file (jdbc:sqlite:/path/gatehouse.db): an audit log must outlive the process");
    }
    Path file = Path.of(rest).toAbsolutePath();
    Path parent = file.getParent();
    try {
      if (parent != null) Files.createDirectories(parent);
      // The log holds statement texts: only the gateway's user reads it. SQLite gives its -wal and
      // -shm files the database file's permissions.
      if (!Files.exists(file) && file.getFileSystem().supportedFileAttributeViews().contains("posix")) {
        Files.createFile(file, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
            java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
      }
      if (!Files.exists(file) || Files.size(file) == 0) formatNewSqliteFile(config.url());
    } catch (IOException | SQLException e) {
      throw new StoreException("cannot create the store " + config.redactedUrl() + ": " + e.getMessage(), e);
    }
  }

  /**
   * A new SQLite store gets pages of {@value #SQLITE_PAGE_SIZE} bytes, not 4 KiB: an audit row is
   * about 700 bytes, and with larger pages SQLite splits and writes pages less often per row
   * (StoreAppendCost: about a quarter less CPU per event). The page size must be set before the first
   * table is created, and before WAL mode, which the pool's connection properties set in no fixed
   * order; hence this first plain connection. An existing store keeps its page size (a WAL store
   * changes it only by leaving WAL mode for a VACUUM).
   */
  private static void formatNewSqliteFile(String url) throws SQLException {
    try (Connection c = java.sql.DriverManager.getConnection(url); Statement s = c.createStatement()) {
      s.execute("PRAGMA page_size = " + SQLITE_PAGE_SIZE);
      s.execute("PRAGMA journal_mode = WAL");
    }
  }

  private static String rootMessage(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null && t.getCause() != t) t = t.getCause();
    return t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
  }
}
