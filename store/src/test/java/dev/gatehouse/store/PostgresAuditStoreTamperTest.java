package dev.gatehouse.store;

import dev.gatehouse.audit.AuditStore;
import dev.gatehouse.audit.AuditTamperContract;
import dev.gatehouse.audit.StoreTamper;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** The audit tamper contract against PostgreSQL, tampered with SQL. */
class PostgresAuditStoreTamperTest extends AuditTamperContract {
  private static String database;
  private static JdbcStore store;
  private static SqlTamper tamper;

  @BeforeAll
  static void open() {
    database = TestPostgres.createDatabase();
    store = JdbcStore.open(TestPostgres.config(database));
    tamper = new SqlTamper(store);
  }

  @AfterAll
  static void close() {
    if (store != null) store.close();
    TestPostgres.dropDatabase(database);
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
