package dev.gatehouse.store;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * A fresh SQLite store in a temporary folder and a fresh database on the test PostgreSQL, for tests
 * that run the same checks on both; {@link #close} removes both.
 */
final class BothStores implements AutoCloseable {
  final JdbcStore sqlite;
  final JdbcStore postgres;
  private final Path dir;
  private final String database;

  private BothStores(Path dir, JdbcStore sqlite, String database, JdbcStore postgres) {
    this.dir = dir;
    this.sqlite = sqlite;
    this.database = database;
    this.postgres = postgres;
  }

  static BothStores open(String name) throws Exception {
    Path dir = Files.createTempDirectory(name);
    JdbcStore sqlite = JdbcStore.open(StoreConfig.sqlite(dir.resolve("gatehouse.db")));
    String database = TestPostgres.createDatabase();
    return new BothStores(dir, sqlite, database, JdbcStore.open(TestPostgres.config(database)));
  }

  JdbcStore store(Dialect dialect) {
    return dialect == Dialect.SQLITE ? sqlite : postgres;
  }

  @Override
  public void close() throws Exception {
    sqlite.close();
    postgres.close();
    TestPostgres.dropDatabase(database);
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }
}
