package dev.gatehouse.audit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.gatehouse.core.AuditHandle;
import dev.gatehouse.core.AuditUnavailableException;
import dev.gatehouse.core.ClientInfo;
import dev.gatehouse.core.Outcome;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The journal: what a statement's event is durable in before the statement is forwarded, and what
 * a node that died leaves for the next start to store.
 */
class AuditJournalTest {
  @TempDir Path tmp;

  private final InMemoryAuditStore store = new InMemoryAuditStore();
  private final AuditSigner signer = AuditSigner.generate();
  private final Samples s = new Samples("pg-prod");

  private AuditConfig config(Path journal) {
    return AuditConfig.defaults("gw-1", tmp.resolve("audit.key")).withJournal(journal).withCheckpoints(1000, Duration.ofHours(1));
  }

  private List<AuditEvent> events(String chainId) {
    try (Stream<AuditEvent> e = store.events(chainId)) {
      return e.toList();
    }
  }

  private static List<Path> segments(Path nodeDir) throws IOException {
    try (Stream<Path> files = Files.list(nodeDir)) {
      return files.filter(f -> f.getFileName().toString().endsWith(AuditJournal.SUFFIX)).sorted().toList();
    }
  }

  /** Copies a live node's journal elsewhere: what a process killed at this instant leaves on disk. */
  private static Path crashCopy(Path liveNodeDir, Path root) throws IOException {
    Path dir = root.resolve("gw-1");
    Files.createDirectories(dir);
    for (Path f : segments(liveNodeDir)) Files.copy(f, dir.resolve(f.getFileName()));
    return root;
  }

  @Test
  void everyFieldOfAnEventSurvivesTheJournalEncodingWithItsHash() {
    EventBody body = new EventBody(EventType.COMMAND_DECIDED, Instant.parse("2026-11-22T10:15:30.123456789Z"),
        Optional.of("sess-1"), Optional.of(new EventBody.Actor("alice", "https://idp", "Alice Ü", "HUMAN", List.of("b", "a"))),
        Optional.of("pg-prod"), Optional.of(new ClientInfo("10.0.0.1:5000", "alice", "psql")),
        Optional.of(new EventBody.CommandRecord("simple", "SELECT 'ünï' -- \n;", List.of("SELECT"), List.of("public.t"),
            List.of("now"), List.of("NO_WHERE"), Map.of("k", "v"))),
        Optional.of(new EventBody.Ruling(EventBody.Ruling.Effect.DENY, "rule", Optional.of("why"))),
        Optional.of(new EventBody.Result("OK", 3, Optional.of("42P01"), 7)), Optional.of("gw-1:x:1"), Map.of("a", "1"));
    AuditEvent sealed = AuditEvent.seal("gw-1:abc", 7, "f".repeat(64), body);
    AuditEvent back = CanonicalEncoding.decodeEvent("gw-1:abc", CanonicalEncoding.encodeEvent("gw-1:abc", 7, "f".repeat(64), body), null);
    assertThat(back).isEqualTo(sealed);
    assertThat(back.hashMatches()).isTrue();
    // A store's hash is taken as it is, not computed: a wrong one makes the event fail verification.
    AuditEvent withStoredHash = AuditStore.fromCanonicalBytes("gw-1:abc",
        CanonicalEncoding.encodeEvent("gw-1:abc", 7, "f".repeat(64), body), "e".repeat(64));
    assertThat(withStoredHash.hash()).isEqualTo("e".repeat(64));
    assertThat(withStoredHash.body()).isEqualTo(body);
    assertThat(withStoredHash.hashMatches()).isFalse();
    assertThatThrownBy(() -> CanonicalEncoding.decodeEvent("gw-1:abc", java.util.Arrays.copyOf(
        CanonicalEncoding.encodeEvent("gw-1:abc", 7, "f".repeat(64), body), 40), null))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void eventsOfAKilledProcessAreStoredAtTheNextStartAndTheNewChainNamesTheOldOne() throws Exception {
    Path live = tmp.resolve("live");
    Path crashed = tmp.resolve("crashed");
    CountingHold hold = new CountingHold();
    String oldChain;
    AuditHandle last;
    try (AuditLog log = AuditLog.start(store, config(live), signer, Clock.systemUTC())) {
      log.flush(); // the chain start is stored ...
      hold.hold(store); // ... nothing after it reaches the store
      log.sessionOpened(s.session);
      AuditHandle h = log.commandDecided(s.session, s.command("DELETE FROM t WHERE id = 1"), s.allow);
      log.commandCompleted(s.session, h, Outcome.ok(1, Duration.ofMillis(1)));
      last = log.commandDecided(s.session, s.command("SELECT 2"), s.deny);
      oldChain = log.chainId().orElseThrow();
      crashCopy(live.resolve("gw-1"), crashed);
      assertThat(store.find(last.eventId())).isEmpty();
      hold.release();
    }
    // A new process of the same node, on the crashed journal, with a store lacking the tail.
    store.tamper().deleteEventsFrom(oldChain, 2);
    store.tamper().deleteCheckpointsFrom(oldChain, 2);
    try (AuditLog log = AuditLog.start(store, config(crashed), signer, Clock.systemUTC())) {
      String newChain = log.chainId().orElseThrow();
      assertThat(newChain).isNotEqualTo(oldChain);
      assertThat(events(oldChain)).extracting(AuditEvent::type).containsExactly(EventType.CHAIN_STARTED,
          EventType.SESSION_OPENED, EventType.COMMAND_DECIDED, EventType.COMMAND_COMPLETED, EventType.COMMAND_DECIDED);
      assertThat(store.find(last.eventId())).isPresent();
      log.flush();
      assertThat(events(newChain).getFirst().body().attributes())
          .containsEntry(ChainAttributes.PREVIOUS_CHAIN, oldChain)
          .containsEntry(ChainAttributes.PREVIOUS_SEQ, "5");
    }
    assertThat(segments(crashed.resolve("gw-1"))).isEmpty();
    VerificationReport report = new AuditVerifier(store, List.of(signer.publicKey())).verify();
    // The recovered chain is anchored by the checkpoint recovery signed; it just never closed.
    ChainReport old = report.chains().stream().filter(c -> c.chainId().equals(oldChain)).findFirst().orElseThrow();
    assertThat(old.status()).as(old.describe()).isEqualTo(ChainReport.Status.INTACT);
  }

  /**
   * What a gateway killed after a session's opening and {@code statements} decisions ({@code SELECT
   * i AS marker}) leaves in {@code crashed}, while the store holds only its first two events.
   * Returns the chain's id.
   */
  private String crashedWith(Path crashed, int statements) throws Exception {
    String chain;
    CountingHold hold = new CountingHold();
    try (AuditLog log = AuditLog.start(store, config(tmp.resolve("live")), signer, Clock.systemUTC())) {
      log.flush();
      hold.hold(store);
      log.sessionOpened(s.session);
      for (int i = 0; i < statements; i++) log.commandDecided(s.session, s.command("SELECT " + i + " AS marker"), s.allow);
      chain = log.chainId().orElseThrow();
      crashCopy(tmp.resolve("live").resolve("gw-1"), crashed);
      hold.release();
    }
    store.tamper().deleteEventsFrom(chain, 2);
    return chain;
  }

  @Test
  void aTornLastRecordIsLeftOutAndTheJournalIsKeptAsDamaged() throws Exception {
    Path crashed = tmp.resolve("crashed");
    String chain = crashedWith(crashed, 1);
    Path segment = segments(crashed.resolve("gw-1")).getFirst();
    try (RandomAccessFile f = new RandomAccessFile(segment.toFile(), "rw")) {
      f.setLength(recordsEnd(segment) - 3); // the last record cut short, as by a crash of the machine
    }
    assertThat(AuditLog.recoverJournals(store, crashed, Clock.systemUTC())).isEqualTo(1);
    assertThat(events(chain)).extracting(AuditEvent::type).containsExactly(EventType.CHAIN_STARTED, EventType.SESSION_OPENED);
    assertThat(segments(crashed.resolve("gw-1"))).as("the command leaves it for the gateway to sign").containsExactly(segment);
    AuditLog.start(store, config(crashed), signer, Clock.systemUTC()).close();
    assertThat(segments(crashed.resolve("gw-1"))).isEmpty();
    assertThat(Files.exists(segment.resolveSibling(segment.getFileName() + ".damaged"))).isTrue();
    assertThat(store.checkpoints(chain)).extracting(SignedCheckpoint::seq).as("signed up to its last whole record").contains(2L);
  }

  @Test
  void aDamagedRecordInTheMiddleLosesOnlyItsOwnEventAndVerificationReportsTheGap() throws Exception {
    // Review round 44: one flipped bit in a record followed by whole ones dropped every event after
    // it (acknowledged statements among them), the chain was signed short, and verify said intact.
    Path crashed = tmp.resolve("crashed");
    String chain = crashedWith(crashed, 5);
    Path segment = segments(crashed.resolve("gw-1")).getFirst();
    byte[] bytes = Files.readAllBytes(segment);
    int at = indexOf(bytes, "SELECT 2 AS marker".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    assertThat(at).as("the third statement's record").isPositive();
    bytes[at] ^= 0x20; // one bit of the payload: the record fails its checksum, whole records follow
    Files.write(segment, bytes);

    AuditLog.start(store, config(crashed), signer, Clock.systemUTC()).close();
    assertThat(events(chain)).extracting(AuditEvent::seq).as("every whole record stored; seq 5 lost to the damage")
        .containsExactly(1L, 2L, 3L, 4L, 6L, 7L);
    assertThat(events(chain).stream().map(e -> new String(AuditStore.canonicalBytes(e), java.nio.charset.StandardCharsets.UTF_8))
        .collect(java.util.stream.Collectors.joining("\n")))
        .contains("SELECT 4 AS marker").doesNotContain("SELECT 2 AS marker");
    assertThat(Files.exists(segment.resolveSibling(segment.getFileName() + ".damaged"))).isTrue();
    ChainReport report = new AuditVerifier(store, List.of(signer.publicKey())).verify(chain);
    assertThat(report.status()).as(report.describe()).isNotEqualTo(ChainReport.Status.INTACT);
  }

  private static int indexOf(byte[] haystack, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= haystack.length; i++) {
      for (int j = 0; j < needle.length; j++) if (haystack[i + j] != needle[j]) continue outer;
      return i;
    }
    return -1;
  }

  @Test
  void aJournalThatCannotMakeItsNextSegmentIsReportedAndRecoversWithTheSizeThatWasDue() throws Exception {
    // Review round 44: while the journal's disk was full, /readyz said ok, and each failed attempt
    // doubled the next segment's size (to 64 MiB), so freeing the room that sufficed brought nothing back.
    Path journal = tmp.resolve("journal");
    try (AuditLog log = AuditLog.start(store, config(journal), signer, Clock.systemUTC())) {
      Path node = journal.resolve("gw-1");
      Path first = segments(node).getFirst();
      // The next names taken (directories): each attempt to make a segment fails, as on a full disk.
      assertThat(first.getFileName().toString()).endsWith(".000000" + AuditJournal.SUFFIX);
      for (int n = 1; n <= 5; n++) Files.createDirectory(first.resolveSibling(first.getFileName().toString()
          .replace(".000000" + AuditJournal.SUFFIX, String.format(".%06d", n) + AuditJournal.SUFFIX)));
      String filler = "x".repeat(400);
      int refused = 0;
      Optional<String> problem = Optional.empty();
      for (int i = 0; i < 20_000 && (refused == 0 || problem.isPresent()); i++) {
        try {
          log.commandDecided(s.session, s.command("SELECT '" + filler + "' AS n" + i), s.allow);
          if (refused > 0) problem = log.problem();
        } catch (AuditUnavailableException e) {
          refused++;
          problem = log.problem();
          assertThat(problem).as("readiness while the journal cannot be written")
              .hasValueSatisfying(p -> assertThat(p).startsWith("the audit journal cannot be written ("));
        }
      }
      assertThat(refused).as("statements refused while no segment could be made").isPositive();
      assertThat(problem).as("readiness once a segment was made").isEmpty();
      Path made = segments(node).getLast();
      assertThat(made.getFileName().toString()).endsWith(".000006" + AuditJournal.SUFFIX);
      assertThat(Files.size(made)).as("the size that was due, not doubled by each failed attempt")
          .isEqualTo(2L * AuditJournal.FIRST_SEGMENT_BYTES);
    }
  }

  @Test
  void onlyTheGatewaysUserCanReadTheJournal() throws Exception {
    Path journal = tmp.resolve("journal");
    try (AuditLog log = AuditLog.start(store, config(journal), signer, Clock.systemUTC())) {
      log.commandDecided(s.session, s.command("SELECT secret_plan FROM board"), s.allow);
      Path node = journal.resolve("gw-1");
      assertThat(java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(node))).isEqualTo("rwx------");
      for (Path f : segments(node)) {
        assertThat(java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(f))).isEqualTo("rw-------");
      }
      assertThat(segments(node)).isNotEmpty();
    }
  }

  @Test
  void withMachineDurabilityADurableCallReturnsOnlyOnceTheStoreCommittedIt() throws Exception {
    InMemoryAuditStore machine = new InMemoryAuditStore().withDurability(Durability.MACHINE);
    try (AuditLog log = AuditLog.start(machine, config(tmp.resolve("journal")).withDurableTimeout(Duration.ofSeconds(20)),
        signer, Clock.systemUTC())) {
      java.util.concurrent.CountDownLatch gate = machine.hold();
      java.util.concurrent.CompletableFuture<AuditHandle> call = java.util.concurrent.CompletableFuture.supplyAsync(
          () -> log.commandDecided(s.session, s.command("DELETE FROM t WHERE id = 1"), s.allow));
      assertThat(machine.entered().await(20, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
      Thread.sleep(100);
      assertThat(call).as("waits for the store's commit").isNotDone();
      gate.countDown();
      AuditHandle h = call.get(20, java.util.concurrent.TimeUnit.SECONDS);
      assertThat(machine.find(h.eventId())).isPresent();
      machine.failWith(new IllegalStateException("store unreachable"));
      assertThatThrownBy(() -> log.commandDecided(s.session, s.command("SELECT 1"), s.allow))
          .isInstanceOf(AuditUnavailableException.class).hasMessageContaining("store unreachable");
      machine.failWith(null);
    }
  }

  @Test
  void aSecondLogOfTheSameNodeCannotShareTheJournal() {
    Path journal = tmp.resolve("journal");
    try (AuditLog log = AuditLog.start(store, config(journal), signer, Clock.systemUTC())) {
      assertThatThrownBy(() -> AuditLog.start(store, config(journal), signer, Clock.systemUTC()))
          .isInstanceOf(AuditUnavailableException.class)
          .hasMessageContaining("in use");
      assertThat(log.available()).isTrue();
    }
  }

  @Test
  void recoveryWhileTheNodeRunsLeavesItsJournalAlone() throws Exception {
    Path journal = tmp.resolve("journal");
    try (AuditLog log = AuditLog.start(store, config(journal), signer, Clock.systemUTC())) {
      log.sessionOpened(s.session);
      assertThat(AuditLog.recoverJournals(store, journal, Clock.systemUTC())).isZero();
      assertThat(segments(journal.resolve("gw-1"))).isNotEmpty();
      log.flush();
    }
    VerificationReport report = new AuditVerifier(store, List.of(signer.publicKey())).verify();
    assertThat(report.intact()).as(report.chains().toString()).isTrue();
  }

  /** Where the last record of a (version 2) segment ends: its zero tail starts there. */
  private static long recordsEnd(Path segment) throws IOException {
    java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(Files.readAllBytes(segment));
    int at = (AuditJournal.MAGIC.length + 4 + b.getInt(AuditJournal.MAGIC.length) + 3) & ~3; // after the chain id
    int end = at;
    while (at + 8 <= b.limit() && b.getInt(at) != 0) {
      end = at + 8 + b.getInt(at);
      at = (end + 3) & ~3;
    }
    return end;
  }

  /** Holds the store's appends from some point on, and lets them go at the end of a test. */
  private static final class CountingHold {
    private java.util.concurrent.CountDownLatch gate;

    void hold(InMemoryAuditStore store) {
      gate = store.hold();
    }

    void release() {
      if (gate != null) gate.countDown();
    }
  }
}
