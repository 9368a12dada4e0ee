package dev.gatehouse.audit;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A gateway killed with sessions open and statements forwarded leaves them without an end; the
 * node's next start records those ends in its new chain (review round 44, F5).
 */
class CutOffEndsTest {
  @TempDir Path tmp;

  @Test
  void theNextStartEndsTheSessionsAndStatementsAKilledGatewayLeftOpen() throws Exception {
    Path journal = tmp.resolve("journal");
    Path key = tmp.resolve("audit.key");
    String[] ids = runAndKill(journal, key);
    String running = ids[0], other = ids[1], done = ids[2], sessionA = ids[3], sessionB = ids[4], sessionC = ids[5];
    String killedChain = running.substring(0, running.lastIndexOf(':'));

    InMemoryAuditStore store = new InMemoryAuditStore();
    AuditConfig config = AuditConfig.defaults("cut-node", key).withJournal(journal);
    String newChain;
    try (AuditLog log = AuditLog.start(store, config, Clock.systemUTC())) {
      newChain = log.chainId().orElseThrow();
      await(() -> ends(store, newChain).size() == 4);
    }
    List<AuditEvent> ends = ends(store, newChain);
    assertThat(ends).filteredOn(e -> e.body().type() == EventType.COMMAND_COMPLETED)
        .as("the two forwarded statements without an outcome, not the completed one, not the refused one")
        .extracting(e -> e.body().ref().orElseThrow()).containsExactlyInAnyOrder(running, other)
        .doesNotContain(done);
    assertThat(ends).filteredOn(e -> e.body().type() == EventType.COMMAND_COMPLETED).allSatisfy(e -> {
      assertThat(e.body().outcome().orElseThrow().status()).isEqualTo("UNKNOWN");
      assertThat(e.body().outcome().orElseThrow().rows()).isEqualTo(-1);
      assertThat(e.body().attributes().get("reason")).startsWith(CutOffEnds.COMMAND_REASON).contains(killedChain);
      assertThat(e.body().principal()).as("the session's parts, as on its other events").isPresent();
    });
    assertThat(ends).filteredOn(e -> e.body().type() == EventType.SESSION_CLOSED)
        .as("the sessions still open, not the one closed before the kill")
        .extracting(e -> e.body().sessionId().orElseThrow()).containsExactlyInAnyOrder(sessionA, sessionC)
        .doesNotContain(sessionB);
    assertThat(ends).filteredOn(e -> e.body().type() == EventType.SESSION_CLOSED).allSatisfy(e -> {
      assertThat(e.body().attributes().get("reason")).startsWith(CutOffEnds.SESSION_REASON).contains(killedChain);
      assertThat(e.body().ref()).as("the session's SESSION_OPENED").hasValueSatisfying(r -> assertThat(r).startsWith(killedChain + ":"));
      assertThat(e.body().resource()).isPresent();
    });
    assertThat(new AuditVerifier(store, List.of(AuditSigner.loadOrCreate(key).publicKey())).verify().intact()).isTrue();

    // The new chain closed cleanly, and the killed chain's journal went once its ends were
    // recorded: the start after it has nothing to end.
    try (Stream<Path> left = Files.list(journal.resolve("cut-node"))) {
      assertThat(left.map(p -> p.getFileName().toString())).noneMatch(n -> n.endsWith(AuditJournal.SUFFIX));
    }
    try (AuditLog log = AuditLog.start(store, config, Clock.systemUTC())) {
      String third = log.chainId().orElseThrow();
      Thread.sleep(500);
      log.flush();
      assertThat(ends(store, third)).isEmpty();
    }
  }

  /**
   * Review round 46: a start killed while it recorded those ends (recovery had already removed the
   * killed chain's journal) left them unrecorded for good. The chain is now named in a file of the
   * node's journal folder until its ends are recorded, so a start after one cut off that way looks
   * again, and records only what no start before it did.
   */
  @Test
  void aStartCutOffBeforeItWasDoneLeavesTheEndsToTheNextWithoutRecordingAnyTwice() throws Exception {
    Path journal = tmp.resolve("journal");
    Path key = tmp.resolve("audit.key");
    String[] ids = runAndKill(journal, key);
    String running = ids[0];
    String killedChain = running.substring(0, running.lastIndexOf(':'));
    Path pending = journal.resolve("cut-node").resolve(ChainWriter.PENDING_ENDS);
    InMemoryAuditStore store = new InMemoryAuditStore();
    AuditConfig config = AuditConfig.defaults("cut-node", key).withJournal(journal);
    String second;
    try (AuditLog log = AuditLog.start(store, config, Clock.systemUTC())) {
      second = log.chainId().orElseThrow();
      await(() -> ends(store, second).size() == 4);
      await(() -> !Files.exists(pending));
    }
    long lastSeq = store.lastSeq(killedChain).orElseThrow();
    // As if that start had been killed after it recorded the ends, before it said so.
    Files.writeString(pending, killedChain + " " + lastSeq + "\n");
    try (AuditLog log = AuditLog.start(store, config, Clock.systemUTC())) {
      String third = log.chainId().orElseThrow();
      await(() -> !Files.exists(pending));
      log.flush();
      assertThat(ends(store, third)).as("ended once, by the chain before").isEmpty();
    }
    // And as if it had been killed before it recorded any: the next start records them all.
    InMemoryAuditStore fresh = new InMemoryAuditStore();
    try (Stream<AuditEvent> events = store.events(killedChain)) {
      fresh.append(events.toList(), Optional.empty());
    }
    Files.writeString(pending, killedChain + " " + lastSeq + "\n");
    try (AuditLog log = AuditLog.start(fresh, config, Clock.systemUTC())) {
      String fourth = log.chainId().orElseThrow();
      await(() -> ends(fresh, fourth).size() == 4);
      await(() -> !Files.exists(pending));
    }
  }

  /** Runs {@link CutOffChild}, kills it (SIGKILL) once it has journaled its events, returns what it printed. */
  private String[] runAndKill(Path journal, Path key) throws Exception {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    ProcessBuilder pb = new ProcessBuilder(java.toString(), "-cp", System.getProperty("java.class.path"),
        CutOffChild.class.getName(), journal.toString(), key.toString());
    pb.redirectError(tmp.resolve("child.err").toFile());
    Process child = pb.start();
    String ready = null;
    try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = out.readLine()) != null) {
        if (line.startsWith("READY ")) {
          ready = line.substring(6);
          break;
        }
      }
      child.destroyForcibly();
      assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
    } finally {
      child.destroyForcibly();
    }
    assertThat(ready).as("child stderr: %s", Files.readString(tmp.resolve("child.err"))).isNotNull();
    return ready.split(" ");
  }

  /** The events of a chain that end what a killed process left open (those with a reason naming a cut-off chain). */
  private static List<AuditEvent> ends(InMemoryAuditStore store, String chainId) {
    try (Stream<AuditEvent> events = store.events(chainId)) {
      return events.filter(e -> e.body().attributes().getOrDefault("reason", "").contains("recorded by the node's next start"))
          .toList();
    }
  }

  private static void await(java.util.function.BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) throw new AssertionError("condition not met within 20 s");
      Thread.sleep(20);
    }
  }
}
