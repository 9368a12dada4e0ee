package dev.gatehouse.audit;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What a journal append costs the statement's thread (CPU time per event, including system time): a
 * probe, not a test. Appends 300,000 statement-shaped records (about 650 bytes) after a warm-up,
 * crossing several segments, so segment creation is included at its real rate.
 *
 * <pre>
 * ./mvnw -B -ntp -q -o test-compile -pl audit
 * ./mvnw -B -ntp -q -o dependency:build-classpath -pl store -Dmdep.outputFile=/tmp/cp.txt -Dmdep.includeScope=test
 * java -cp "audit/target/test-classes:audit/target/classes:$(cat /tmp/cp.txt)" dev.gatehouse.audit.JournalAppendCost
 * </pre>
 */
public final class JournalAppendCost {
  private JournalAppendCost() {}

  public static void main(String[] args) throws Exception {
    Path dir = Files.createTempDirectory("journal-cost");
    String sql = "SELECT c.id, c.name, c.email, o.total, o.created_at FROM public.customers c JOIN public.orders o"
        + " ON o.customer_id = c.id WHERE c.id = 4711 AND o.created_at > now() - interval '30 days' ORDER BY o.created_at DESC LIMIT 20";
    EventBody body = new EventBody(EventType.COMMAND_DECIDED, Instant.now(), Optional.of("7f3c2a9e-5b1d-4c8e-9a6f-0d2e4b8c1a7f"),
        Optional.of(new EventBody.Actor("00u1a2b3c4d5e6f7g8h9", "https://idp.corp.example/oauth2/default", "Alice Example", "HUMAN",
            List.of("dba", "developers"))), Optional.of("pg-prod"),
        Optional.of(new dev.gatehouse.core.ClientInfo("10.1.2.3:51234", "alice", "pgbench")),
        Optional.of(new EventBody.CommandRecord("extended", sql, List.of("SELECT"), List.of("public.customers", "public.orders"),
            List.of("now"), List.of(), Map.of("statement", "P_1"))),
        Optional.of(new EventBody.Ruling(EventBody.Ruling.Effect.ALLOW, "dba-read", Optional.empty())), Optional.empty(),
        Optional.empty(), Map.of());
    byte[] record = CanonicalEncoding.encodeEvent("node-0:636045eced97ace7", 1, AuditEvent.GENESIS, body);
    ThreadMXBean mx = ManagementFactory.getThreadMXBean();
    AuditJournal.NodeLock node = AuditJournal.lockNode(dir, "node-0");
    AuditJournal j = AuditJournal.create(node, "node-0:636045eced97ace7", false);
    long seq = 0;
    for (int i = 0; i < 100_000; i++) j.append(++seq, record, record.length);
    int n = 300_000;
    long cpu0 = mx.getCurrentThreadCpuTime();
    for (int i = 0; i < n; i++) {
      j.append(++seq, record, record.length);
      if (i % 4096 == 0) j.prepareNext(); // the indexer's part, on this thread here: counted too
    }
    long cpu = mx.getCurrentThreadCpuTime() - cpu0;
    System.out.printf("journal append, %d-byte records: %.2f us CPU/event%n", record.length, cpu / 1000.0 / n);
    j.close(true);
  }
}
