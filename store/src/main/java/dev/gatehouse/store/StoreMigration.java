package dev.gatehouse.store;

import java.sql.SQLException;
import java.sql.Statement;
import org.flywaydb.core.api.MigrationVersion;
import org.flywaydb.core.api.migration.JavaMigration;

/**
 * A schema upgrade written in Java (one that rewrites rows, which SQL alone cannot do on both
 * databases): its version doubles as its checksum, and it runs in Flyway's transaction, so it is
 * applied whole or not at all.
 */
abstract class StoreMigration implements JavaMigration {
  protected final Dialect dialect;
  private final int version;
  private final String description;

  StoreMigration(Dialect dialect, int version, String description) {
    this.dialect = dialect;
    this.version = version;
    this.description = description;
  }

  @Override
  public final MigrationVersion getVersion() {
    return MigrationVersion.fromVersion(Integer.toString(version));
  }

  @Override
  public final String getDescription() {
    return description;
  }

  @Override
  public final Integer getChecksum() {
    return version;
  }

  @Override
  public final boolean canExecuteInTransaction() {
    return true;
  }

  /** The dialect's type for bytes (an event's, a block's). */
  protected final String bytesType() {
    return dialect == Dialect.SQLITE ? "BLOB" : "BYTEA";
  }

  /**
   * The dialect's storage-order key. SQLite: plain rowids, not AUTOINCREMENT (whose bookkeeping costs
   * each insert): rows are never deleted (triggers), so each new rowid is the largest plus one all the
   * same.
   */
  protected final String identityType() {
    return dialect == Dialect.SQLITE ? "INTEGER NOT NULL PRIMARY KEY" : "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY";
  }

  /** Appended to an index table's definition: on SQLite, the table is its primary key, no rowid b-tree besides. */
  protected final String keyOnly() {
    return dialect == Dialect.SQLITE ? " WITHOUT ROWID" : "";
  }

  /** The coarse search index's two tables ({@link SearchIndex}), as versions 5 and 6 both have them. */
  protected final void createSearchTables(Statement s) throws SQLException {
    s.execute("CREATE TABLE audit_search_terms (kind TEXT NOT NULL, value TEXT NOT NULL, bucket BIGINT NOT NULL, "
        + "PRIMARY KEY (kind, value, bucket))" + keyOnly());
    s.execute("CREATE TABLE audit_search_times (time_s BIGINT NOT NULL, bucket BIGINT NOT NULL, "
        + "PRIMARY KEY (time_s, bucket))" + keyOnly());
  }

  /** As V2: the database refuses UPDATE and DELETE (and on PostgreSQL TRUNCATE) of the table's rows. */
  protected final void appendOnly(Statement s, String table) throws SQLException {
    switch (dialect) {
      case SQLITE -> {
        s.execute("CREATE TRIGGER " + table + "_no_update BEFORE UPDATE ON " + table + " BEGIN "
            + "SELECT RAISE(ABORT, '" + table + " rows are append-only: UPDATE refused'); END");
        s.execute("CREATE TRIGGER " + table + "_no_delete BEFORE DELETE ON " + table + " BEGIN "
            + "SELECT RAISE(ABORT, '" + table + " rows are append-only: DELETE refused'); END");
      }
      case POSTGRESQL -> {
        s.execute("CREATE TRIGGER " + table + "_append_only BEFORE UPDATE OR DELETE ON " + table
            + " FOR EACH ROW EXECUTE FUNCTION gatehouse_audit_append_only()");
        s.execute("CREATE TRIGGER " + table + "_no_truncate BEFORE TRUNCATE ON " + table
            + " FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_audit_append_only()");
      }
    }
  }

  /**
   * After rows were copied with their positions ({@code OVERRIDING SYSTEM VALUE}): PostgreSQL's
   * identity continues after the largest (SQLite's rowid does by itself).
   */
  protected final void continuePositions(Statement s) throws SQLException {
    if (dialect == Dialect.POSTGRESQL) {
      s.execute("SELECT setval(pg_get_serial_sequence('audit_events', 'pos'), COALESCE(MAX(pos), 0) + 1, false) FROM audit_events");
    }
  }
}
