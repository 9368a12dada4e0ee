package dev.gatehouse.audit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.gatehouse.core.AuditHandle;
import dev.gatehouse.core.AuditUnavailableException;
import dev.gatehouse.core.Outcome;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AuditLogTest {
  @TempDir Path tmp;

  private final InMemoryAuditStore store = new InMemoryAuditStore();
  private final AuditSigner signer = AuditSigner.generate();
  private final Samples s = new Samples("pg-prod");

  private AuditConfig config() {
    return AuditConfig.defaults("gw-1", tmp.resolve("audit.key")).withCheckpoints(16, Duration.ofHours(1));
  }

  private AuditLog start(AuditConfig config) {
    return AuditLog.start(store, config, signer, Clock.systemUTC());
  }

  private VerificationReport verify() {
    return new AuditVerifier(store, List.of(signer.publicKey())).verify();
  }

  private List<AuditEvent> events(String chainId) {
    try (Stream<AuditEvent> e = store.events(chainId)) {
      return e.toList();
    }
  }

  private List<AuditEvent> journaled(String node) throws java.io.IOException {
    return AuditJournal.read(tmp.resolve("audit-journal").resolve(node)).stream()
        .flatMap(r -> r.events().stream()).toList();
  }

  private List<Path> journalFiles(String node) throws java.io.IOException {
    try (Stream<Path> files = java.nio.file.Files.list(tmp.resolve("audit-journal").resolve(node))) {
      return files.filter(f -> f.getFileName().toString().endsWith(AuditJournal.SUFFIX)).toList();
    }
  }

  private static void await(BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) throw new AssertionError("condition not met within 20 s");
      Thread.sleep(5);
    }
  }

  @Test
  void verifyReportsANodesChainsInTheOrderTheyStartedNotByTheirRandomIds() throws Exception {
    List<String> started = new ArrayList<>();
    // Chain ids end in random hex: start chains until two of them sort against their order.
    for (int i = 0; i < 12 && started.stream().sorted().toList().equals(started); i++) {
      try (AuditLog log = start(config())) {
        started.add(log.chainId().orElseThrow());
      }
      Thread.sleep(2);
    }
    assertThat(started.stream().sorted().toList()).as("ids out of start order").isNotEqualTo(started);
    VerificationReport report = verify();
    assertThat(report.intact()).as(report.chains().toString()).isTrue();
    assertThat(report.chains()).extracting(ChainReport::chainId).containsExactlyElementsOf(started);
  }

  @Test
  void aDurableCallReturnsOnceTheJournalHoldsItEvenWhileTheStoreIsHeld() throws Exception {
    try (AuditLog log = start(config())) {
      CountDownLatch gate = store.hold();
      AuditHandle handle = log.commandDecided(s.session, s.command("DELETE FROM customers"), s.deny);
      // Not in the store yet (the indexer is held), but in the journal, which survives kill -9.
      assertThat(store.find(handle.eventId())).isEmpty();
      List<AuditEvent> journaled = journaled("gw-1");
      assertThat(journaled).extracting(AuditEvent::id).contains(handle.eventId());
      assertThat(journaled.getLast().body().command().orElseThrow().text()).isEqualTo("DELETE FROM customers");
      gate.countDown();
      log.flush();
      assertThat(store.find(handle.eventId())).isPresent();
    }
    assertThat(journalFiles("gw-1")).as("a clean shutdown leaves no journal behind").isEmpty();
  }

  @Test
  void manyThreadsAppendingDurablyProduceOneCompleteValidChain() throws Exception {
    int threads = 32;
    int each = 40;
    ConcurrentLinkedQueue<String> ids = new ConcurrentLinkedQueue<>();
    String chainId;
    try (AuditLog log = start(config()); ExecutorService pool = Executors.newFixedThreadPool(threads)) {
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int thread = t;
        done.add(pool.submit(() -> {
          for (int i = 0; i < each; i++) {
            AuditHandle h = log.commandDecided(s.session, s.command("SELECT " + thread + "," + i), s.allow);
            ids.add(h.eventId());
            log.commandCompleted(s.session, h, Outcome.ok(1, Duration.ofMillis(1)));
          }
        }));
      }
      for (Future<?> f : done) f.get(60, TimeUnit.SECONDS);
      chainId = log.chainId().orElseThrow();
    }
    assertThat(ids).doesNotHaveDuplicates().hasSize(threads * each);
    List<AuditEvent> events = events(chainId);
    // start + decided + completed per call + close
    assertThat(events).hasSize(2 + 2 * threads * each);
    assertThat(events.stream().filter(e -> e.type() == EventType.COMMAND_DECIDED).map(AuditEvent::id).toList())
        .containsExactlyInAnyOrderElementsOf(ids);
    assertThat(store.appends()).as("batches: fewer transactions than events").isLessThan(events.size() / 4);
    ChainReport r = verify().chains().getFirst();
    assertThat(r.status()).as(r.describe()).isEqualTo(ChainReport.Status.INTACT);
  }

  @Test
  void aStatementOfMegabytesIsKeptAsItsBeginningItsLengthAndItsHash() throws Exception {
    String huge = "SELECT 1 -- " + "x".repeat(3 * 1024 * 1024) + " tail";
    try (AuditLog log = start(config())) {
      AuditHandle h = log.commandDecided(s.session, s.command(huge), s.deny);
      log.flush();
      String kept = store.find(h.eventId()).orElseThrow().body().command().orElseThrow().text();
      String hash = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
          .digest(huge.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
      assertThat(kept).startsWith("SELECT 1 -- xxx").doesNotContain(" tail").hasSizeLessThan(AuditLog.MAX_TEXT + 200)
          .contains("of " + huge.length() + " characters").contains(hash);
    }
    assertThat(AuditLog.clip("SELECT 1")).isEqualTo("SELECT 1");
    // A cut never splits a surrogate pair.
    String emoji = "a".repeat(AuditLog.MAX_TEXT - 1) + "😀" + "b";
    assertThat(AuditLog.clip(emoji)).startsWith("a".repeat(AuditLog.MAX_TEXT - 1) + "…");
  }

  @Test
  void anOutcomeIsStoredAfterTheDecision() {
    try (AuditLog log = start(config())) {
      AuditHandle h = log.commandDecided(s.session, s.command("SELECT 1"), s.allow);
      log.commandCompleted(s.session, h, Outcome.error("42P01", Duration.ofMillis(2)));
      log.sessionClosed(s.session, "bye");
      String chainId = log.chainId().orElseThrow();
      log.flush();
      assertThat(events(chainId)).extracting(AuditEvent::type).containsExactly(
          EventType.CHAIN_STARTED, EventType.COMMAND_DECIDED, EventType.COMMAND_COMPLETED, EventType.SESSION_CLOSED);
      AuditEvent completed = events(chainId).get(2);
      assertThat(completed.body().ref()).contains(h.eventId());
      assertThat(completed.body().outcome().orElseThrow().errorCode()).contains("42P01");
    }
  }

  @Test
  void aFailingStoreMakesDurableCallsThrowAuditUnavailable() throws Exception {
    try (AuditLog log = start(config())) {
      log.sessionOpened(s.session);
      log.flush();
      store.failWith(new IllegalStateException("disk full"));
      log.commandDecided(s.session, s.command("SELECT 1"), s.allow); // journaled; the store fails behind it
      assertThatThrownBy(log::flush).isInstanceOf(AuditUnavailableException.class).hasMessageContaining("disk full");
      assertThatThrownBy(() -> log.commandDecided(s.session, s.command("DROP TABLE customers"), s.allow))
          .isInstanceOf(AuditUnavailableException.class)
          .hasMessageContaining("disk full");
      assertThat(log.available()).isFalse();
      store.failWith(null);
    }
  }

  @Test
  void whileTheStoreFailsRefusalsAndClosesAreJournaledAndStoredOnceItIsBack() throws Exception {
    // Review round 44: during a store outage a refused connection, a refused statement and a
    // session's close left no event, and no count of lost events either.
    String chainId;
    try (AuditLog log = start(config())) {
      chainId = log.chainId().orElseThrow();
      log.sessionOpened(s.session);
      log.flush();
      store.failWith(new IllegalStateException("disk full"));
      log.commandDecided(s.session, s.command("SELECT 1"), s.allow); // journaled; the store fails behind it
      assertThatThrownBy(log::flush).isInstanceOf(AuditUnavailableException.class);
      assertThatThrownBy(() -> log.commandDecided(s.session, s.command("SELECT 2"), s.allow))
          .as("what would run still needs the store").isInstanceOf(AuditUnavailableException.class);
      AuditHandle refused = log.commandDecided(s.session, s.command("DROP TABLE customers"), s.deny);
      assertThat(refused).isNotEqualTo(AuditHandle.UNAUDITED);
      log.admissionRefused(Optional.empty(), "pg-prod", s.session.client(), "default-deny", "no rule admits mallory");
      log.sessionClosed(s.session, "client closed the connection");
      store.failWith(null);
      await(log::available); // the indexer retried, with back-off
      log.flush();
    }
    assertThat(events(chainId)).extracting(AuditEvent::type).containsSubsequence(
        EventType.COMMAND_DECIDED, EventType.COMMAND_DECIDED, EventType.ADMISSION_REFUSED, EventType.SESSION_CLOSED);
    assertThat(events(chainId).stream().filter(e -> e.type() == EventType.COMMAND_DECIDED).count())
        .as("SELECT 1 and the DROP, not the SELECT 2 refused for want of a store").isEqualTo(2);
    VerificationReport report = verify();
    assertThat(report.intact()).as(report.chains().toString()).isTrue();
  }

  @Test
  void theIndexerOutlivesAnOutOfMemoryErrorAndStoresWhatWaited() throws Exception {
    // Red-team round 10: a session ran the heap out, the indexer thread died with it, the store
    // stopped growing and every login was refused until a restart.
    try (AuditLog log = start(config())) {
      log.sessionOpened(s.session);
      log.flush();
      store.errorOnce(new OutOfMemoryError("Java heap space (simulated)"));
      AuditHandle during = log.commandDecided(s.session, s.command("SELECT 1"), s.allow);
      await(() -> store.find(during.eventId()).isPresent());
      AuditHandle after = log.commandDecided(s.session, s.command("SELECT 2"), s.allow);
      log.flush();
      assertThat(store.find(after.eventId())).isPresent();
      assertThat(log.available()).isTrue();
    }
    VerificationReport report = verify();
    assertThat(report.intact()).as(report.chains().toString()).isTrue();
  }

  @Test
  void aStoreThatHangsWithoutFailingMakesTheLogUnhealthyUntilItMovesAgain() throws Exception {
    // A store that neither answers nor fails (a PostgreSQL store behind a dead network, a SQLite
    // file locked by another process) left /readyz at 200 while the backlog grew towards refusals.
    try (AuditLog log = start(config().withDurableTimeout(Duration.ofMillis(300)))) {
      log.sessionOpened(s.session);
      log.flush();
      assertThat(log.problem()).isEmpty();
      CountDownLatch gate = store.hold();
      AuditHandle held = log.commandDecided(s.session, s.command("SELECT 1"), s.allow);
      assertThat(store.entered().await(20, TimeUnit.SECONDS)).isTrue();
      await(() -> log.problem().isPresent());
      assertThat(log.problem().orElseThrow()).contains("has taken no events").contains("wait in the journal");
      assertThat(log.available()).isTrue(); // statements still run: only readiness says so
      gate.countDown();
      log.flush();
      assertThat(store.find(held.eventId())).isPresent();
      await(() -> log.problem().isEmpty());
    }
  }

  @Test
  void aFailingStoreIsNamedAsTheProblem() throws Exception {
    try (AuditLog log = start(config())) {
      log.sessionOpened(s.session);
      log.flush(); // stored before the store fails, or its failure could refuse the next command
      store.failWith(new IllegalStateException("connection reset"));
      log.commandDecided(s.session, s.command("SELECT 1"), s.allow);
      await(() -> log.problem().isPresent());
      assertThat(log.problem().orElseThrow()).contains("audit store is not accepting events");
      store.failWith(null);
      await(() -> log.problem().isEmpty());
    }
  }

  @Test
  void afterAStoreFailureTheSameChainContinuesWithoutAGap() throws Exception {
    String chainId;
    try (AuditLog log = start(config())) {
      log.sessionOpened(s.session);
      chainId = log.chainId().orElseThrow();
      log.flush();
      store.failWith(new IllegalStateException("connection reset"));
      AuditHandle during = log.commandDecided(s.session, s.command("SELECT 1"), s.allow);
      await(() -> !log.available());
      assertThatThrownBy(() -> log.commandDecided(s.session, s.command("SELECT 2"), s.allow))
          .isInstanceOf(AuditUnavailableException.class);
      store.failWith(null);
      await(log::available);
      AuditHandle after = log.commandDecided(s.session, s.command("SELECT 3"), s.allow);
      log.flush();
      assertThat(store.find(during.eventId())).isPresent();
      assertThat(store.find(after.eventId())).isPresent();
      assertThat(log.chainId()).contains(chainId);
    }
    assertThat(store.chainIds()).containsExactly(chainId);
    assertThat(events(chainId)).extracting(AuditEvent::type).containsExactly(EventType.CHAIN_STARTED,
        EventType.SESSION_OPENED, EventType.COMMAND_DECIDED, EventType.COMMAND_DECIDED, EventType.CHAIN_CLOSED);
    VerificationReport report = verify();
    assertThat(report.intact()).as(report.chains().toString()).isTrue();
  }

  @Test
  void aFullBacklogMakesCallersWaitAndThenRefusesInsteadOfBuffering() throws Exception {
    AuditConfig config = config().withQueue(4, 1).withDurableTimeout(Duration.ofMillis(300));
    CountDownLatch gate = store.hold(); // the indexer blocks on the chain start
    try (AuditLog log = start(config)) {
      assertThat(store.entered().await(20, TimeUnit.SECONDS)).isTrue();
      List<AuditHandle> accepted = new ArrayList<>();
      for (int i = 0; i < 3; i++) accepted.add(log.commandDecided(s.session, s.command("SELECT " + i), s.allow));
      assertThat(log.unindexed()).isEqualTo(4);
      assertThatThrownBy(() -> log.commandDecided(s.session, s.command("SELECT 'one too many'"), s.allow))
          .isInstanceOf(AuditUnavailableException.class)
          .hasMessageContaining("queue is full");
      // A caller that finds the backlog full waits for room instead of being refused at once.
      CompletableFuture<AuditHandle> waiting = CompletableFuture.supplyAsync(
          () -> log.commandDecided(s.session, s.command("SELECT 'waits'"), s.allow));
      Thread.sleep(100);
      assertThat(waiting).as("waits for room rather than being refused").isNotDone();
      gate.countDown();
      accepted.add(waiting.get(20, TimeUnit.SECONDS));
      log.flush();
      for (AuditHandle h : accepted) assertThat(store.find(h.eventId())).isPresent();
    }
  }

  @Test
  void anOutcomeThatCannotBeQueuedIsCountedAndRecordedAsLost() throws Exception {
    AuditConfig config = config().withQueue(2, 1).withDurableTimeout(Duration.ofMillis(300));
    CountDownLatch gate = store.hold();
    String chainId;
    try (AuditLog log = start(config)) {
      assertThat(store.entered().await(20, TimeUnit.SECONDS)).isTrue();
      log.commandCompleted(s.session, new AuditHandle("gw-1:x:1"), Outcome.ok(1, Duration.ZERO)); // fills the backlog
      log.commandCompleted(s.session, new AuditHandle("gw-1:x:2"), Outcome.ok(1, Duration.ZERO)); // no room
      assertThat(log.lostEvents()).isEqualTo(1);
      gate.countDown();
      await(() -> log.unindexed() == 0);
      log.sessionClosed(s.session, "bye");
      chainId = log.chainId().orElseThrow();
    }
    List<AuditEvent> events = events(chainId);
    AuditEvent lost = events.stream().filter(e -> e.type() == EventType.EVENTS_LOST).findFirst().orElseThrow();
    assertThat(lost.body().attributes()).containsEntry("count", "1");
    assertThat(events).filteredOn(e -> e.type() == EventType.COMMAND_COMPLETED).hasSize(1);
  }

  @Test
  void cleanShutdownClosesTheChainUnderASignedCheckpointAndRefusesLaterEvents() {
    AuditLog log = start(config());
    log.sessionOpened(s.session);
    String chainId = log.chainId().orElseThrow();
    log.close();
    List<AuditEvent> events = events(chainId);
    assertThat(events.getLast().type()).isEqualTo(EventType.CHAIN_CLOSED);
    assertThat(store.checkpoints(chainId).getLast().seq()).isEqualTo(events.getLast().seq());
    assertThat(verify().chains().getFirst().status()).isEqualTo(ChainReport.Status.INTACT);
    assertThatThrownBy(() -> log.sessionOpened(s.session))
        .isInstanceOf(AuditUnavailableException.class)
        .hasMessageContaining("shut down");
  }

  @Test
  void aCheckpointIsWrittenWhenTheIntervalPassesWithoutFurtherEvents() throws Exception {
    AuditConfig config = config().withCheckpoints(1000, Duration.ofMillis(50));
    try (AuditLog log = start(config)) {
      log.sessionOpened(s.session);
      String chainId = log.chainId().orElseThrow();
      await(() -> !store.checkpoints(chainId).isEmpty() && store.checkpoints(chainId).getLast().seq() == 2);
    }
  }

  @Test
  void aCheckpointIsWrittenAfterTheConfiguredNumberOfEvents() {
    // Batches of one event, so checkpoints fall exactly every fifth event.
    AuditConfig config = config().withCheckpoints(5, Duration.ofHours(1)).withQueue(1000, 1);
    try (AuditLog log = start(config)) {
      for (int i = 0; i < 12; i++) log.commandDecided(s.session, s.command("SELECT " + i), s.allow);
      String chainId = log.chainId().orElseThrow();
      log.flush();
      // seq 1 is the start (checkpointed); then one checkpoint per 5 events.
      assertThat(store.checkpoints(chainId)).extracting(SignedCheckpoint::seq).containsExactly(1L, 6L, 11L);
      ChainReport r = verify().chains().getFirst();
      assertThat(r.status()).isEqualTo(ChainReport.Status.UNANCHORED_TAIL);
      assertThat(r.lastSeq() - r.anchoredSeq()).isLessThan(5);
    }
  }

  @Test
  void eachNodeWritesItsOwnChain() {
    try (AuditLog a = start(config());
        AuditLog b = AuditLog.start(store, AuditConfig.defaults("gw-2", tmp.resolve("k2")), signer, Clock.systemUTC())) {
      a.sessionOpened(s.session);
      b.sessionOpened(s.session);
      assertThat(a.chainId().orElseThrow()).startsWith("gw-1:");
      assertThat(b.chainId().orElseThrow()).startsWith("gw-2:");
    }
    assertThat(verify().chains()).hasSize(2).allMatch(c -> c.status() == ChainReport.Status.INTACT);
  }

  @Test
  void queriesOfOneShapeSharingAClassificationEachRecordTheirOwnText() {
    // The classifier's templates give every simple query of one shape the same classification
    // instance; the log reuses the cleaned lists of the session's last record, never its text.
    dev.gatehouse.core.Command first = s.command("SELECT * FROM customers WHERE id = 1");
    dev.gatehouse.core.Command second = new dev.gatehouse.core.Command("sql", "SELECT * FROM customers WHERE id = 2\u0000",
        first.classification(), first.details());
    dev.gatehouse.core.Command other = new dev.gatehouse.core.Command("sql", "DELETE FROM orders",
        new dev.gatehouse.core.Classification(List.of("DELETE"), java.util.Set.of("public.orders"), java.util.Set.of(),
            java.util.Set.of(dev.gatehouse.core.CommandFlag.DATA_MODIFYING)), first.details());
    try (AuditLog log = start(config())) {
      log.sessionOpened(s.session); // an open session's parts keep its last record
      AuditHandle a = log.commandDecided(s.session, first, s.allow);
      AuditHandle b = log.commandDecided(s.session, second, s.allow);
      AuditHandle c = log.commandDecided(s.session, other, s.allow);
      AuditHandle d = log.commandDecided(s.session, first, s.allow);
      log.flush();
      assertThat(store.find(a.eventId()).orElseThrow().body().command().orElseThrow().text())
          .isEqualTo("SELECT * FROM customers WHERE id = 1");
      EventBody.CommandRecord recordB = store.find(b.eventId()).orElseThrow().body().command().orElseThrow();
      assertThat(recordB.text()).isEqualTo("SELECT * FROM customers WHERE id = 2\uFFFD");
      assertThat(recordB.objects()).containsExactly("public.customers");
      assertThat(recordB.details()).containsEntry("statement", "s1");
      EventBody.CommandRecord recordC = store.find(c.eventId()).orElseThrow().body().command().orElseThrow();
      assertThat(recordC.kinds()).containsExactly("DELETE");
      assertThat(recordC.objects()).containsExactly("public.orders");
      assertThat(recordC.flags()).containsExactly("DATA_MODIFYING");
      assertThat(store.find(d.eventId()).orElseThrow().body().command().orElseThrow().text())
          .isEqualTo("SELECT * FROM customers WHERE id = 1");
      assertThat(verify().chains().getFirst().firstBreak()).isEmpty();
    }
  }

  @Test
  void nulAndUnpairedSurrogatesAreRecordedAsReplacementCharacters() {
    try (AuditLog log = start(config())) {
      AuditHandle h = log.commandDecided(s.session, s.command("SELECT 'a\u0000b\uD800c'"), s.allow);
      log.flush();
      assertThat(store.find(h.eventId()).orElseThrow().body().command().orElseThrow().text())
          .isEqualTo("SELECT 'a\uFFFDb\uFFFDc'");
    }
  }

  @Test
  void cleaningReplacesNulsAndUnpairedSurrogatesOnlyAndKeepsCleanStringsAsTheyAre() {
    String plain = "SELECT abalance FROM pgbench_accounts WHERE aid = 42";
    assertThat(AuditLog.clean(plain)).isSameAs(plain);
    String pair = "SELECT '\uD83D\uDE00' -- \u00e9\u4e2d";
    assertThat(AuditLog.clean(pair)).isEqualTo(pair);
    assertThat(AuditLog.clean("\u0000a")).isEqualTo("\uFFFDa");
    assertThat(AuditLog.clean("a\uDE00b")).isEqualTo("a\uFFFDb");
    assertThat(AuditLog.clean("ab\uD83D")).isEqualTo("ab\uFFFD");
    assertThat(AuditLog.clean("\uD83D\uDE00\u0000\uD83D\uDE00\uDE00")).isEqualTo("\uD83D\uDE00\uFFFD\uD83D\uDE00\uFFFD");
    assertThat(AuditLog.clean("")).isEmpty();
  }
}
