package dev.gatehouse.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gatehouse.audit.AuditConfig;
import dev.gatehouse.audit.AuditLog;
import dev.gatehouse.core.Classification;
import dev.gatehouse.core.ClientInfo;
import dev.gatehouse.core.Command;
import dev.gatehouse.core.Decision;
import dev.gatehouse.core.Obligations;
import dev.gatehouse.core.Outcome;
import dev.gatehouse.core.Principal;
import dev.gatehouse.core.Resource;
import dev.gatehouse.core.ResourceType;
import dev.gatehouse.core.Session;
import dev.gatehouse.core.SessionId;
import dev.gatehouse.store.JdbcStore;
import dev.gatehouse.store.StoreConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code gatehouse audit} on a data directory that a killed gateway left behind. */
class AuditCommandTest {
  @TempDir Path dir;

  private static List<Path> journalFiles(Path nodeDir) throws IOException {
    if (!Files.isDirectory(nodeDir)) return List.of();
    try (Stream<Path> files = Files.list(nodeDir)) {
      return files.filter(f -> f.getFileName().toString().endsWith(".journal")).toList();
    }
  }

  /** What one of alice's sessions writes through an audit log. */
  private interface Writes {
    void to(AuditLog log, Session session) throws Exception;
  }

  /**
   * Leaves in {@code journal} what a node-0 gateway killed after {@code writes} leaves there (its
   * store, elsewhere, is not the one the CLI reads).
   */
  private void killedNodeJournal(Path journal, Writes writes) throws Exception {
    Principal alice = new Principal("alice", "Alice", Set.of("dev"), Principal.Kind.HUMAN, "corp", Map.of(),
        Instant.parse("2099-01-01T00:00:00Z"));
    Session session = new Session(SessionId.random(), alice,
        new Resource("pg-demo", ResourceType.POSTGRES, "127.0.0.1:5432", Map.of()),
        new ClientInfo("127.0.0.1:5555", "alice", "psql"), Instant.now(), Instant.parse("2099-01-01T00:00:00Z"));
    Path elsewhere = dir.resolve("elsewhere");
    try (JdbcStore other = JdbcStore.open(StoreConfig.sqlite(elsewhere.resolve("other.db")))) {
      AuditConfig ac = AuditConfig.defaults("node-0", elsewhere.resolve("audit.key")).withJournal(elsewhere.resolve("journal"));
      try (AuditLog log = AuditLog.start(other.audit(), ac, Clock.systemUTC())) {
        writes.to(log, session);
        Files.createDirectories(journal);
        for (Path f : journalFiles(elsewhere.resolve("journal/node-0"))) Files.copy(f, journal.resolve(f.getFileName()));
      }
    }
  }

  @Test
  void auditCommandsStoreWhatAKilledGatewayLeftInItsJournalBeforeReading() throws Exception {
    Path config = dir.resolve("gatehouse.yaml");
    Files.writeString(config, "node: {id: 0}\n");
    Path journal = dir.resolve("data/audit-journal/node-0");

    // A running node-0 whose store never got the statement: its journal as kill -9 leaves it.
    killedNodeJournal(journal, (log, session) -> log.commandDecided(session, new Command("sql", "DELETE FROM orders WHERE id = 42",
        new Classification(List.of("DELETE"), Set.of("public.orders"), Set.of(), Set.of()), Map.of()),
        new Decision.Allow("developers", new Obligations(List.of()))));
    assertThat(journalFiles(journal)).isNotEmpty();

    CliRun tail = CliRun.inProcess("audit", "tail", "--config", config.toString(), "-n", "5");

    assertThat(tail.exit()).as(tail.err()).isZero();
    assertThat(tail.err()).contains("stored 2 events that a stopped gateway left in its journal");
    assertThat(tail.out()).contains("COMMAND_DECIDED").contains("DELETE FROM orders WHERE id = 42");
    assertThat(journalFiles(journal)).as("stored, and kept until the gateway's next start signs it").isNotEmpty();

    CliRun again = CliRun.inProcess("audit", "tail", "--config", config.toString(), "-n", "5");
    assertThat(again.err()).doesNotContain("stored");
    assertThat(again.out()).contains("DELETE FROM orders WHERE id = 42");
  }

  @Test
  void auditCommandsReadTheLogWithoutTheTargetsPasswordsTheMaskingKeyOrThePolicyFiles() throws Exception {
    // Round 40 (r40a F9): every secret of the gateway's configuration had to resolve, so an
    // operator's shell without the service's environment, or an auditor with the public key only,
    // could not read the log. The gateway's own configuration, read where none of them is at hand:
    Path config = dir.resolve("gatehouse.yaml");
    Files.writeString(config, """
        node: {id: 0}
        resources:
          - name: pg-prod
            type: postgres
            host: db.internal
            port: 5432
            database: app
            user: gatehouse_read
            password: ${env:GATEHOUSE_TEST_SURELY_UNSET_PASSWORD}
            tls: {mode: verify-full, ca: /nowhere/ca.crt}
        policy:
          files: [/nowhere/policy.yaml]
        masking:
          hashKey: ${file:/nowhere/masking.key}
          rules:
            - name: email
              columns: ["public.customers.email"]
              style: {type: hash}
        """);
    killedNodeJournal(dir.resolve("data/audit-journal/node-0"), (log, session) -> log.commandDecided(session,
        new Command("sql", "SELECT 42", new Classification(List.of("SELECT"), Set.of(), Set.of(), Set.of()), Map.of()),
        new Decision.Allow("developers", new Obligations(List.of()))));

    CliRun tail = CliRun.inProcess("audit", "tail", "--config", config.toString(), "-n", "5");
    assertThat(tail.exit()).as(tail.err()).isZero();
    assertThat(tail.out()).contains("SELECT 42");
    CliRun search = CliRun.inProcess("audit", "search", "--config", config.toString(), "--text", "select 42");
    assertThat(search.exit()).as(search.err()).isZero();
    assertThat(search.out()).contains("SELECT 42");
    // Review round 44: an empty result printed nothing, and a bad count named no option.
    CliRun none = CliRun.inProcess("audit", "search", "--config", config.toString(), "--text", "no such statement");
    assertThat(none.exit()).isZero();
    assertThat(none.out()).isEmpty();
    assertThat(none.err()).contains("gatehouse audit: no events matched");
    CliRun tooMany = CliRun.inProcess("audit", "search", "--config", config.toString(), "--limit", "20000");
    assertThat(tooMany.exit()).isNotZero();
    assertThat(tooMany.err()).contains("--limit must be between 1 and 10000, not 20000");
    CliRun negative = CliRun.inProcess("audit", "tail", "--config", config.toString(), "-n", "-5");
    assertThat(negative.exit()).isNotZero();
    assertThat(negative.err()).contains("-n/--lines must be at least 1, not -5");
    // The gateway itself still needs them all.
    CliRun serve = CliRun.inProcess("serve", "--config", config.toString());
    assertThat(serve.exit()).isNotZero();
    assertThat(serve.err()).contains("resources[0].tls.ca: cannot read /nowhere/ca.crt");
  }

  @Test
  void aStatementWhoseSessionEndedBeforeTheTargetAnsweredIsShownAsUnknown() throws Exception {
    Path config = dir.resolve("gatehouse.yaml");
    Files.writeString(config, "node: {id: 0}\n");
    killedNodeJournal(dir.resolve("data/audit-journal/node-0"), (log, session) -> {
      var handle = log.commandDecided(session, new Command("sql", "UPDATE orders SET status = 'T' WHERE id = 3",
          new Classification(List.of("UPDATE"), Set.of("public.orders"), Set.of(), Set.of()), Map.of()),
          new Decision.Allow("developers", new Obligations(List.of())));
      log.commandCompleted(session, handle, new Outcome(Outcome.Status.UNKNOWN, -1, Optional.empty(), Duration.ofSeconds(5)));
    });

    CliRun tail = CliRun.inProcess("audit", "tail", "--config", config.toString(), "-n", "5");

    assertThat(tail.exit()).as(tail.err()).isZero();
    assertThat(tail.out()).contains("COMMAND_COMPLETED").contains("outcome=UNKNOWN");
  }
}
