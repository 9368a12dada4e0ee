package dev.gatehouse.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gatehouse.audit.AuditEvent;
import dev.gatehouse.audit.AuditSigner;
import dev.gatehouse.audit.AuditStore;
import dev.gatehouse.audit.AuditVerifier;
import dev.gatehouse.audit.ChainReport;
import dev.gatehouse.audit.EventType;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The default durability promise, tested the hard way: a child JVM appends durable events and prints
 * each acknowledged id; it is killed ({@code destroyForcibly}, SIGKILL) mid-stream; the store is
 * reopened and must hold every acknowledged event, in a chain that verifies (its tail after the last
 * checkpoint reported as unanchored, not as tampering).
 */
class KillDurabilityTest {
  private static final int ACKS_BEFORE_KILL = 400;

  @TempDir Path tmp;

  @Test
  void everyEventAcknowledgedBeforeKill9IsInTheSqliteStore() throws Exception {
    Path db = tmp.resolve("data/gatehouse.db");
    String url = "jdbc:sqlite:" + db;
    Result r = runAndKill(url, "-");
    try (JdbcStore store = JdbcStore.open(StoreConfig.sqlite(db))) {
      check(store.audit(), r);
    }
  }

  @Test
  void everyEventAcknowledgedBeforeKill9IsInThePostgresStore() throws Exception {
    String database = TestPostgres.createDatabase();
    try {
      Result r = runAndKill(TestPostgres.url(database), TestPostgres.USER);
      try (JdbcStore store = JdbcStore.open(TestPostgres.config(database))) {
        check(store.audit(), r);
      }
    } finally {
      TestPostgres.dropDatabase(database);
    }
  }

  private record Result(String chainId, List<String> acknowledged, Path key) {}

  private Result runAndKill(String url, String user) throws Exception {
    Path key = tmp.resolve("audit.key");
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    ProcessBuilder pb = new ProcessBuilder(java.toString(), "--enable-native-access=ALL-UNNAMED",
        "-cp", System.getProperty("java.class.path"), DurabilityChild.class.getName(), url, user, key.toString(), "kill-node");
    pb.redirectError(tmp.resolve("child.err").toFile());
    Process child = pb.start();
    String chainId = null;
    List<String> acks = new ArrayList<>();
    try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = out.readLine()) != null) {
        if (line.startsWith("CHAIN ")) chainId = line.substring(6);
        if (line.startsWith("ACK ")) acks.add(line.substring(4));
        if (acks.size() == ACKS_BEFORE_KILL) {
          // SIGKILL while the child's threads are mid-append. Killing closes our end of the pipe, so
          // ids acknowledged after this line are not checked: those read so far are a sample.
          child.destroyForcibly();
          assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
          break;
        }
      }
    } finally {
      child.destroyForcibly();
    }
    assertThat(acks).as("child stderr: %s", Files.exists(tmp.resolve("child.err"))
        ? Files.readString(tmp.resolve("child.err")) : "").hasSize(ACKS_BEFORE_KILL);
    assertThat(child.exitValue()).as("killed, not exited").isNotZero();
    return new Result(chainId, acks, key);
  }

  /** The refs of a chain's COMMAND_COMPLETED events. */
  private static Set<String> outcomes(AuditStore store, String chainId) {
    try (Stream<AuditEvent> events = store.events(chainId)) {
      return events.filter(e -> e.body().type() == EventType.COMMAND_COMPLETED).map(e -> e.body().ref().orElseThrow())
          .collect(Collectors.toSet());
    }
  }

  /**
   * What the next start of the node does before anything else: store what the killed process left
   * in its journal (under a checkpoint signed with the node's key).
   */
  private static void check(AuditStore store, Result r) throws InterruptedException {
    try (dev.gatehouse.audit.AuditLog log = dev.gatehouse.audit.AuditLog.start(store,
        dev.gatehouse.audit.AuditConfig.defaults("kill-node", r.key()), java.time.Clock.systemUTC())) {
      // Then it records, in its own chain, an UNKNOWN outcome for each statement the killed one
      // forwarded without recording how it ended, read back from this store: every acknowledged
      // statement has exactly one outcome, its own or that one.
      Set<String> completed = outcomes(store, r.chainId());
      Set<String> inFlight;
      try (Stream<AuditEvent> events = store.events(r.chainId())) {
        inFlight = events.filter(e -> e.body().type() == EventType.COMMAND_DECIDED).map(AuditEvent::id)
            .filter(id -> !completed.contains(id)).collect(Collectors.toSet());
      }
      assertThat(inFlight).as("at most one statement per thread of the child between its decision and its outcome").hasSizeLessThanOrEqualTo(4);
      String chain = log.chainId().orElseThrow();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      Set<String> unknown;
      do { // once at least: none must come when none is due
        Thread.sleep(500);
        log.flush();
        unknown = outcomes(store, chain);
      } while (!unknown.equals(inFlight) && System.nanoTime() < deadline);
      assertThat(unknown).as("ended UNKNOWN by the next start: the statements without an outcome, and only those").isEqualTo(inFlight);
    }
    List<String> lost = r.acknowledged().stream().filter(id -> store.find(id).isEmpty()).toList();
    assertThat(lost).as("acknowledged events missing after kill -9").isEmpty();
    assertThat(r.acknowledged()).allMatch(id -> id.startsWith(r.chainId() + ":"));
    ChainReport report = new AuditVerifier(store, List.of(AuditSigner.readPublicKey(r.key().resolveSibling("audit.key.pub"))))
        .verify(r.chainId());
    assertThat(report.broken()).as(report.describe()).isFalse();
    assertThat(report.closed()).isFalse();
    assertThat(report.lastSeq()).as("the killed chain was recovered under a signed checkpoint").isEqualTo(report.anchoredSeq());
  }
}
