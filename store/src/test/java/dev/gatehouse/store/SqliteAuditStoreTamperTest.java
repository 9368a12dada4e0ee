package dev.gatehouse.store;

import dev.gatehouse.audit.AuditStore;
import dev.gatehouse.audit.AuditTamperContract;
import dev.gatehouse.audit.StoreTamper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** The audit tamper contract against a SQLite file, tampered with SQL. */
class SqliteAuditStoreTamperTest extends AuditTamperContract {
  private static Path dir;
  private static JdbcStore store;
  private static SqlTamper tamper;

  @BeforeAll
  static void open() throws Exception {
    dir = Files.createTempDirectory("gh-sqlite-tamper");
    store = JdbcStore.open(StoreConfig.sqlite(dir.resolve("data/gatehouse.db")));
    tamper = new SqlTamper(store);
  }

  @AfterAll
  static void close() throws Exception {
    store.close();
    try (var files = Files.walk(dir)) {
      files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  @Override
  protected AuditStore store() {
    return store.audit();
  }

  @Override
  protected StoreTamper tamper() {
    return tamper;
  }
}
