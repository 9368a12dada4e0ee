package dev.gatehouse.audit;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gatehouse.core.AuditHandle;
import dev.gatehouse.core.Outcome;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Outcome events, which nobody waits for, ride along with the next durable event's commit. */
class OutcomeBatchingTest {
  @TempDir Path tmp;

  private final InMemoryAuditStore store = new InMemoryAuditStore();
  private final AuditSigner signer = AuditSigner.generate();
  private final Samples s = new Samples("pg-prod");

  private AuditLog start(Duration outcomeDelay) {
    AuditConfig config = AuditConfig.defaults("gw-1", tmp.resolve("audit.key"))
        .withCheckpoints(1000, Duration.ofHours(1))
        .withOutcomeDelay(outcomeDelay);
    return AuditLog.start(store, config, signer, Clock.systemUTC());
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
  void anOutcomeSharesTheCommitOfTheNextStatementsDecision() throws Exception {
    try (AuditLog log = start(Duration.ofSeconds(10))) {
      await(() -> store.appends() == 1); // the chain start
      AuditHandle first = log.commandDecided(s.session, s.command("SELECT 1"), s.allow);
      int afterFirst = store.appends();
      log.commandCompleted(s.session, first, Outcome.ok(1, Duration.ofMillis(1)));
      AuditHandle second = log.commandDecided(s.session, s.command("SELECT 2"), s.allow);
      assertThat(store.appends()).as("the outcome and the next decision in one commit").isEqualTo(afterFirst + 1);
      String chainId = log.chainId().orElseThrow();
      assertThat(events(chainId)).extracting(AuditEvent::type).containsExactly(
          EventType.CHAIN_STARTED, EventType.COMMAND_DECIDED, EventType.COMMAND_COMPLETED, EventType.COMMAND_DECIDED);
      assertThat(events(chainId).get(2).body().ref()).contains(first.eventId());
      assertThat(events(chainId).get(3).id()).isEqualTo(second.eventId());
    }
  }

  @Test
  void anOutcomeWithNothingAfterItIsStoredOnceTheDelayHasPassed() throws Exception {
    try (AuditLog log = start(Duration.ofMillis(50))) {
      AuditHandle h = log.commandDecided(s.session, s.command("SELECT 1"), s.allow);
      log.commandCompleted(s.session, h, Outcome.error("42P01", Duration.ofMillis(2)));
      String chainId = log.chainId().orElseThrow();
      await(() -> events(chainId).stream().anyMatch(e -> e.type() == EventType.COMMAND_COMPLETED));
      assertThat(events(chainId).getLast().body().outcome().orElseThrow().errorCode()).contains("42P01");
    }
  }

  @Test
  void aHeldBackOutcomeIsWrittenBeforeTheChainClosesAtShutdown() {
    AuditLog log = start(Duration.ofSeconds(10));
    AuditHandle h = log.commandDecided(s.session, s.command("SELECT 1"), s.allow);
    log.commandCompleted(s.session, h, Outcome.ok(1, Duration.ofMillis(1)));
    String chainId = log.chainId().orElseThrow();
    log.close();
    assertThat(events(chainId)).extracting(AuditEvent::type).containsExactly(
        EventType.CHAIN_STARTED, EventType.COMMAND_DECIDED, EventType.COMMAND_COMPLETED, EventType.CHAIN_CLOSED);
    assertThat(log.lostEvents()).isZero();
  }
}
