package dev.gatehouse.audit;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gatehouse.core.AuditHandle;
import dev.gatehouse.core.ClientInfo;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What every {@link AuditStore} must let the verifier catch, and must store faithfully. Each store
 * runs it with its own {@link StoreTamper} (SQL for the JDBC stores). Tests use fresh chain ids, so a
 * store may be shared between tests.
 */
public abstract class AuditTamperContract {
  protected final AuditSigner signer = AuditSigner.generate();

  @TempDir
  protected java.nio.file.Path tmp;

  protected abstract AuditStore store();

  protected abstract StoreTamper tamper();

  protected static String newChainId(String node) {
    byte[] b = new byte[8];
    new SecureRandom().nextBytes(b);
    return node + ":" + HexFormat.of().formatHex(b);
  }

  /** Checkpoints at 1, 8, 15 and (closed) 19. */
  private ChainBuilder closedChain() {
    return new ChainBuilder(store(), signer, newChainId("gw-1"), 8)
        .commands(7).checkpoint()
        .commands(7).checkpoint()
        .commands(3).close();
  }

  /** Checkpoints at 1 and 8; events 9..11 after the last one, as a killed writer leaves them. */
  private ChainBuilder crashedChain() {
    return new ChainBuilder(store(), signer, newChainId("gw-1"), 8)
        .commands(7).checkpoint()
        .commands(3).flush();
  }

  protected ChainReport verify(String chainId) {
    VerificationReport report = new AuditVerifier(store(), List.of(signer.publicKey())).verify();
    return report.chains().stream().filter(c -> c.chainId().equals(chainId)).findFirst().orElseThrow();
  }

  private static ChainReport.Break breakOf(ChainReport r) {
    assertThat(r.status()).as(r.describe()).isEqualTo(ChainReport.Status.BROKEN);
    return r.firstBreak().orElseThrow();
  }

  /** Replaces event {@code from}'s text and rehashes it and every later event, as an attacker without the key can. */
  private void editAndRecompute(ChainBuilder chain, long from) {
    List<AuditEvent> events = chain.written();
    String prev = events.get((int) from - 2).hash();
    for (AuditEvent e : events.subList((int) from - 1, events.size())) {
      EventBody body = e.seq() == from ? ChainBuilder.command("DROP TABLE customers", e.body().time()) : e.body();
      AuditEvent forged = AuditEvent.seal(e.chainId(), e.seq(), prev, body);
      tamper().replaceEvent(forged);
      prev = forged.hash();
    }
  }

  @Test
  void aCleanlyClosedChainVerifiesIntact() {
    ChainBuilder chain = closedChain();
    ChainReport r = verify(chain.chainId());
    assertThat(r.status()).as(r.describe()).isEqualTo(ChainReport.Status.INTACT);
    assertThat(r.closed()).isTrue();
    assertThat(r.lastSeq()).isEqualTo(19);
    assertThat(r.anchoredSeq()).isEqualTo(19);
  }

  @Test
  void eventsReadBackAreEqualToThoseWritten() {
    Instant t = Instant.parse("2025-03-01T10:00:00.000001Z");
    ChainBuilder chain = new ChainBuilder(store(), signer, newChainId("gw-1"), 8)
        .add(ChainBuilder.command("SELECT 'a\nb', \"q\", '\u202Eevil', '\uD83D\uDE00', '', e'\\\\x1b[2J'", t))
        .add(ChainBuilder.outcome("gw-1:00:2", t.plusNanos(1000)))
        .add(new EventBody(EventType.SESSION_CLOSED, t, Optional.of(""), Optional.of(new EventBody.Actor("s", "", "", "MACHINE",
            List.of())), Optional.empty(), Optional.of(new ClientInfo("", "", "")), Optional.empty(), Optional.empty(),
            Optional.empty(), Optional.empty(), Map.of("reason", "", "k\nx", "v=1;w")))
        .close();
    try (Stream<AuditEvent> read = store().events(chain.chainId())) {
      assertThat(read.toList()).containsExactlyElementsOf(chain.written());
    }
    assertThat(store().find(chain.written().get(1).id())).contains(chain.written().get(1));
    assertThat(verify(chain.chainId()).status()).isEqualTo(ChainReport.Status.INTACT);
  }

  @Test
  void anEditedRowIsReportedAsEditedAtItsSeq() {
    ChainBuilder chain = closedChain();
    tamper().setCommandText(chain.chainId(), 5, "SELECT 'nothing to see here'");
    ChainReport.Break b = breakOf(verify(chain.chainId()));
    assertThat(b.seq()).isEqualTo(5);
    assertThat(b.kind()).isEqualTo(ChainReport.Kind.EDITED);
  }

  @Test
  void aDeletedRowIsReportedAsMissingAtItsSeq() {
    ChainBuilder chain = closedChain();
    tamper().deleteEvent(chain.chainId(), 6);
    ChainReport.Break b = breakOf(verify(chain.chainId()));
    assertThat(b.seq()).isEqualTo(6);
    assertThat(b.kind()).isEqualTo(ChainReport.Kind.MISSING);
  }

  @Test
  void twoSwappedRowsAreReportedAtTheFirstOfThem() {
    ChainBuilder chain = closedChain();
    tamper().swapSeq(chain.chainId(), 9, 10);
    ChainReport.Break b = breakOf(verify(chain.chainId()));
    assertThat(b.seq()).isEqualTo(9);
    assertThat(b.kind()).isEqualTo(ChainReport.Kind.LINK_BROKEN);
  }

  @Test
  void aTailCutBelowTheLastCheckpointIsReportedAsTruncated() {
    ChainBuilder chain = closedChain();
    tamper().deleteEventsFrom(chain.chainId(), 17);
    ChainReport.Break b = breakOf(verify(chain.chainId()));
    assertThat(b.seq()).isEqualTo(17);
    assertThat(b.kind()).isEqualTo(ChainReport.Kind.TRUNCATED);
    assertThat(b.message()).contains("17..19");
  }

  @Test
  void aChainRecomputedAfterAnEditFailsAtTheNextCheckpoint() {
    ChainBuilder chain = closedChain();
    editAndRecompute(chain, 10);
    ChainReport.Break b = breakOf(verify(chain.chainId()));
    assertThat(b.kind()).isEqualTo(ChainReport.Kind.CHECKPOINT_MISMATCH);
    assertThat(b.seq()).isEqualTo(15);
    assertThat(b.message()).contains("9..15");
  }

  @Test
  void checkpointsResignedWithAnotherKeyAreRejected() {
    ChainBuilder chain = closedChain();
    editAndRecompute(chain, 10);
    AuditSigner attacker = AuditSigner.generate();
    try (Stream<AuditEvent> events = store().events(chain.chainId())) {
      List<AuditEvent> forged = events.toList();
      for (long seq : new long[] {15, 19}) {
        AuditEvent e = forged.get((int) seq - 1);
        tamper().replaceCheckpoint(SignedCheckpoint.sign(attacker, chain.chainId(), seq, e.hash(), Instant.now()));
      }
    }
    ChainReport.Break b = breakOf(verify(chain.chainId()));
    assertThat(b.kind()).isEqualTo(ChainReport.Kind.BAD_SIGNATURE);
    assertThat(b.seq()).isEqualTo(15);
  }

  @Test
  void aCheckpointWhoseSignatureWasAlteredIsRejected() {
    ChainBuilder chain = closedChain();
    SignedCheckpoint c = store().checkpoints(chain.chainId()).get(1);
    String sig = c.signature();
    String flipped = (sig.charAt(0) == 'A' ? "B" : "A") + sig.substring(1);
    tamper().replaceCheckpoint(new SignedCheckpoint(c.chainId(), c.seq(), c.hash(), c.time(), c.keyId(), flipped));
    ChainReport.Break b = breakOf(verify(chain.chainId()));
    assertThat(b.kind()).isEqualTo(ChainReport.Kind.BAD_SIGNATURE);
    assertThat(b.seq()).isEqualTo(8);
  }

  @Test
  void removingTheFinalCheckpointOfAClosedChainIsDetected() {
    ChainBuilder chain = closedChain();
    tamper().deleteCheckpointsFrom(chain.chainId(), 19);
    ChainReport.Break b = breakOf(verify(chain.chainId()));
    assertThat(b.kind()).isEqualTo(ChainReport.Kind.CHECKPOINTS_MISSING);
    assertThat(b.seq()).isEqualTo(16);
  }

  @Test
  void removingCheckpointsAndRecomputingTheRestIsCaughtByTheCheckpointPolicy() {
    ChainBuilder chain = new ChainBuilder(store(), signer, newChainId("gw-1"), 8)
        .commands(7).checkpoint().commands(7).checkpoint().commands(7).checkpoint().commands(3).flush();
    editAndRecompute(chain, 10);
    tamper().deleteCheckpointsFrom(chain.chainId(), 9);
    ChainReport.Break b = breakOf(verify(chain.chainId()));
    assertThat(b.kind()).isEqualTo(ChainReport.Kind.CHECKPOINTS_MISSING);
    assertThat(b.seq()).isEqualTo(9);
  }

  @Test
  void anEventAppendedAfterTheCloseIsDetected() {
    ChainBuilder chain = closedChain();
    AuditEvent last = chain.written().getLast();
    store().append(List.of(AuditEvent.seal(chain.chainId(), 20, last.hash(),
        ChainBuilder.command("SELECT 'added later'", Instant.now()))), Optional.empty());
    ChainReport.Break b = breakOf(verify(chain.chainId()));
    assertThat(b.kind()).isEqualTo(ChainReport.Kind.AFTER_CLOSE);
    assertThat(b.seq()).isEqualTo(20);
  }

  @Test
  void aCrashedWritersTailIsReportedAsUnanchoredNotAsTampering() {
    ChainBuilder chain = crashedChain();
    ChainReport r = verify(chain.chainId());
    assertThat(r.status()).as(r.describe()).isEqualTo(ChainReport.Status.UNANCHORED_TAIL);
    assertThat(r.anchoredSeq()).isEqualTo(8);
    assertThat(r.lastSeq()).isEqualTo(11);
    assertThat(r.describe()).contains("9..11");
  }

  @Test
  void aChainWithoutAnyCheckpointIsReportedAsNotAnchored() {
    ChainBuilder chain = crashedChain();
    tamper().deleteCheckpointsFrom(chain.chainId(), 1);
    ChainReport.Break b = breakOf(verify(chain.chainId()));
    assertThat(b.kind()).isEqualTo(ChainReport.Kind.NOT_ANCHORED);
  }

  @Test
  void aChainDeletedEntirelyIsCaughtByAWitnessCheckpoint() {
    ChainBuilder chain = closedChain();
    SignedCheckpoint witness = store().checkpoints(chain.chainId()).getLast();
    tamper().deleteCheckpointsFrom(chain.chainId(), 1);
    tamper().deleteEventsFrom(chain.chainId(), 1);
    VerificationReport report = new AuditVerifier(store(), List.of(signer.publicKey())).withWitnesses(List.of(new Witness(witness, "a test"))).verify();
    ChainReport r = report.chains().stream().filter(c -> c.chainId().equals(chain.chainId())).findFirst().orElseThrow();
    assertThat(breakOf(r).kind()).isEqualTo(ChainReport.Kind.TRUNCATED);
    assertThat(report.intact()).isFalse();
  }

  @Test
  void theAuditLogWritesAChainThatVerifiesAndCanBeSearched() throws Exception {
    String node = "gw-" + HexFormat.of().formatHex(new SecureRandom().generateSeed(4));
    AuditConfig config = AuditConfig.defaults(node, tmp.resolve("key")).withCheckpoints(4, Duration.ofHours(1));
    Samples s = new Samples("res-" + node);
    String chainId;
    AuditHandle handle;
    try (AuditLog log = AuditLog.start(store(), config, signer, Clock.systemUTC())) {
      log.sessionOpened(s.session);
      handle = log.commandDecided(s.session, s.command("SELECT * FROM customers WHERE email = 'x@y'"), s.allow);
      log.flush();
      assertThat(store().find(handle.eventId())).isPresent();
      log.commandCompleted(s.session, handle, dev.gatehouse.core.Outcome.ok(3, Duration.ofMillis(4)));
      for (int i = 0; i < 9; i++) log.commandDecided(s.session, s.command("SELECT " + i), s.deny);
      log.sessionClosed(s.session, "client terminated");
      chainId = log.chainId().orElseThrow();
    }
    ChainReport r = verify(chainId);
    assertThat(r.status()).as(r.describe()).isEqualTo(ChainReport.Status.INTACT);
    assertThat(r.closed()).isTrue();
    // CHAIN_STARTED, opened, decided, completed, 9 decided, closed, CHAIN_CLOSED
    assertThat(r.lastSeq()).isEqualTo(15);

    AuditEvent completed = store().find(AuditEvent.id(chainId, 4)).orElseThrow();
    assertThat(completed.type()).isEqualTo(EventType.COMMAND_COMPLETED);
    assertThat(completed.body().ref()).contains(handle.eventId());
    assertThat(completed.body().outcome().orElseThrow().rows()).isEqualTo(3);

    List<AuditEvent> byText = store().search(AuditQuery.all(50).withResource(s.resource.name()).withText("WHERE EMAIL"));
    assertThat(byText).extracting(AuditEvent::id).containsExactly(handle.eventId());
    List<AuditEvent> byPrincipal = store().search(AuditQuery.all(50).withPrincipal(s.principal.displayName())
        .withResource(s.resource.name()));
    assertThat(byPrincipal).hasSize(13).first().extracting(AuditEvent::type).isEqualTo(EventType.SESSION_OPENED);
    assertThat(store().search(AuditQuery.all(2).withPrincipal(s.principal.subject()).withResource(s.resource.name())))
        .extracting(AuditEvent::seq).containsExactly(13L, 14L);
    Instant opened = byPrincipal.getFirst().body().time();
    assertThat(store().search(AuditQuery.all(50).withResource(s.resource.name()).withTo(opened))).isEmpty();
    assertThat(store().search(AuditQuery.all(50).withResource(s.resource.name()).withFrom(opened))).hasSize(13);
    assertThat(store().search(AuditQuery.all(50).withResource(s.resource.name()).withText("no such text"))).isEmpty();
    // By session (round 40: the session id in the log led nowhere in the audit), alone and with text.
    assertThat(store().search(AuditQuery.all(50).withSession(s.session.id().value()))).hasSize(13)
        .allSatisfy(e -> assertThat(e.body().sessionId()).contains(s.session.id().value()));
    assertThat(store().search(AuditQuery.all(50).withSession(s.session.id().value()).withText("WHERE EMAIL")))
        .extracting(AuditEvent::id).containsExactly(handle.eventId());
    assertThat(store().search(AuditQuery.all(50).withSession(s.session.id().value() + "0"))).isEmpty();

    assertThat(store().tail(3)).extracting(AuditEvent::seq).containsExactly(13L, 14L, 15L);
    assertThat(store().after(AuditEvent.id(chainId, 12), 2)).extracting(AuditEvent::seq).containsExactly(13L, 14L);
    assertThat(store().after(AuditEvent.id(chainId, 15), 10)).isEmpty();
  }

  @Test
  void searchTreatsLikeWildcardsInTextAsPlainCharacters() {
    Instant t = Instant.parse("2025-03-01T10:00:00Z");
    String marker = newChainId("m").substring(2);
    ChainBuilder chain = new ChainBuilder(store(), signer, newChainId("gw-1"), 8)
        .add(ChainBuilder.command("SELECT '" + marker + "100%_done'", t))
        .add(ChainBuilder.command("SELECT '" + marker + "100xydone'", t))
        .checkpoint();
    assertThat(store().search(AuditQuery.all(10).withText(marker + "100%_d"))).extracting(AuditEvent::seq).containsExactly(2L);
    assertThat(chain.seq()).isEqualTo(3);
  }

  @Test
  void aNodesOlderChainDeletedEntirelyIsCaughtThroughItsSuccessor() {
    String node = "gw-" + HexFormat.of().formatHex(new SecureRandom().generateSeed(4));
    AuditConfig config = AuditConfig.defaults(node, tmp.resolve("key")).withCheckpoints(4, Duration.ofHours(1));
    Samples s = new Samples("res-" + node);
    String older;
    String newer;
    try (AuditLog log = AuditLog.start(store(), config, signer, Clock.systemUTC())) {
      log.sessionOpened(s.session);
      older = log.chainId().orElseThrow();
    }
    try (AuditLog log = AuditLog.start(store(), config, signer, Clock.systemUTC())) {
      log.sessionOpened(s.session);
      newer = log.chainId().orElseThrow();
    }
    assertThat(store().find(AuditEvent.id(newer, 1)).orElseThrow().body().attributes())
        .containsEntry("previous_chain", older).containsEntry("previous_seq", "3");
    assertThat(verify(older).status()).isEqualTo(ChainReport.Status.INTACT);

    tamper().deleteEventsFrom(older, 1);
    tamper().deleteCheckpointsFrom(older, 1);
    ChainReport.Break b = breakOf(verify(older));
    assertThat(b.kind()).isEqualTo(ChainReport.Kind.TRUNCATED);
    assertThat(b.message()).contains("deleted entirely");
    assertThat(verify(newer).status()).isEqualTo(ChainReport.Status.INTACT);
  }

  /** A node's chain written by the audit log, closed cleanly: several signed checkpoints, the last at its end. */
  private record LoggedChain(AuditConfig config, String chainId, long lastSeq, long cutAt) {}

  private LoggedChain loggedChain(String node) {
    AuditConfig config = AuditConfig.defaults(node, tmp.resolve("key")).withJournal(tmp.resolve("audit-journal"))
        .withCheckpoints(4, Duration.ofHours(1));
    Samples s = new Samples("res-" + node);
    String chainId;
    try (AuditLog log = AuditLog.start(store(), config, signer, Clock.systemUTC())) {
      log.sessionOpened(s.session);
      for (int batch = 0; batch < 3; batch++) {
        for (int i = 0; i < 5; i++) log.commandDecided(s.session, s.command("SELECT " + batch + i), s.allow);
        log.flush();
      }
      log.sessionClosed(s.session, "client terminated");
      chainId = log.chainId().orElseThrow();
    }
    List<SignedCheckpoint> checkpoints = store().checkpoints(chainId);
    assertThat(checkpoints).as("checkpoints of the logged chain").hasSizeGreaterThanOrEqualTo(3);
    long last = checkpoints.getLast().seq();
    assertThat(verify(chainId).lastSeq()).isEqualTo(last);
    return new LoggedChain(config, chainId, last, checkpoints.get(checkpoints.size() - 2).seq());
  }

  /** What the security review did: the newest events deleted with their checkpoints, cut at a signed checkpoint. */
  private void cutTail(LoggedChain chain) {
    tamper().deleteEventsFrom(chain.chainId(), chain.cutAt() + 1);
    tamper().deleteCheckpointsFrom(chain.chainId(), chain.cutAt() + 1);
  }

  private ChainReport verifyWithLocalWitness(LoggedChain chain, String chainId) {
    VerificationReport report = new AuditVerifier(store(), List.of(signer.publicKey()))
        .withWitnesses(Witness.readLocal(chain.config().journalDir())).verify();
    return report.chains().stream().filter(c -> c.chainId().equals(chainId)).findFirst().orElseThrow();
  }

  @Test
  void aTailCutWithItsCheckpointsIsCaughtByTheLocalWitnessFile() {
    LoggedChain chain = loggedChain("gw-" + HexFormat.of().formatHex(new SecureRandom().generateSeed(4)));
    assertThat(Witness.localFile(chain.config().journalDir(), chain.config().nodeId())).exists();
    cutTail(chain);
    assertThat(verify(chain.chainId()).status()).as("from the store alone the cut chain looks whole")
        .isEqualTo(ChainReport.Status.INTACT);

    ChainReport.Break b = breakOf(verifyWithLocalWitness(chain, chain.chainId()));
    assertThat(b.kind()).isEqualTo(ChainReport.Kind.TRUNCATED);
    assertThat(b.seq()).isEqualTo(chain.cutAt() + 1);
    assertThat(b.message()).contains("ends at seq " + chain.cutAt()).contains("covers seq " + chain.lastSeq())
        .contains(Witness.LOCAL_FILE);
  }

  @Test
  void aRestartOnACutStoreNamesTheWitnessedEndAsThePreviousChain() {
    LoggedChain chain = loggedChain("gw-" + HexFormat.of().formatHex(new SecureRandom().generateSeed(4)));
    cutTail(chain);
    String next;
    try (AuditLog log = AuditLog.start(store(), chain.config(), signer, Clock.systemUTC())) {
      next = log.chainId().orElseThrow();
    }
    assertThat(store().find(AuditEvent.id(next, 1)).orElseThrow().body().attributes())
        .containsEntry("previous_chain", chain.chainId()).containsEntry("previous_seq", Long.toString(chain.lastSeq()));

    // From the store alone: the new chain's start vouches for the witnessed end, not for what is left.
    ChainReport.Break b = breakOf(verify(chain.chainId()));
    assertThat(b.kind()).isEqualTo(ChainReport.Kind.TRUNCATED);
    assertThat(b.seq()).isEqualTo(chain.cutAt() + 1);
    assertThat(verify(next).status()).isEqualTo(ChainReport.Status.INTACT);
  }

  @Test
  void aLocalWitnessThatDoesNotVerifyIsReportedAndNotTrusted() throws Exception {
    LoggedChain chain = loggedChain("gw-" + HexFormat.of().formatHex(new SecureRandom().generateSeed(4)));
    java.nio.file.Path file = Witness.localFile(chain.config().journalDir(), chain.config().nodeId());
    SignedCheckpoint real = Witness.read(file).getFirst().checkpoint();
    SignedCheckpoint forged = new SignedCheckpoint(real.chainId(), real.seq() + 1000, real.hash(), real.time(), real.keyId(),
        real.signature());
    java.nio.file.Files.writeString(file, Witness.line(forged) + "\n");

    VerificationReport report = new AuditVerifier(store(), List.of(signer.publicKey()))
        .withWitnesses(Witness.readLocal(chain.config().journalDir())).verify();
    assertThat(report.rejectedWitnesses()).singleElement().satisfies(r -> {
      assertThat(r.seq()).isEqualTo(real.seq() + 1000);
      assertThat(r.source()).contains(Witness.LOCAL_FILE);
      assertThat(r.reason()).contains("forged or altered");
    });
    assertThat(report.intact()).isFalse();
    assertThat(report.chains().stream().filter(c -> c.chainId().equals(chain.chainId())).findFirst().orElseThrow().status())
        .isEqualTo(ChainReport.Status.INTACT);

    String next;
    try (AuditLog log = AuditLog.start(store(), chain.config(), signer, Clock.systemUTC())) {
      next = log.chainId().orElseThrow();
    }
    assertThat(store().find(AuditEvent.id(next, 1)).orElseThrow().body().attributes())
        .as("a restart does not name the forged checkpoint")
        .containsEntry("previous_chain", chain.chainId()).containsEntry("previous_seq", Long.toString(chain.lastSeq()));
  }

  @Test
  void anUntouchedChainVerifiesIntactAgainstItsLocalWitness() {
    LoggedChain chain = loggedChain("gw-" + HexFormat.of().formatHex(new SecureRandom().generateSeed(4)));
    List<Witness> local = Witness.readLocal(chain.config().journalDir());
    assertThat(local).extracting(w -> w.checkpoint().seq()).containsExactly(chain.lastSeq());
    ChainReport r = verifyWithLocalWitness(chain, chain.chainId());
    assertThat(r.status()).as(r.describe()).isEqualTo(ChainReport.Status.INTACT);
    assertThat(r.anchoredSeq()).isEqualTo(chain.lastSeq());
  }

  // ---------------------------------------------------------------------------------------------
  // A gateway killed with kill -9 and started again (red-team round 18b)

  /** What a killed gateway left: its node's configuration for the restart, its chain, and its node folder. */
  private record Killed(AuditConfig config, String chainId, java.nio.file.Path nodeDir) {}

  /**
   * The reviewer's case: a gateway writes a row's events and is killed 0.3 s later. Its chain's
   * start was stored under a checkpoint (a writer signs its first batch), events 2..5 were stored
   * after it without one (the checkpoint interval had not passed), and {@code unstored} more events
   * were in the journal only. What the node folder held at that instant is copied to the node's
   * journal folder for the restart; the gateway itself then stores nothing more.
   */
  private Killed killedGateway(int unstored) throws Exception {
    String node = "gw-" + HexFormat.of().formatHex(new SecureRandom().generateSeed(4));
    java.nio.file.Path live = tmp.resolve("live");
    AuditConfig config = AuditConfig.defaults(node, tmp.resolve("key")).withJournal(tmp.resolve("audit-journal"))
        .withCheckpoints(1000, Duration.ofHours(1));
    Samples s = new Samples("res-" + node);
    SeverableStore severable = new SeverableStore(store());
    String chainId;
    try (AuditLog log = AuditLog.start(severable, config.withJournal(live).withDurableTimeout(Duration.ofMillis(200)), signer,
        Clock.systemUTC())) {
      log.flush();
      log.sessionOpened(s.session);
      AuditHandle h = log.commandDecided(s.session, s.command("INSERT INTO orders VALUES (1)"), s.allow);
      log.commandCompleted(s.session, h, dev.gatehouse.core.Outcome.ok(1, Duration.ofMillis(1)));
      log.commandDecided(s.session, s.command("SELECT * FROM orders"), s.allow);
      log.flush();
      severable.sever();
      for (int i = 0; i < unstored; i++) log.commandCompleted(s.session, h, dev.gatehouse.core.Outcome.ok(1, Duration.ofMillis(1)));
      chainId = log.chainId().orElseThrow();
      java.nio.file.Path from = live.resolve(node);
      java.nio.file.Path to = java.nio.file.Files.createDirectories(config.journalDir().resolve(node));
      try (Stream<java.nio.file.Path> files = java.nio.file.Files.list(from)) {
        for (java.nio.file.Path f : files.toList()) java.nio.file.Files.copy(f, to.resolve(f.getFileName()));
      }
    }
    assertThat(store().lastSeq(chainId)).hasValue(5);
    assertThat(store().checkpoints(chainId)).extracting(SignedCheckpoint::seq).containsExactly(1L);
    ChainReport before = verify(chainId);
    assertThat(before.status()).as(before.describe()).isEqualTo(ChainReport.Status.UNANCHORED_TAIL);
    return new Killed(config, chainId, config.journalDir().resolve(node));
  }

  /** The killed gateway's node started again (and stopped): returns the new chain. */
  private String restart(Killed killed) {
    try (AuditLog log = AuditLog.start(store(), killed.config(), signer, Clock.systemUTC())) {
      return log.chainId().orElseThrow();
    }
  }

  private List<AuditEvent> stored(String chainId) {
    try (Stream<AuditEvent> events = store().events(chainId)) {
      return events.toList();
    }
  }

  /** As the reviewer did after the restart: the killed chain's events from {@code seq} deleted, and the checkpoints after seq 1. */
  private void deleteTail(String chainId, long seq) {
    tamper().deleteEventsFrom(chainId, seq);
    tamper().deleteCheckpointsFrom(chainId, 2);
  }

  @Test
  void aRestartAfterAKillSignsTheKilledChainsTailAndTheNewChainNamesItsLastEvent() throws Exception {
    Killed killed = killedGateway(0);
    String next = restart(killed);
    AuditEvent last = store().find(AuditEvent.id(killed.chainId(), 5)).orElseThrow();
    assertThat(store().find(AuditEvent.id(next, 1)).orElseThrow().body().attributes())
        .containsEntry("previous_chain", killed.chainId()).containsEntry("previous_seq", "5")
        .containsEntry("previous_hash", last.hash()).containsEntry("previous_last", "true");
    ChainReport old = verify(killed.chainId());
    assertThat(old.status()).as(old.describe()).isEqualTo(ChainReport.Status.INTACT);
    assertThat(old.anchoredSeq()).isEqualTo(5);
    assertThat(Witness.readLocal(killed.config().journalDir())).extracting(w -> w.checkpoint().chainId()).containsExactly(next);
  }

  @Test
  void aKilledChainsTailDeletedAfterTheRestartIsReportedAsTruncated() throws Exception {
    Killed killed = killedGateway(0);
    String next = restart(killed);
    deleteTail(killed.chainId(), 2);
    ChainReport.Break b = breakOf(verify(killed.chainId()));
    assertThat(b.kind()).isEqualTo(ChainReport.Kind.TRUNCATED);
    assertThat(b.seq()).isEqualTo(2);
    assertThat(b.message()).contains(next).contains("2..5");
  }

  @Test
  void aKilledChainsTailRewrittenAfterTheRestartIsReportedAsAltered() throws Exception {
    Killed killed = killedGateway(0);
    restart(killed);
    List<AuditEvent> events = stored(killed.chainId());
    String prev = events.get(1).hash();
    for (AuditEvent e : events.subList(2, events.size())) {
      EventBody body = e.seq() == 3 ? ChainBuilder.command("SELECT 'nothing was inserted'", e.body().time()) : e.body();
      AuditEvent forged = AuditEvent.seal(e.chainId(), e.seq(), prev, body);
      tamper().replaceEvent(forged);
      prev = forged.hash();
    }
    tamper().deleteCheckpointsFrom(killed.chainId(), 2);
    ChainReport.Break b = breakOf(verify(killed.chainId()));
    assertThat(b.kind()).isEqualTo(ChainReport.Kind.CHECKPOINT_MISMATCH);
  }

  @Test
  void eventsAddedToAKilledChainAfterTheRestartAreReported() throws Exception {
    Killed killed = killedGateway(0);
    restart(killed);
    AuditEvent last = stored(killed.chainId()).getLast();
    store().append(List.of(AuditEvent.seal(killed.chainId(), 6, last.hash(),
        ChainBuilder.command("SELECT 'invented'", Instant.now()))), Optional.empty());
    ChainReport.Break b = breakOf(verify(killed.chainId()));
    assertThat(b.kind()).isEqualTo(ChainReport.Kind.AFTER_CLOSE);
    assertThat(b.seq()).isEqualTo(6);
  }

  @Test
  void eventsAddedToAKilledChainBeforeTheRestartAreNotSignedAndAreReported() throws Exception {
    Killed killed = killedGateway(0);
    AuditEvent last = stored(killed.chainId()).getLast();
    store().append(List.of(AuditEvent.seal(killed.chainId(), 6, last.hash(),
        ChainBuilder.command("SELECT 'invented'", Instant.now()))), Optional.empty());
    String next = restart(killed);
    assertThat(store().find(AuditEvent.id(next, 1)).orElseThrow().body().attributes())
        .as("the journal, not the store, says where the chain ends").containsEntry("previous_seq", "5");
    ChainReport.Break b = breakOf(verify(killed.chainId()));
    assertThat(b.kind()).isEqualTo(ChainReport.Kind.AFTER_CLOSE);
    assertThat(b.seq()).isEqualTo(6);
  }

  @Test
  void aGatewayKilledWhileIdleWithItsLastEventCheckpointedRestarts() throws Exception {
    // Round 25: killed after its idle writer had checkpointed its last event, the restart signed
    // the journal's end at that same seq again, and the store's key on (chain, seq) refused it: the
    // gateway could not start.
    Killed killed = killedGateway(0);
    AuditEvent last = stored(killed.chainId()).getLast();
    store().append(List.of(), Optional.of(SignedCheckpoint.sign(signer, killed.chainId(), last.seq(), last.hash(), Instant.now())));
    String next = restart(killed);
    assertThat(store().find(AuditEvent.id(next, 1)).orElseThrow().body().attributes())
        .containsEntry("previous_seq", Long.toString(last.seq())).containsEntry("previous_hash", last.hash());
    ChainReport old = verify(killed.chainId());
    assertThat(old.status()).as(old.describe()).isEqualTo(ChainReport.Status.INTACT);
  }

  @Test
  void eventsAddedAfterAStoppedGatewaysJournalEndAreReportedBeforeTheRestart() throws Exception {
    // Round 25: the journal's last event is its chain's last: the store holds nothing after it
    // unless someone added it, and verify said the chain was consistent.
    Killed killed = killedGateway(0);
    AuditEvent last = stored(killed.chainId()).getLast();
    store().append(List.of(AuditEvent.seal(killed.chainId(), last.seq() + 1, last.hash(),
        ChainBuilder.command("SELECT 'invented'", Instant.now()))), Optional.empty());
    AuditLog.JournalRecovery recovered =
        AuditLog.recoverJournalsForReading(store(), killed.config().journalDir(), Clock.systemUTC());
    ChainReport r = new AuditVerifier(store(), List.of(signer.publicKey())).withJournalEnds(recovered.ends()).verify()
        .chains().stream().filter(c -> c.chainId().equals(killed.chainId())).findFirst().orElseThrow();
    ChainReport.Break b = breakOf(r);
    assertThat(b.kind()).isEqualTo(ChainReport.Kind.AFTER_CLOSE);
    assertThat(b.seq()).isEqualTo(last.seq() + 1);
  }

  @Test
  void aKilledChainsTailForgedBeforeTheRestartIsReportedFromTheJournal() throws Exception {
    // Round 24: with the gateway stopped, someone with write access to the store rewrote events 3..5
    // and added 6 and 7 (the journal's unstored ones), all re-hashed; verify before the restart
    // stored nothing (the store already reached seq 7) and said the chain was consistent.
    Killed killed = killedGateway(2);
    List<AuditEvent> events = stored(killed.chainId());
    String prev = events.get(1).hash();
    for (long seq = 3; seq <= 7; seq++) {
      EventBody body = ChainBuilder.command("SELECT 'forged " + seq + "'", Instant.now());
      AuditEvent forged = AuditEvent.seal(killed.chainId(), seq, prev, body);
      if (seq <= 5) tamper().replaceEvent(forged);
      else store().append(List.of(forged), Optional.empty());
      prev = forged.hash();
    }
    AuditLog.JournalRecovery recovered =
        AuditLog.recoverJournalsForReading(store(), killed.config().journalDir(), Clock.systemUTC());
    assertThat(recovered.stored()).isZero();
    ChainReport r = new AuditVerifier(store(), List.of(signer.publicKey())).withJournalEnds(recovered.ends()).verify()
        .chains().stream().filter(c -> c.chainId().equals(killed.chainId())).findFirst().orElseThrow();
    ChainReport.Break b = breakOf(r);
    assertThat(b.kind()).isEqualTo(ChainReport.Kind.CHECKPOINT_MISMATCH);
    assertThat(b.message()).contains("journal").contains("event 7");
  }

  @Test
  void aTailACommandStoredBeforeTheRestartIsSignedByTheRestart() throws Exception {
    Killed killed = killedGateway(2);
    // `gatehouse audit verify` (or tail, search) before the restart: stores events 6 and 7, unsigned.
    assertThat(AuditLog.recoverJournals(store(), killed.config().journalDir(), Clock.systemUTC())).isEqualTo(2);
    assertThat(store().lastSeq(killed.chainId())).hasValue(7);
    assertThat(verify(killed.chainId()).status()).isEqualTo(ChainReport.Status.UNANCHORED_TAIL);
    try (Stream<java.nio.file.Path> files = java.nio.file.Files.list(killed.nodeDir())) {
      assertThat(files.map(f -> f.getFileName().toString())).as("kept for the gateway to sign")
          .anyMatch(n -> n.endsWith(AuditJournal.SUFFIX));
    }
    assertThat(AuditLog.recoverJournals(store(), killed.config().journalDir(), Clock.systemUTC())).isZero();

    String next = restart(killed);
    assertThat(store().find(AuditEvent.id(next, 1)).orElseThrow().body().attributes())
        .containsEntry("previous_chain", killed.chainId()).containsEntry("previous_seq", "7");
    assertThat(verify(killed.chainId()).status()).isEqualTo(ChainReport.Status.INTACT);
    try (Stream<java.nio.file.Path> files = java.nio.file.Files.list(killed.nodeDir())) {
      assertThat(files.map(f -> f.getFileName().toString())).noneMatch(n -> n.endsWith(AuditJournal.SUFFIX));
    }

    deleteTail(killed.chainId(), 3);
    ChainReport.Break b = breakOf(verify(killed.chainId()));
    assertThat(b.kind()).isEqualTo(ChainReport.Kind.TRUNCATED);
    assertThat(b.seq()).isEqualTo(3);
  }

  @Test
  void aKilledChainsTailThatNoJournalHoldsIsSignedAsTheStoreHoldsIt() throws Exception {
    Killed killed = killedGateway(0);
    // What an earlier version's `gatehouse audit` command left: the tail stored, the journal deleted.
    try (Stream<java.nio.file.Path> files = java.nio.file.Files.list(killed.nodeDir())) {
      for (java.nio.file.Path f : files.filter(f -> f.getFileName().toString().endsWith(AuditJournal.SUFFIX)).toList()) {
        java.nio.file.Files.delete(f);
      }
    }
    String next = restart(killed);
    assertThat(store().find(AuditEvent.id(next, 1)).orElseThrow().body().attributes())
        .containsEntry("previous_chain", killed.chainId()).containsEntry("previous_seq", "5");
    assertThat(verify(killed.chainId()).status()).isEqualTo(ChainReport.Status.INTACT);

    deleteTail(killed.chainId(), 4);
    ChainReport.Break b = breakOf(verify(killed.chainId()));
    assertThat(b.kind()).isEqualTo(ChainReport.Kind.TRUNCATED);
    assertThat(b.seq()).isEqualTo(4);
  }

  @Test
  void aSuccessorWrittenBeforeStartsNamedTheirPredecessorsEndDoesNotMakeItsTailTampering() {
    // Chains written before red-team round 18b named the newest checkpoint, not the last event.
    ChainBuilder older = crashedChain();
    AuditEvent anchored = store().find(AuditEvent.id(older.chainId(), 8)).orElseThrow();
    new ChainBuilder(store(), signer, newChainId("gw-1"), 8, Map.of("previous_chain", older.chainId(),
        "previous_seq", "8", "previous_hash", anchored.hash())).commands(2).close();
    ChainReport r = verify(older.chainId());
    assertThat(r.status()).as(r.describe()).isEqualTo(ChainReport.Status.UNANCHORED_TAIL);
  }
}
