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

  private static void await(BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) throw new AssertionError("condition not met within 20 s");
      Thread.sleep(5);
    }
  }

  @Test
  void aDurableCallReturnsOnlyOnceItsBatchIsCommitted() throws Exception {
    try (AuditLog log = start(config())) {
      await(() -> store.appends() == 1); // the chain start
      CountDownLatch gate = store.hold();
      CompletableFuture<AuditHandle> call = CompletableFuture.supplyAsync(
          () -> log.commandDecided(s.session, s.command("DELETE FROM customers"), s.deny));
      assertThat(store.entered().await(20, TimeUnit.SECONDS)).isTrue();
      assertThat(call).isNotDone();
      gate.countDown();
      AuditHandle handle = call.get(20, TimeUnit.SECONDS);
      assertThat(store.find(handle.eventId())).isPresent();
    }
  }

  @Test
  void manyThreadsAppendingDurablyProduceOneCompleteValidChain() throws Exception {
    int threads = 32;
    int each = 40;
    ConcurrentLinkedQueue<String> notYetStored = new ConcurrentLinkedQueue<>();
    ConcurrentLinkedQueue<String> ids = new ConcurrentLinkedQueue<>();
    String chainId;
    try (AuditLog log = start(config()); ExecutorService pool = Executors.newFixedThreadPool(threads)) {
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int thread = t;
        done.add(pool.submit(() -> {
          for (int i = 0; i < each; i++) {
            AuditHandle h = log.commandDecided(s.session, s.command("SELECT " + thread + "," + i), s.allow);
            // Read back from the waiting thread itself: the event must already be in the store.
            if (store.find(h.eventId()).isEmpty()) notYetStored.add(h.eventId());
            ids.add(h.eventId());
            log.commandCompleted(s.session, h, Outcome.ok(1, Duration.ofMillis(1)));
          }
        }));
      }
      for (Future<?> f : done) f.get(60, TimeUnit.SECONDS);
      chainId = log.chainId().orElseThrow();
    }
    assertThat(notYetStored).isEmpty();
    assertThat(ids).doesNotHaveDuplicates().hasSize(threads * each);
    List<AuditEvent> events = events(chainId);
    // start + decided + completed per call + close
    assertThat(events).hasSize(2 + 2 * threads * each);
    assertThat(events.stream().filter(e -> e.type() == EventType.COMMAND_DECIDED).map(AuditEvent::id).toList())
        .containsExactlyInAnyOrderElementsOf(ids);
    assertThat(store.appends()).as("group commit: fewer transactions than events").isLessThan(events.size());
    ChainReport r = verify().chains().getFirst();
    assertThat(r.status()).as(r.describe()).isEqualTo(ChainReport.Status.INTACT);
  }

  @Test
  void anOutcomeIsStoredAfterTheDecisionAndBeforeTheNextDurableEventReturns() {
    String chainId;
    try (AuditLog log = start(config())) {
      AuditHandle h = log.commandDecided(s.session, s.command("SELECT 1"), s.allow);
      log.commandCompleted(s.session, h, Outcome.error("42P01", Duration.ofMillis(2)));
      log.sessionClosed(s.session, "bye");
      chainId = log.chainId().orElseThrow();
      assertThat(events(chainId)).extracting(AuditEvent::type).containsExactly(
          EventType.CHAIN_STARTED, EventType.COMMAND_DECIDED, EventType.COMMAND_COMPLETED, EventType.SESSION_CLOSED);
      AuditEvent completed = events(chainId).get(2);
      assertThat(completed.body().ref()).contains(h.eventId());
      assertThat(completed.body().outcome().orElseThrow().errorCode()).contains("42P01");
    }
  }

  @Test
  void aFailingStoreMakesDurableCallsThrowAuditUnavailable() {
    try (AuditLog log = start(config())) {
      log.sessionOpened(s.session);
      store.failWith(new IllegalStateException("disk full"));
      assertThatThrownBy(() -> log.commandDecided(s.session, s.command("DROP TABLE customers"), s.allow))
          .isInstanceOf(AuditUnavailableException.class)
          .hasMessageContaining("disk full");
      assertThat(log.available()).isFalse();
    }
  }

  @Test
  void afterAStoreFailureANewChainStartsAndVouchesForTheAbandonedOne() {
    String first;
    String second;
    try (AuditLog log = start(config())) {
      log.sessionOpened(s.session);
      log.commandDecided(s.session, s.command("SELECT 1"), s.allow);
      first = log.chainId().orElseThrow();
      store.failWith(new IllegalStateException("connection reset"));
      assertThatThrownBy(() -> log.commandDecided(s.session, s.command("SELECT 2"), s.allow))
          .isInstanceOf(AuditUnavailableException.class);
      store.failWith(null);
      log.commandDecided(s.session, s.command("SELECT 3"), s.allow);
      second = log.chainId().orElseThrow();
      assertThat(log.available()).isTrue();
    }
    assertThat(second).isNotEqualTo(first).startsWith("gw-1:");
    AuditEvent start = events(second).getFirst();
    assertThat(start.body().attributes()).containsEntry("previous_chain", first).containsEntry("previous_seq", "3");
    VerificationReport report = verify();
    assertThat(report.intact()).as(report.chains().toString()).isTrue();
    assertThat(report.chains()).extracting(ChainReport::chainId).containsExactlyInAnyOrder(first, second);

    // The abandoned chain's acknowledged tail is not covered by a checkpoint, but the new chain vouches for it.
    store.tamper().deleteEventsFrom(first, 3);
    ChainReport truncated = verify().chains().stream().filter(c -> c.chainId().equals(first)).findFirst().orElseThrow();
    assertThat(truncated.firstBreak()).get().extracting(ChainReport.Break::kind).isEqualTo(ChainReport.Kind.TRUNCATED);
  }

  @Test
  void aFullQueueRefusesDurableCallsInsteadOfBuffering() throws Exception {
    AuditConfig config = config().withQueue(4, 1).withDurableTimeout(Duration.ofSeconds(60));
    CountDownLatch gate = store.hold(); // the writer blocks on the chain start
    try (AuditLog log = start(config); ExecutorService pool = Executors.newFixedThreadPool(4)) {
      assertThat(store.entered().await(20, TimeUnit.SECONDS)).isTrue();
      List<Future<AuditHandle>> waiting = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        String sql = "SELECT " + i;
        waiting.add(pool.submit(() -> log.commandDecided(s.session, s.command(sql), s.allow)));
      }
      await(() -> log.queued() == 4);
      assertThatThrownBy(() -> log.commandDecided(s.session, s.command("SELECT 'one too many'"), s.allow))
          .isInstanceOf(AuditUnavailableException.class)
          .hasMessageContaining("queue is full");
      gate.countDown();
      for (Future<AuditHandle> f : waiting) assertThat(store.find(f.get(20, TimeUnit.SECONDS).eventId())).isPresent();
    }
  }

  @Test
  void aCallerThatTimedOutBeforeItsEventWasWrittenIsNotRecordedAsDecided() throws Exception {
    AuditConfig config = config().withDurableTimeout(Duration.ofMillis(200));
    CountDownLatch gate = store.hold();
    String chainId;
    try (AuditLog log = start(config)) {
      assertThat(store.entered().await(20, TimeUnit.SECONDS)).isTrue();
      assertThatThrownBy(() -> log.commandDecided(s.session, s.command("DROP TABLE customers"), s.allow))
          .isInstanceOf(AuditUnavailableException.class)
          .hasMessageContaining("did not commit");
      gate.countDown();
      log.sessionClosed(s.session, "bye");
      chainId = log.chainId().orElseThrow();
    }
    assertThat(events(chainId)).extracting(AuditEvent::type)
        .containsExactly(EventType.CHAIN_STARTED, EventType.SESSION_CLOSED, EventType.CHAIN_CLOSED);
  }

  @Test
  void anOutcomeThatCannotBeQueuedIsCountedAndRecordedAsLost() throws Exception {
    AuditConfig config = config().withQueue(1, 1).withDurableTimeout(Duration.ofMillis(300));
    CountDownLatch gate = store.hold();
    String chainId;
    try (AuditLog log = start(config)) {
      assertThat(store.entered().await(20, TimeUnit.SECONDS)).isTrue();
      log.commandCompleted(s.session, new AuditHandle("gw-1:x:1"), Outcome.ok(1, Duration.ZERO)); // fills the queue
      log.commandCompleted(s.session, new AuditHandle("gw-1:x:2"), Outcome.ok(1, Duration.ZERO)); // no room
      assertThat(log.lostEvents()).isEqualTo(1);
      gate.countDown();
      await(() -> log.queued() == 0); // a queue of one: let the writer take the outcome first
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
      await(() -> store.checkpoints(chainId).getLast().seq() == 2);
    }
  }

  @Test
  void aCheckpointIsWrittenAfterTheConfiguredNumberOfEvents() {
    AuditConfig config = config().withCheckpoints(5, Duration.ofHours(1));
    try (AuditLog log = start(config)) {
      for (int i = 0; i < 12; i++) log.commandDecided(s.session, s.command("SELECT " + i), s.allow);
      String chainId = log.chainId().orElseThrow();
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
  void nulAndUnpairedSurrogatesAreRecordedAsReplacementCharacters() {
    try (AuditLog log = start(config())) {
      AuditHandle h = log.commandDecided(s.session, s.command("SELECT 'a\u0000b\uD800c'"), s.allow);
      assertThat(store.find(h.eventId()).orElseThrow().body().command().orElseThrow().text())
          .isEqualTo("SELECT 'a\uFFFDb\uFFFDc'");
    }
  }
}
