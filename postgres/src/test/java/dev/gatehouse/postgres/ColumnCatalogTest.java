package dev.gatehouse.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gatehouse.core.Secret;
import dev.gatehouse.testkit.PostgresFixture;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The catalog's look for hidden code when the resource cannot answer it, against a real
 * PostgreSQL: a transaction of this test's holds {@code pg_proc} (of a database of the test's own)
 * locked, so the catalog's query waits for its {@code lock_timeout} and fails.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS) // a hang guard, not a timing assertion
class ColumnCatalogTest {
  private static PostgresFixture fixture;
  private static String database;

  @BeforeAll
  static void database() {
    fixture = PostgresFixture.shared();
    database = fixture.createDatabase("catalog");
  }

  @AfterAll
  static void drop() {
    if (database != null) fixture.dropDatabase(database);
  }

  /**
   * Review of round 22: when the look for hidden code failed, every loop thread that had waited for
   * the catalog's lock meanwhile ran the same query again, each for as long as the first (up to the
   * catalog's statement timeout), so every session of the resource stalled for that many times as
   * long. A failure now answers those waiters, and whoever asks for a few seconds after it, at once,
   * and fail closed: every bare built-in name counts as possibly someone's code.
   */
  @Test
  void aFailedLookIsNotRepeatedByEveryWaiterAndFailsClosed() throws Exception {
    TestClock clock = new TestClock(Instant.parse("2026-11-24T12:00:00Z"));
    BackendConnector connector = new BackendConnector();
    PostgresTarget target = new PostgresTarget(fixture.host(), fixture.port(), database, fixture.superuser(),
        Secret.of(""), TargetTls.disabled(), false);
    try (ColumnCatalog catalog = new ColumnCatalog(() -> connector.connect(target, Map.of("application_name", "gatehouse-test", "lock_timeout", "300")), Duration.ofMinutes(1), clock, sql -> false);
        Connection holder = fixture.connect(database);
        Statement s = holder.createStatement()) {
      holder.setAutoCommit(false);
      s.execute("LOCK TABLE pg_catalog.pg_proc IN ACCESS EXCLUSIVE MODE");

      List<CompletableFuture<Optional<String>>> asked = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        asked.add(CompletableFuture.supplyAsync(() -> catalog.shadowed(Set.of("lower"))));
      }
      for (CompletableFuture<Optional<String>> answer : asked) {
        assertThat(answer.get(30, TimeUnit.SECONDS)).as("fail closed").contains("lower");
      }
      assertThat(catalog.shadowed(Set.of("upper"))).as("asked again at once").contains("upper");
      assertThat(catalog.hazardQueries()).as("one look for four waiters and one more caller").isEqualTo(1);

      holder.rollback();
      clock.advance(Duration.ofSeconds(4));
      assertThat(catalog.shadowed(Set.of("lower"))).as("still within the pause after the failure").contains("lower");
      assertThat(catalog.hazardQueries()).isEqualTo(1);

      clock.advance(Duration.ofSeconds(2));
      assertThat(catalog.shadowed(Set.of("lower"))).as("the database has no function of its own named lower").isEmpty();
      assertThat(catalog.hazardQueries()).isEqualTo(2);
    }
  }

  /**
   * Red-team round 30: an INSERT into a view over a table with a rule ran the rule (a call of code
   * someone made) as if the view had none; an UPDATE of a view over pg_settings runs pg_settings'
   * rule, which calls set_config. Reading such a view runs no rule: only a write is rewritten.
   */
  @Test
  void aWriteThroughAViewCountsTheRulesOfWhatItWritesAReadDoesNot() throws Exception {
    try (Connection admin = fixture.connect(database); Statement s = admin.createStatement()) {
      s.execute("CREATE TABLE ruled_base (x int)");
      s.execute("CREATE RULE ruled_base_also AS ON INSERT TO ruled_base DO ALSO NOTIFY ruled");
      s.execute("CREATE VIEW ruled_view AS SELECT * FROM ruled_base");
      s.execute("CREATE VIEW settings_over AS SELECT name, setting FROM pg_settings");
      s.execute("CREATE TABLE plain_base (x int)");
      s.execute("CREATE VIEW plain_view AS SELECT * FROM plain_base");
    }
    BackendConnector connector = new BackendConnector();
    PostgresTarget target = new PostgresTarget(fixture.host(), fixture.port(), database, fixture.superuser(),
        Secret.of(""), TargetTls.disabled(), false);
    try (ColumnCatalog catalog = new ColumnCatalog(() -> connector.connect(target, Map.of("application_name", "gatehouse-test")),
        Duration.ofMinutes(1), Clock.systemUTC(), sql -> false)) {
      assertThat(catalog.rewritten(List.of("ruled_view"), true)).contains("ruled_view");
      assertThat(catalog.rewritten(List.of("ruled_view"), false)).as("its own rules, or someone's table's").contains("ruled_view");
      assertThat(catalog.rewritten(List.of("settings_over"), true)).contains("settings_over");
      assertThat(catalog.rewritten(List.of("settings_over"), false)).as("a read of pg_settings runs no rule").isEmpty();
      assertThat(catalog.rewritten(List.of("plain_view"), true)).isEmpty();
    }
  }

  /**
   * Review round 45: after the target ended the catalog's kept connection (a restart, a failover,
   * pg_terminate_backend), the next look failed at its use, and for five seconds every statement
   * calling a built-in by its bare name was refused as possibly someone's code. A look now tries a
   * new connection once first.
   */
  @Test
  void aKeptConnectionTheTargetEndedIsReplacedAtItsNextUse() throws Exception {
    TestClock clock = new TestClock(Instant.parse("2026-11-25T12:00:00Z"));
    BackendConnector connector = new BackendConnector();
    PostgresTarget target = new PostgresTarget(fixture.host(), fixture.port(), database, fixture.superuser(),
        Secret.of(""), TargetTls.disabled(), false);
    try (ColumnCatalog catalog = new ColumnCatalog(() -> connector.connect(target, Map.of("application_name", "gatehouse-kept")),
        Duration.ofMinutes(1), clock, sql -> false);
        Connection admin = fixture.connect(database);
        Statement s = admin.createStatement()) {
      assertThat(catalog.shadowed(Set.of("lower"))).isEmpty();
      s.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'gatehouse-kept'");
      // Past the hazards' cache, so the catalog is asked again, on the connection the target ended.
      clock.advance(Duration.ofMinutes(2));
      assertThat(catalog.shadowed(Set.of("lower"))).as("answered, not failed closed").isEmpty();
      assertThat(catalog.hazardQueries()).isEqualTo(2);
    }
  }

  /** A clock the test moves. */
  private static final class TestClock extends Clock {
    private volatile Instant now;

    TestClock(Instant start) {
      now = start;
    }

    void advance(Duration d) {
      now = now.plus(d);
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }
  }
}
