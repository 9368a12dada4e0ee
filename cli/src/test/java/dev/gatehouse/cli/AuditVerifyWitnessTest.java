package dev.gatehouse.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.FileAppender;
import dev.gatehouse.audit.AuditConfig;
import dev.gatehouse.audit.AuditLog;
import dev.gatehouse.audit.SignedCheckpoint;
import dev.gatehouse.audit.Witness;
import dev.gatehouse.core.Classification;
import dev.gatehouse.core.ClientInfo;
import dev.gatehouse.core.Command;
import dev.gatehouse.core.Decision;
import dev.gatehouse.core.Obligations;
import dev.gatehouse.core.Principal;
import dev.gatehouse.core.Resource;
import dev.gatehouse.core.ResourceType;
import dev.gatehouse.core.Session;
import dev.gatehouse.core.SessionId;
import dev.gatehouse.store.JdbcStore;
import dev.gatehouse.store.StoreConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import net.logstash.logback.encoder.LogstashEncoder;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * {@code gatehouse audit verify} against checkpoints witnessed outside the store, on the data
 * directory and JSON log a gateway leaves: the security review's case (the newest events deleted
 * with their signed checkpoints, cut at a checkpoint, on a cleanly closed chain), with and without a
 * restart on the cut store.
 */
class AuditVerifyWitnessTest {
  @TempDir Path dir;
  Path config;
  Path data;
  Path log;

  @BeforeEach
  void configure() throws Exception {
    config = dir.resolve("gatehouse.yaml");
    Files.writeString(config, "node: {id: 0}\n");
    data = dir.resolve("data");
    log = dir.resolve("gatehouse.log");
  }

  /** What the gateway of {@link #config} does with its audit log while it serves, its JSON log going to {@link #log}. */
  private String serve(int statements) {
    LoggerContext logging = (LoggerContext) LoggerFactory.getILoggerFactory();
    LogstashEncoder encoder = new LogstashEncoder();
    encoder.setContext(logging);
    encoder.start();
    FileAppender<ILoggingEvent> file = new FileAppender<>();
    file.setContext(logging);
    file.setFile(log.toString());
    file.setAppend(true);
    file.setEncoder(encoder);
    file.start();
    ch.qos.logback.classic.Logger writer = logging.getLogger("dev.gatehouse.audit.ChainWriter");
    Level level = writer.getLevel();
    writer.setLevel(Level.INFO);
    writer.addAppender(file);
    try (JdbcStore store = JdbcStore.open(StoreConfig.sqlite(data.resolve("gatehouse.db")))) {
      AuditConfig ac = AuditConfig.defaults("node-0", data.resolve("audit-signing.key"))
          .withJournal(data.resolve("audit-journal")).withCheckpoints(4, Duration.ofHours(1));
      try (AuditLog audit = AuditLog.start(store.audit(), ac, Clock.systemUTC())) {
        Session session = session();
        audit.sessionOpened(session);
        for (int i = 0; i < statements; i++) {
          audit.commandDecided(session, new Command("sql", "DELETE FROM orders WHERE id = " + i,
              new Classification(List.of("DELETE"), Set.of("public.orders"), Set.of(), Set.of()), Map.of()),
              new Decision.Allow("developers", new Obligations(List.of())));
          if (i % 5 == 4) audit.flush();
        }
        audit.sessionClosed(session, "client terminated");
        return audit.chainId().orElseThrow();
      }
    } finally {
      writer.detachAppender(file);
      writer.setLevel(level);
      file.stop();
    }
  }

  private static Session session() {
    Principal alice = new Principal("alice", "Alice", Set.of("dev"), Principal.Kind.HUMAN, "corp", Map.of(),
        Instant.parse("2099-01-01T00:00:00Z"));
    return new Session(SessionId.random(), alice, new Resource("pg-demo", ResourceType.POSTGRES, "127.0.0.1:5432", Map.of()),
        new ClientInfo("127.0.0.1:5555", "alice", "psql"), Instant.now(), Instant.parse("2099-01-01T00:00:00Z"));
  }

  /** The checkpoints the log witnesses, in order. */
  private List<SignedCheckpoint> logged() {
    return Witness.read(log).stream().map(Witness::checkpoint).sorted(java.util.Comparator.comparingLong(SignedCheckpoint::seq))
        .toList();
  }

  /**
   * As the reviewer did, with SQL on the stopped gateway's store: drop the no-delete triggers, delete
   * the blocks after a signed checkpoint and the checkpoints after it.
   */
  private void cutAfter(long seq) throws Exception {
    try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + data.resolve("gatehouse.db"));
        Statement s = c.createStatement()) {
      s.execute("DROP TRIGGER audit_events_no_delete");
      s.execute("DROP TRIGGER audit_checkpoints_no_delete");
      assertThat(s.executeUpdate("DELETE FROM audit_events WHERE first_seq > " + seq)).isPositive();
      assertThat(s.executeUpdate("DELETE FROM audit_checkpoints WHERE seq > " + seq)).isPositive();
      try (var rs = s.executeQuery("SELECT max(last_seq) FROM audit_events")) {
        assertThat(rs.next()).isTrue();
        assertThat(rs.getLong(1)).as("cut at a block's end").isEqualTo(seq);
      }
    }
  }

  private CliRun verify(String... more) {
    List<String> args = new java.util.ArrayList<>(List.of("audit", "verify", "--config", config.toString()));
    args.addAll(List.of(more));
    return CliRun.inProcess(args.toArray(String[]::new));
  }

  private Path localWitness() {
    return data.resolve("audit-journal/node-0").resolve(Witness.LOCAL_FILE);
  }

  @Test
  void verifyOnAMachineWithoutThePrivateKeyUsesThePublicHalfBesideIt() throws Exception {
    // Round 40: with the private key moved away and its .pub left beside it, verify said there was
    // no signing key at all.
    serve(10);
    Path key = data.resolve("audit-signing.key");
    Files.move(key, dir.resolve("moved-away.key"));
    assertThat(data.resolve("audit-signing.key.pub")).isRegularFile();
    CliRun r = verify();
    assertThat(r.exit()).as(r.out() + r.err()).isZero();
    assertThat(r.out()).contains("audit log intact").contains("all covered by signed checkpoints");
  }

  @Test
  void aTailCutWithItsCheckpointsIsReportedAgainstTheWitnessLog() throws Exception {
    String chain = serve(20);
    List<SignedCheckpoint> logged = logged();
    long end = logged.getLast().seq();
    long cut = logged.get(logged.size() - 2).seq();
    cutAfter(cut);
    Files.deleteIfExists(localWitness()); // the log alone

    CliRun alone = verify();
    assertThat(alone.exit()).as("what the store alone shows: " + alone.out()).isZero();

    CliRun witnessed = verify("--witness", log.toString());
    assertThat(witnessed.exit()).as(witnessed.out() + witnessed.err()).isEqualTo(1);
    assertThat(witnessed.out()).contains(chain + ": BROKEN at seq " + (cut + 1) + " (TRUNCATED)")
        .contains("the chain ends at seq " + cut).contains("covers seq " + end).contains(log.toString())
        .contains("AUDIT LOG BROKEN");
  }

  @Test
  void aTailCutWithItsCheckpointsIsReportedAgainstTheLocalWitnessWithoutAnOption() throws Exception {
    String chain = serve(20);
    List<SignedCheckpoint> logged = logged();
    long end = logged.getLast().seq();
    long cut = logged.get(logged.size() - 2).seq();
    cutAfter(cut);

    CliRun r = verify();
    assertThat(r.exit()).as(r.out() + r.err()).isEqualTo(1);
    assertThat(r.out()).contains(chain + ": BROKEN at seq " + (cut + 1) + " (TRUNCATED)")
        .contains("covers seq " + end).contains(Witness.LOCAL_FILE);
  }

  @Test
  void aRestartOnTheCutStoreDoesNotMakeTheCutPermanent() throws Exception {
    String chain = serve(20);
    List<SignedCheckpoint> logged = logged();
    long end = logged.getLast().seq();
    long cut = logged.get(logged.size() - 2).seq();
    cutAfter(cut);

    String next = serve(3);
    assertThat(Files.readString(log)).contains("the audit store lost events").contains("\"level\":\"ERROR\"");

    // Neither the log nor the local witness (which now holds the new chain's end) is needed: the new
    // chain's start names the witnessed end of the cut one.
    Files.deleteIfExists(localWitness());
    CliRun r = verify();
    assertThat(r.exit()).as(r.out() + r.err()).isEqualTo(1);
    assertThat(r.out()).contains(chain + ": BROKEN at seq " + (cut + 1) + " (TRUNCATED)")
        .contains("recorded that event " + end + " was acknowledged")
        .contains(next + ": intact");

    CliRun witnessed = verify("--witness", log.toString());
    assertThat(witnessed.exit()).isEqualTo(1);
    assertThat(witnessed.out()).contains(chain + ": BROKEN at seq " + (cut + 1) + " (TRUNCATED)");
  }

  @Test
  void anUntouchedStoreVerifiesIntactAgainstItsWitnesses() throws Exception {
    String first = serve(20);
    String second = serve(7);

    CliRun r = verify("--witness", log.toString(), "--json");
    assertThat(r.exit()).as(r.out() + r.err()).isZero();
    assertThat(r.outLines()).hasSize(2).allSatisfy(l -> assertThat(l).contains("\"status\":\"intact\""));

    CliRun text = verify("--witness", log.toString());
    assertThat(text.exit()).isZero();
    assertThat(text.out()).contains(first + ": intact").contains(second + ": intact")
        .containsPattern("audit log intact: 2 chain\\(s\\) verified, against [0-9]+ checkpoint\\(s\\) witnessed outside the store");
  }

  @Test
  void aForgedWitnessLineIsReportedAndNotTrusted() throws Exception {
    String chain = serve(20);
    long end = logged().getLast().seq();
    // A line as the writer logs it, claiming 1000 more events than the chain has: its signature no
    // longer verifies, so it must not make the intact chain look truncated.
    String last = Files.readAllLines(log).getLast();
    assertThat(last).contains("seq=" + end + " ");
    Path forged = dir.resolve("forged.log");
    Files.writeString(forged, last.replace("seq=" + end + " ", "seq=" + (end + 1000) + " ") + "\n");
    Files.deleteIfExists(localWitness());

    CliRun r = verify("--witness", forged.toString());
    assertThat(r.exit()).as(r.out() + r.err()).isEqualTo(1);
    assertThat(r.out()).contains("witness " + forged + " line 1: REJECTED")
        .contains("seq " + (end + 1000) + " does not carry a valid signature")
        .contains(chain + ": intact, " + end + " events")
        .doesNotContain("TRUNCATED");
  }

  /**
   * The reviewer's repro (red-team round 18b): node-0 inserts a row and is killed 0.3 s later. Its
   * chain's start was stored under a checkpoint, the row's events after it without one, and the
   * journal is left in the data directory. The live writer journals into a copy that is then put
   * where the killed gateway's journal would be; closing the store first keeps it from storing more.
   */
  private String killedGateway() throws Exception {
    Path live = dir.resolve("live-journal");
    JdbcStore store = JdbcStore.open(StoreConfig.sqlite(data.resolve("gatehouse.db")));
    AuditConfig ac = AuditConfig.defaults("node-0", data.resolve("audit-signing.key")).withJournal(live)
        .withCheckpoints(1000, Duration.ofHours(1)).withDurableTimeout(Duration.ofMillis(200));
    String chain;
    try (AuditLog audit = AuditLog.start(store.audit(), ac, Clock.systemUTC())) {
      audit.flush();
      Session session = session();
      audit.sessionOpened(session);
      audit.commandDecided(session, new Command("sql", "INSERT INTO orders VALUES (1)",
          new Classification(List.of("INSERT"), Set.of("public.orders"), Set.of(), Set.of()), Map.of()),
          new Decision.Allow("developers", new Obligations(List.of())));
      audit.flush();
      chain = audit.chainId().orElseThrow();
      Path node = Files.createDirectories(data.resolve("audit-journal/node-0"));
      try (var files = Files.list(live.resolve("node-0"))) {
        for (Path f : files.toList()) Files.copy(f, node.resolve(f.getFileName()));
      }
      store.close();
    }
    return chain;
  }

  /** node-0 started again on the same data directory, and stopped. */
  private String restart() {
    try (JdbcStore store = JdbcStore.open(StoreConfig.sqlite(data.resolve("gatehouse.db")));
        AuditLog audit = AuditLog.start(store.audit(), AuditConfig.defaults("node-0", data.resolve("audit-signing.key"))
            .withJournal(data.resolve("audit-journal")), Clock.systemUTC())) {
      return audit.chainId().orElseThrow();
    }
  }

  @Test
  void aKilledGatewaysTailThatVerifyStoredBeforeTheRestartIsSignedAndItsDeletionReported() throws Exception {
    String chain = killedGateway();
    CliRun before = verify();
    assertThat(before.exit()).as(before.out() + before.err()).isZero();
    assertThat(before.out()).contains(chain + ": consistent, 3 events; events 2..3 follow the last signed checkpoint");

    String next = restart();
    CliRun after = verify();
    assertThat(after.exit()).as(after.out() + after.err()).isZero();
    assertThat(after.out()).contains(chain + ": intact, 3 events").contains(next + ": intact");

    // As the reviewer did with sqlite3: the killed chain's events after its start deleted, with every
    // checkpoint after seq 1 (the one the restart signed too).
    try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + data.resolve("gatehouse.db"));
        Statement s = c.createStatement()) {
      s.execute("DROP TRIGGER audit_events_no_delete");
      s.execute("DROP TRIGGER audit_checkpoints_no_delete");
      assertThat(s.executeUpdate("DELETE FROM audit_events WHERE first_seq >= 2 AND chain = "
          + "(SELECT id FROM audit_chains WHERE chain_id = '" + chain + "')")).isPositive();
      assertThat(s.executeUpdate("DELETE FROM audit_checkpoints WHERE seq > 1 AND chain_id = '" + chain + "'")).isPositive();
    }
    Files.deleteIfExists(localWitness());
    CliRun r = verify();
    assertThat(r.exit()).as(r.out() + r.err()).isEqualTo(1);
    assertThat(r.out()).contains(chain + ": BROKEN at seq 2 (TRUNCATED)").contains("AUDIT LOG BROKEN");
  }

  /** A chain id someone wrote into the store, with ESC, CR and LF: printed escaped, as tail prints names (red-team round 18b). */
  @Test
  void chainIdsFromTheStoreCannotForgeVerifyOutputLines() throws Exception {
    String forged = "node-0:1\u001b[2J\rnode-0:2: intact, 9 events, all covered by signed checkpoints\naudit log intact";
    try (JdbcStore store = JdbcStore.open(StoreConfig.sqlite(data.resolve("gatehouse.db")))) {
      store.audit().append(List.of(dev.gatehouse.audit.AuditEvent.seal(forged, 1, dev.gatehouse.audit.AuditEvent.GENESIS,
          dev.gatehouse.audit.EventBody.of(dev.gatehouse.audit.EventType.CHAIN_STARTED, Instant.now(), Map.of()))),
          java.util.Optional.empty());
    }
    AuditConfig ac = AuditConfig.defaults("node-0", data.resolve("audit-signing.key"));
    dev.gatehouse.audit.AuditSigner.loadOrCreate(ac.keyFile());
    CliRun r = verify();
    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.out()).doesNotContain("\u001b").doesNotContain("\r");
    assertThat(r.outLines()).noneMatch(l -> l.startsWith("node-0:2") || l.startsWith("audit log intact"))
        .anyMatch(l -> l.startsWith("node-0:1\\x1b[2J\\rnode-0:2: intact") && l.contains("\\naudit log intact: BROKEN"));
  }
}
