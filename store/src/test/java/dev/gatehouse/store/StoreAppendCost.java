package dev.gatehouse.store;

import dev.gatehouse.audit.AuditEvent;
import dev.gatehouse.audit.AuditStore;
import dev.gatehouse.audit.EventBody;
import dev.gatehouse.audit.EventType;
import dev.gatehouse.core.ClientInfo;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What the audit indexer's store append costs per event, by the appending thread's CPU time: a
 * probe, not a test (timing belongs in benchmarks). Appends statement-shaped events (a decision with
 * about 200 characters of SQL, principal, groups, resource, details; then its outcome) in batches,
 * as the indexer does (with the canonical bytes it journaled), after a warm-up; making the events is
 * not counted. The store is a new one, so on SQLite it has a new store's 64 KiB pages (a store
 * created by an earlier version keeps 4 KiB pages, and costs about a third more per event).
 *
 * <pre>
 * ./mvnw -B -ntp -q -o install -DskipTests -pl audit,store -am
 * ./mvnw -B -ntp -q -o test-compile -pl store
 * ./mvnw -B -ntp -q -o dependency:build-classpath -pl store -Dmdep.outputFile=/tmp/cp.txt -Dmdep.includeScope=test
 * java --enable-native-access=ALL-UNNAMED -cp "store/target/test-classes:store/target/classes:$(cat /tmp/cp.txt)" \
 *     dev.gatehouse.store.StoreAppendCost sqlite 2400 200000
 * </pre>
 *
 * Arguments: {@code sqlite} or a PostgreSQL JDBC URL (user postgres), batch size, events measured.
 */
public final class StoreAppendCost {
  private StoreAppendCost() {}

  public static void main(String[] args) throws Exception {
    String where = args.length > 0 ? args[0] : "sqlite";
    int batch = args.length > 1 ? Integer.parseInt(args[1]) : 4096;
    int measured = args.length > 2 ? Integer.parseInt(args[2]) : 200_000;
    Path dir = Files.createTempDirectory("store-cost");
    StoreConfig config = where.equals("sqlite") ? StoreConfig.sqlite(dir.resolve("gatehouse.db"))
        : StoreConfig.of(where, Optional.of("postgres"), Optional.empty());
    ThreadMXBean mx = ManagementFactory.getThreadMXBean();
    try (JdbcStore store = JdbcStore.open(config)) {
      byte[] id = new byte[8];
      new SecureRandom().nextBytes(id);
      String chainId = "probe:" + HexFormat.of().formatHex(id);
      Events events = new Events(chainId);
      int warmup = Math.max(measured / 2, 50_000);
      run(store, events, warmup, batch, mx);
      long[] cpuWall = run(store, events, measured, batch, mx);
      long cpu = cpuWall[0];
      long wall = cpuWall[1];
      long user = cpuWall[2];
      System.out.printf("%s batch=%d events=%d: %.2f us CPU/event (appending thread; %.2f user, %.2f system), %.2f us wall/event%n",
          where.equals("sqlite") ? "sqlite" : "postgresql", batch, measured, cpu / 1000.0 / measured, user / 1000.0 / measured,
          (cpu - user) / 1000.0 / measured, wall / 1000.0 / measured);
    } finally {
      try (var files = Files.walk(dir)) {
        for (Path f : files.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(f);
      }
    }
  }

  /**
   * Appends {@code n} events; returns the CPU, wall and user-mode CPU nanoseconds spent in the appends
   * only (not making the events). The rest of the CPU is the kernel's: writing the WAL and the file.
   */
  private static long[] run(JdbcStore store, Events events, int n, int batch, ThreadMXBean mx) {
    long cpu = 0;
    long wall = 0;
    long user = 0;
    for (int done = 0; done < n; done += batch) {
      List<AuditEvent> b = events.next(Math.min(batch, n - done));
      // The indexer hands over the bytes it journaled and the hashes it computed; the store neither
      // encodes the events again nor parses their hashes.
      List<byte[]> canonical = b.stream().map(AuditStore::canonicalBytes).toList();
      List<byte[]> hashes = b.stream().map(e -> java.util.HexFormat.of().parseHex(e.hash())).toList();
      long cpu0 = mx.getCurrentThreadCpuTime();
      long user0 = mx.getCurrentThreadUserTime();
      long wall0 = System.nanoTime();
      store.audit().append(b, canonical, hashes, Optional.empty());
      cpu += mx.getCurrentThreadCpuTime() - cpu0;
      user += mx.getCurrentThreadUserTime() - user0;
      wall += System.nanoTime() - wall0;
    }
    return new long[] {cpu, wall, user};
  }

  /** Decision and outcome events of one session, sealed into a chain (not measured). */
  private static final class Events {
    private final String chainId;
    private long seq;
    private String head = AuditEvent.GENESIS;
    private final EventBody.Actor actor = new EventBody.Actor("00u1a2b3c4d5e6f7g8h9", "https://idp.corp.example/oauth2/default",
        "Alice Example", "HUMAN", List.of("dba", "developers", "oncall-payments"));
    private final ClientInfo client = new ClientInfo("10.1.2.3:51234", "alice", "pgbench");
    private final String session = "7f3c2a9e-5b1d-4c8e-9a6f-0d2e4b8c1a7f";

    Events(String chainId) {
      this.chainId = chainId;
    }

    List<AuditEvent> next(int n) {
      List<AuditEvent> out = new ArrayList<>(n);
      Instant now = Instant.now();
      for (int i = 0; i < n; i++) {
        long s = seq + 1;
        EventBody body;
        if (s % 2 == 1) {
          String sql = "SELECT c.id, c.name, c.email, o.total, o.created_at FROM public.customers c JOIN public.orders o"
              + " ON o.customer_id = c.id WHERE c.id = " + (s * 7919 % 100_000) + " AND o.created_at > now() - interval '30 days'"
              + " ORDER BY o.created_at DESC LIMIT 20";
          body = new EventBody(EventType.COMMAND_DECIDED, now, Optional.of(session), Optional.of(actor), Optional.of("pg-prod"),
              Optional.of(client), Optional.of(new EventBody.CommandRecord("extended", sql, List.of("SELECT"),
                  List.of("public.customers", "public.orders"), List.of("now"), List.of(), Map.of("statement", "P_1", "portal", ""))),
              Optional.of(new EventBody.Ruling(EventBody.Ruling.Effect.ALLOW, "dba-read", Optional.empty())),
              Optional.empty(), Optional.empty(), Map.of());
        } else {
          body = new EventBody(EventType.COMMAND_COMPLETED, now, Optional.of(session), Optional.empty(), Optional.empty(),
              Optional.empty(), Optional.empty(), Optional.empty(),
              Optional.of(new EventBody.Result("OK", 20, Optional.empty(), Duration.ofMillis(1).toMillis())),
              Optional.of(AuditEvent.id(chainId, s - 1)), Map.of());
        }
        AuditEvent e = AuditEvent.seal(chainId, s, head, body);
        seq = s;
        head = e.hash();
        out.add(e);
      }
      return out;
    }
  }
}
