package dev.gatehouse.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.gatehouse.audit.AuditEvent;
import dev.gatehouse.audit.AuditSigner;
import dev.gatehouse.audit.AuditStore;
import dev.gatehouse.audit.ChainBuilder;
import dev.gatehouse.audit.Durability;
import dev.gatehouse.audit.EventBody;
import dev.gatehouse.audit.EventType;
import dev.gatehouse.core.Secret;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JdbcStoreTest {
  @TempDir Path tmp;
  private static String database;

  @BeforeAll
  static void createDatabase() {
    database = TestPostgres.createDatabase();
  }

  @AfterAll
  static void dropDatabase() {
    TestPostgres.dropDatabase(database);
  }

  private static String single(JdbcStore store, String sql) throws SQLException {
    try (Connection c = store.dataSource().getConnection(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getString(1);
    }
  }

  @Test
  void sqliteWithProcessDurabilityUsesWalAndSynchronousNormal() throws Exception {
    try (JdbcStore store = JdbcStore.open(StoreConfig.sqlite(tmp.resolve("a/gatehouse.db")))) {
      assertThat(store.dialect()).isEqualTo(Dialect.SQLITE);
      assertThat(single(store, "PRAGMA journal_mode")).isEqualTo("wal");
      assertThat(single(store, "PRAGMA synchronous")).isEqualTo("1"); // NORMAL
    }
  }

  @Test
  void aNewSqliteStoreHas64KiBPages() throws Exception {
    try (JdbcStore store = JdbcStore.open(StoreConfig.sqlite(tmp.resolve("pages/gatehouse.db")))) {
      assertThat(single(store, "PRAGMA page_size")).isEqualTo("65536");
      assertThat(single(store, "PRAGMA journal_mode")).isEqualTo("wal");
    }
  }

  @Test
  void aNewSqliteStoreAndItsWalAreReadableByTheGatewaysUserOnly() throws Exception {
    Path db = tmp.resolve("private/gatehouse.db");
    try (JdbcStore store = JdbcStore.open(StoreConfig.sqlite(db))) {
      assertThat(java.nio.file.attribute.PosixFilePermissions.toString(java.nio.file.Files.getPosixFilePermissions(db)))
          .isEqualTo("rw-------");
      Path wal = db.resolveSibling("gatehouse.db-wal"); // open, migrated: the WAL exists
      assertThat(java.nio.file.attribute.PosixFilePermissions.toString(java.nio.file.Files.getPosixFilePermissions(wal)))
          .isEqualTo("rw-------");
    }
  }

  @Test
  void sqliteWithMachineDurabilitySyncsEveryCommit() throws Exception {
    try (JdbcStore store = JdbcStore.open(StoreConfig.sqlite(tmp.resolve("gatehouse.db")).withDurability(Durability.MACHINE))) {
      assertThat(single(store, "PRAGMA synchronous")).isEqualTo("2"); // FULL
      assertThat(store.audit().durability()).isEqualTo(Durability.MACHINE);
    }
  }

  @Test
  void postgresConnectionsCommitSynchronouslyEvenWhenTheDatabaseDefaultIsOff() throws Exception {
    String db = TestPostgres.createDatabase();
    try {
      try (Connection c = TestPostgres.connect(db); Statement s = c.createStatement()) {
        s.execute("ALTER DATABASE " + db + " SET synchronous_commit = off");
      }
      try (JdbcStore store = JdbcStore.open(TestPostgres.config(db))) {
        assertThat(single(store, "SHOW synchronous_commit")).isEqualTo("on");
      }
    } finally {
      TestPostgres.dropDatabase(db);
    }
  }

  @Test
  void bothDatabasesGetTheSameSchema() throws Exception {
    try (JdbcStore sqlite = JdbcStore.open(StoreConfig.sqlite(tmp.resolve("gatehouse.db")));
        JdbcStore postgres = JdbcStore.open(TestPostgres.config(database))) {
      for (String table : List.of("audit_events", "audit_chains", "audit_checkpoints", "audit_search_terms", "audit_search_times")) {
        assertThat(columns(sqlite, table)).isNotEmpty().isEqualTo(columns(postgres, table));
      }
    }
  }

  @Test
  void theDatabaseRefusesUpdatesAndDeletesOfAuditRows() throws Exception {
    try (JdbcStore sqlite = JdbcStore.open(StoreConfig.sqlite(tmp.resolve("gatehouse.db")));
        JdbcStore postgres = JdbcStore.open(TestPostgres.config(database))) {
      for (JdbcStore store : List.of(sqlite, postgres)) {
        new ChainBuilder(store.audit(), AuditSigner.generate(), "gw-1:" + store.dialect().name().toLowerCase(), 8).commands(2).close();
        for (String sql : List.of("UPDATE audit_events SET first_seq = 0", "DELETE FROM audit_events",
            "UPDATE audit_chains SET chain_id = 'x'", "DELETE FROM audit_chains",
            "UPDATE audit_checkpoints SET hash = 'x'", "DELETE FROM audit_checkpoints",
            "UPDATE audit_search_terms SET value = 'x'", "DELETE FROM audit_search_terms",
            "UPDATE audit_search_times SET bucket = 0", "DELETE FROM audit_search_times")) {
          try (Connection c = store.dataSource().getConnection(); Statement s = c.createStatement()) {
            assertThatThrownBy(() -> s.executeUpdate(sql)).as(store.dialect() + ": " + sql)
                .isInstanceOf(SQLException.class).hasMessageContaining("append-only");
          }
        }
      }
    }
  }

  @Test
  void eventsSurviveClosingAndReopeningTheStore() {
    Path file = tmp.resolve("gatehouse.db");
    ChainBuilder chain;
    try (JdbcStore store = JdbcStore.open(StoreConfig.sqlite(file))) {
      chain = new ChainBuilder(store.audit(), AuditSigner.generate(), "gw-1:0001", 8).commands(3).close();
    }
    try (JdbcStore store = JdbcStore.open(StoreConfig.sqlite(file))) {
      assertThat(store.audit().find(chain.written().get(2).id())).contains(chain.written().get(2));
    }
  }

  @Test
  void aBatchOfInterleavedChainsIsStoredInTheOrderGivenAndReadsBackWhole() {
    // Statements of 64 rows: runs of one chain, a block of two interleaved chains, a run after a
    // block, and single rows; whatever statement stores them, the log keeps the order of the batch.
    Chains a = new Chains("gw-a:0001");
    Chains b = new Chains("gw-b:0001");
    List<AuditEvent> batch = new ArrayList<>();
    for (int i = 0; i < 64; i++) batch.add(a.next(i));
    for (int i = 0; i < 64; i++) batch.add((i % 2 == 0 ? a : b).next(i));
    for (int i = 0; i < 128; i++) batch.add(b.next(i));
    for (int i = 0; i < 5; i++) batch.add(a.next(i));
    try (JdbcStore sqlite = JdbcStore.open(StoreConfig.sqlite(tmp.resolve("order/gatehouse.db")));
        JdbcStore postgres = JdbcStore.open(TestPostgres.config(database))) {
      for (JdbcStore store : List.of(sqlite, postgres)) {
        store.audit().append(batch, batch.stream().map(AuditStore::canonicalBytes).toList(), null, Optional.empty());
        assertThat(store.audit().tail(batch.size())).as(store.dialect().name()).isEqualTo(batch);
        try (var events = store.audit().events(a.chainId)) {
          assertThat(events.toList()).as(store.dialect().name()).isEqualTo(a.sealed).allMatch(AuditEvent::hashMatches);
        }
        try (var events = store.audit().events(b.chainId)) {
          assertThat(events.toList()).as(store.dialect().name()).isEqualTo(b.sealed).allMatch(AuditEvent::hashMatches);
        }
      }
    }
  }

  /** Events of one chain, sealed in order. */
  private static final class Chains {
    final String chainId;
    final List<AuditEvent> sealed = new ArrayList<>();

    Chains(String chainId) {
      this.chainId = chainId;
    }

    AuditEvent next(int i) {
      AuditEvent e = AuditEvent.seal(chainId, sealed.size() + 1, sealed.isEmpty() ? AuditEvent.GENESIS : sealed.getLast().hash(),
          EventBody.of(EventType.SESSION_CLOSED, Instant.parse("2026-11-22T12:00:00Z").plusMillis(sealed.size()), Map.of("n", "" + i)));
      sealed.add(e);
      return e;
    }
  }

  @Test
  void aSqliteUrlThatIsNotAFileIsRefused() {
    for (String url : List.of("jdbc:sqlite::memory:", "jdbc:sqlite:", "jdbc:sqlite:file:x.db?mode=memory")) {
      assertThatThrownBy(() -> JdbcStore.open(StoreConfig.of(url, Optional.empty(), Optional.empty())))
          .isInstanceOf(StoreException.class)
          .hasMessageContaining("must name a SQLite file");
    }
  }

  @Test
  void aUrlOfAnotherDatabaseIsRefused() {
    assertThatThrownBy(() -> JdbcStore.open(StoreConfig.of("jdbc:mysql://db/x", Optional.empty(), Optional.empty())))
        .isInstanceOf(StoreException.class)
        .hasMessageContaining("neither jdbc:sqlite: nor jdbc:postgresql:");
  }

  @Test
  void anUnreachableStoreIsNamedWithoutItsCredentials() {
    StoreConfig config = StoreConfig.of("jdbc:postgresql://127.0.0.1:1/gatehouse?password=hunter2", Optional.of("gh"),
        Optional.of(Secret.of("s3cret")));
    assertThatThrownBy(() -> JdbcStore.open(config))
        .isInstanceOf(StoreException.class)
        .hasMessageContaining("jdbc:postgresql://127.0.0.1:1/gatehouse")
        .hasMessageNotContaining("hunter2")
        .hasMessageNotContaining("s3cret");
    assertThat(config.toString()).doesNotContain("hunter2").doesNotContain("s3cret");
  }

  @Test
  void credentialsInAUrlAreRedacted() {
    StoreConfig config = StoreConfig.of("jdbc:postgresql://gh:pw@db.example:5432/audit?sslmode=verify-full",
        Optional.empty(), Optional.empty());
    assertThat(config.redactedUrl()).isEqualTo("jdbc:postgresql://…@db.example:5432/audit?…");
  }

  private static List<String> columns(JdbcStore store, String table) throws SQLException {
    List<String> names = new ArrayList<>();
    try (Connection c = store.dataSource().getConnection(); ResultSet rs = c.getMetaData().getColumns(null, null, table, null)) {
      while (rs.next()) names.add(rs.getString("COLUMN_NAME") + " " + rs.getString("IS_NULLABLE"));
    }
    return names;
  }
}
