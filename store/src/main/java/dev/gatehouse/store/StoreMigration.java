package dev.gatehouse.store;

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
}
