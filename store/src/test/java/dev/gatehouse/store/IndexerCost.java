package dev.gatehouse.store;

import dev.gatehouse.audit.AuditConfig;
import dev.gatehouse.audit.AuditLog;
import dev.gatehouse.audit.AuditSigner;
import dev.gatehouse.audit.Samples;
import dev.gatehouse.core.AuditHandle;
import dev.gatehouse.core.Command;
import dev.gatehouse.core.Outcome;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * What the audit indexer thread costs per event when sessions record events as in the gateway: a
 * probe, not a test (timing belongs in benchmarks). {@code sessions} platform threads each record a
 * prepared statement's decision and outcome (each session with its own principal, as after its own
 * sign-in) at a shared total rate, into an {@link AuditLog} on a new SQLite store, so the indexer
 * takes batches every 100 ms of events made by other threads, as under pgbench; the indexer thread's
 * CPU time is divided by the events stored while measuring. Unlike {@link StoreAppendCost}, this
 * counts all the indexer does (journal segments, batches, checkpoints) and its events are not fresh
 * in the CPU's caches; unlike a pgbench run it needs no PostgreSQL and no network.
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED -cp "store/target/test-classes:store/target/classes:$(cat /tmp/cp.txt)" \
 *     dev.gatehouse.store.IndexerCost 16 26000 20
 * </pre>
 *
 * (the class path as in {@link StoreAppendCost}'s javadoc). Arguments: sessions, events per second
 * in all, seconds measured (after as many seconds of warm-up, at least 10).
 */
public final class IndexerCost {
  private IndexerCost() {}

  public static void main(String[] args) throws Exception {
    int sessions = args.length > 0 ? Integer.parseInt(args[0]) : 16;
    int rate = args.length > 1 ? Integer.parseInt(args[1]) : 26_000;
    int seconds = args.length > 2 ? Integer.parseInt(args[2]) : 20;
    Path dir = Files.createTempDirectory("indexer-cost");
    ThreadMXBean mx = ManagementFactory.getThreadMXBean();
    AtomicLong recorded = new AtomicLong();
    try (JdbcStore store = JdbcStore.open(StoreConfig.sqlite(dir.resolve("gatehouse.db")));
        AuditLog log = AuditLog.start(store.audit(), AuditConfig.defaults("probe", dir.resolve("audit.key")), AuditSigner.generate(),
            Clock.systemUTC())) {
      Thread indexer = Thread.getAllStackTraces().keySet().stream()
          .filter(t -> t.getName().equals("gatehouse-audit-indexer")).findFirst().orElseThrow();
      long pairNanos = 2_000_000_000L * sessions / rate; // each session's interval between statements
      List<Thread> threads = new ArrayList<>();
      long stopAt = System.nanoTime() + Duration.ofSeconds(Math.max(10, seconds) + seconds).toNanos();
      for (int i = 0; i < sessions; i++) {
        Samples s = new Samples("pg-bench");
        Command select = s.command("SELECT abalance FROM pgbench_accounts WHERE aid = $1");
        threads.add(Thread.ofPlatform().name("session-" + i).start(() -> {
          log.sessionOpened(s.session); // as the gateway does: the session's parts are then made once
          long next = System.nanoTime();
          while (next < stopAt) {
            AuditHandle h = log.commandDecided(s.session, select, s.allow);
            log.commandCompleted(s.session, h, Outcome.ok(1, Duration.ofNanos(50_000)));
            recorded.addAndGet(2);
            next += pairNanos;
            long wait = next - System.nanoTime();
            if (wait > 0) LockSupport.parkNanos(wait);
          }
        }));
      }
      Thread.sleep(Duration.ofSeconds(Math.max(10, seconds)));
      long cpu0 = mx.getThreadCpuTime(indexer.threadId());
      long stored0 = recorded.get() - log.unindexed();
      Thread.sleep(Duration.ofSeconds(seconds));
      long cpu1 = mx.getThreadCpuTime(indexer.threadId());
      long stored1 = recorded.get() - log.unindexed();
      for (Thread t : threads) t.join();
      long events = stored1 - stored0;
      System.out.printf("sessions=%d rate=%d/s: %d events stored in %d s (%.0f/s), indexer %.2f us CPU per event%n",
          sessions, rate, events, seconds, events / (double) seconds, (cpu1 - cpu0) / 1000.0 / events);
    } finally {
      try (var files = Files.walk(dir)) {
        for (Path f : files.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(f);
      }
    }
  }
}
