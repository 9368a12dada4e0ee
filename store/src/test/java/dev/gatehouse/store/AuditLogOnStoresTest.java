package dev.gatehouse.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.gatehouse.audit.AuditConfig;
import dev.gatehouse.audit.AuditLog;
import dev.gatehouse.audit.AuditSigner;
import dev.gatehouse.audit.AuditStore;
import dev.gatehouse.audit.AuditVerifier;
import dev.gatehouse.audit.ChainBuilder;
import dev.gatehouse.audit.ChainReport;
import dev.gatehouse.audit.Samples;
import dev.gatehouse.audit.VerificationReport;
import dev.gatehouse.core.AuditHandle;
import dev.gatehouse.core.AuditUnavailableException;
import dev.gatehouse.core.Outcome;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The audit log on the real stores: group commit, durability as seen by the caller, failures. */
class AuditLogOnStoresTest {
  private static BothStores stores;

  @TempDir Path tmp;
  private final AuditSigner signer = AuditSigner.generate();

  @BeforeAll
  static void open() throws Exception {
    stores = BothStores.open("gh-audit-stores");
  }

  @AfterAll
  static void close() throws Exception {
    stores.close();
  }

  /** Dialects, not stores: JUnit closes AutoCloseable arguments after each test. */
  static List<Dialect> stores() {
    return List.of(Dialect.SQLITE, Dialect.POSTGRESQL);
  }

  private static JdbcStore store(Dialect dialect) {
    return stores.store(dialect);
  }

  private AuditConfig config(String node) {
    return AuditConfig.defaults(node, tmp.resolve("audit.key")).withCheckpoints(32, Duration.ofMillis(200));
  }

  private ChainReport report(AuditStore store, String chainId) {
    VerificationReport r = new AuditVerifier(store, List.of(signer.publicKey())).verify();
    return r.chains().stream().filter(c -> c.chainId().equals(chainId)).findFirst().orElseThrow();
  }

  @ParameterizedTest
  @MethodSource("stores")
  void everyDurableCallIsInTheStoreAfterAFlushAndTheChainIsIntact(Dialect dialect) throws Exception {
    JdbcStore store = store(dialect);
    AuditStore audit = store.audit();
    Samples s = new Samples("pg-concurrent");
    int threads = 16;
    int each = 25;
    ConcurrentLinkedQueue<String> missing = new ConcurrentLinkedQueue<>();
    ConcurrentLinkedQueue<String> ids = new ConcurrentLinkedQueue<>();
    String chainId;
    try (AuditLog log = AuditLog.start(audit, config("conc-" + store.dialect().name().toLowerCase()), signer, Clock.systemUTC());
        ExecutorService pool = Executors.newFixedThreadPool(threads)) {
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int thread = t;
        done.add(pool.submit(() -> {
          for (int i = 0; i < each; i++) {
            AuditHandle h = log.commandDecided(s.session, s.command("SELECT " + thread + ", " + i), s.allow);
            ids.add(h.eventId());
            log.commandCompleted(s.session, h, Outcome.ok(i, Duration.ofMillis(1)));
          }
        }));
      }
      for (Future<?> f : done) f.get(120, TimeUnit.SECONDS);
      chainId = log.chainId().orElseThrow();
      log.flush();
      ids.forEach(id -> {
        if (audit.find(id).isEmpty()) missing.add(id);
      });
    }
    assertThat(missing).isEmpty();
    assertThat(ids).hasSize(threads * each).doesNotHaveDuplicates();
    ChainReport r = report(audit, chainId);
    assertThat(r.status()).as(r.describe()).isEqualTo(ChainReport.Status.INTACT);
    assertThat(r.lastSeq()).isEqualTo(2 + 2L * threads * each);
  }

  @ParameterizedTest
  @MethodSource("stores")
  void aStoreThatCannotTakeEventsMakesDurableCallsRefuseAndTheChainContinuesOnceItIsBack(Dialect dialect)
      throws Exception {
    JdbcStore store = store(dialect);
    AuditStore audit = store.audit();
    Samples s = new Samples("pg-failing");
    SqlTamper sql = new SqlTamper(store);
    String chainId;
    AuditHandle during;
    AuditHandle after;
    try (AuditLog log = AuditLog.start(audit, config("fail-" + store.dialect().name().toLowerCase()), signer, Clock.systemUTC())) {
      log.sessionOpened(s.session);
      log.flush();
      chainId = log.chainId().orElseThrow();
      sql.update("ALTER TABLE audit_events RENAME TO audit_events_away");
      try {
        during = log.commandDecided(s.session, s.command("SELECT 0"), s.allow); // journaled; the store fails behind it
        assertThatThrownBy(log::flush).isInstanceOf(AuditUnavailableException.class).hasMessageContaining("audit store failed");
        assertThatThrownBy(() -> log.commandDecided(s.session, s.command("DROP TABLE customers"), s.allow))
            .isInstanceOf(AuditUnavailableException.class)
            .hasMessageContaining("audit store failed");
        assertThat(log.available()).isFalse();
      } finally {
        sql.update("ALTER TABLE audit_events_away RENAME TO audit_events");
      }
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (!log.available() && System.nanoTime() < deadline) Thread.sleep(10);
      after = log.commandDecided(s.session, s.command("SELECT 1"), s.allow);
      log.flush();
    }
    assertThat(audit.find(during.eventId())).isPresent();
    assertThat(audit.find(after.eventId())).isPresent();
    assertThat(report(audit, chainId).status()).as(report(audit, chainId).describe()).isEqualTo(ChainReport.Status.INTACT);
  }

  @ParameterizedTest
  @MethodSource("stores")
  void aRowEditedIntoSomethingNoEventCanHoldIsReportedAsEdited(Dialect dialect) {
    JdbcStore store = store(dialect);
    AuditStore audit = store.audit();
    // Both formats: a store upgraded from before v2 holds v1 events beside the new ones.
    for (ChainBuilder chain : List.of(
        new ChainBuilder(audit, signer, "gw-x:" + store.dialect().name().toLowerCase(), 8).commands(5).close(),
        ChainBuilder.v1(audit, signer, "gw-x1:" + store.dialect().name().toLowerCase(), 8).commands(5).close())) {
      assertThat(report(audit, chain.chainId()).status()).isEqualTo(ChainReport.Status.INTACT);
      new SqlTamper(store).setUnknownEventType(chain.chainId(), 4);
      ChainReport.Break b = report(audit, chain.chainId()).firstBreak().orElseThrow();
      assertThat(b.kind()).isEqualTo(ChainReport.Kind.EDITED);
      assertThat(b.seq()).isEqualTo(4);
    }
  }

  @ParameterizedTest
  @MethodSource("stores")
  void aCheckpointRowEditedBeyondReadingIsReportedAsABadSignature(Dialect dialect) {
    JdbcStore store = store(dialect);
    AuditStore audit = store.audit();
    ChainBuilder chain = new ChainBuilder(audit, signer, "gw-y:" + dialect.name().toLowerCase(), 8).commands(5).close();
    new SqlTamper(store).update("UPDATE audit_checkpoints SET seq = 0 WHERE chain_id = ? AND seq = 7", chain.chainId());
    ChainReport.Break b = report(audit, chain.chainId()).firstBreak().orElseThrow();
    assertThat(b.kind()).isEqualTo(ChainReport.Kind.BAD_SIGNATURE);
    assertThat(b.message()).contains("cannot be read back");
  }
}
