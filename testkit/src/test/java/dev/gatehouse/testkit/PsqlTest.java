package dev.gatehouse.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.gatehouse.core.Secret;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class PsqlTest {
  private final PostgresFixture pg = PostgresFixture.shared();

  @Test
  void commandPrintsTheQueryResult() {
    Psql.Result r = Psql.connect(pg.conninfo("postgres")).withArgs("-At").command("SELECT 40 + 2");
    assertThat(r.exitCode()).isZero();
    assertThat(r.stdout()).isEqualTo("42\n");
  }

  @Test
  void failedStatementStopsTheScriptWithExitCode3() {
    Psql.Result r = Psql.connect(pg.conninfo("postgres")).withArgs("-At")
        .script("SELECT 'before';\nSELECT * FROM no_such_table;\nSELECT 'after';\n");
    assertThat(r.exitCode()).isEqualTo(3);
    assertThat(r.stdout()).contains("before").doesNotContain("after");
    assertThat(r.stderr()).contains("relation \"no_such_table\" does not exist");
  }

  @Test
  void verboseErrorsCarryTheSqlState() {
    Psql.Result r = Psql.connect(pg.conninfo("postgres")).withVerboseErrors().command("SELECT * FROM no_such_table");
    assertThat(r.sqlState()).contains("42P01");
    Psql.Result script = Psql.connect(pg.conninfo("postgres")).withVerboseErrors().script("SELECT 1/0;\n");
    assertThat(script.sqlState()).contains("22012");
    assertThat(Psql.connect(pg.conninfo("postgres")).command("SELECT 1").sqlState()).isEmpty();
  }

  @Test
  void withoutOnErrorStopTheScriptGoesOn() {
    Psql.Result r = Psql.connect(pg.conninfo("postgres")).withArgs("-At").withOnErrorStop(false)
        .script("SELECT * FROM no_such_table;\nSELECT 'after';\n");
    assertThat(r.exitCode()).isZero();
    assertThat(r.stdout()).contains("after");
    assertThat(r.stderr()).contains("no_such_table");
  }

  @Test
  void passwordIsSentWhenTheServerDemandsOneAndNeverPromptedFor() {
    ScramPostgres scram = ScramPostgres.shared();
    String conninfo = "host=" + scram.host() + " port=" + scram.port() + " dbname=" + scram.database()
        + " user=" + scram.scramUser() + " sslmode=disable";
    Psql.Result ok = Psql.connect(conninfo).withPassword(scram.scramPassword()).withArgs("-At").command("SELECT current_user");
    assertThat(ok.stdout()).isEqualTo(scram.scramUser() + "\n");

    Psql.Result missing = Psql.connect(conninfo).command("SELECT 1");
    assertThat(missing.exitCode()).isEqualTo(2);
    assertThat(missing.stderr()).contains("no password supplied");

    Psql.Result wrong = Psql.connect(conninfo).withPassword(Secret.of("wrong-password-123")).command("SELECT 1");
    assertThat(wrong.exitCode()).isEqualTo(2);
    assertThat(wrong.stderr()).contains("password authentication failed").doesNotContain("wrong-password-123");
  }

  @Test
  void environmentReachesPsqlForVerifiedTls() {
    ScramPostgres scram = ScramPostgres.shared();
    String conninfo = "host=localhost port=" + scram.port() + " dbname=" + scram.database()
        + " user=" + scram.tlsUser() + " sslmode=verify-full";
    Psql.Result r = Psql.connect(conninfo).withPassword(scram.tlsPassword())
        .withEnv("PGSSLROOTCERT", scram.caCertificateFile().toString()).withArgs("-At")
        .command("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
    assertThat(r.stderr()).isEmpty();
    assertThat(r.stdout()).isEqualTo("t\n");
  }

  @Test
  void psqlThatOutlivesItsTimeoutIsKilledAndReported() {
    assertThatThrownBy(() -> Psql.connect(pg.conninfo("postgres")).withTimeout(Duration.ofSeconds(1))
            .command("SELECT pg_sleep(20)"))
        .isInstanceOf(TestkitException.class)
        .hasMessageContaining("did not finish within PT1S");
    List<String> children = ProcessHandle.current().descendants()
        .filter(ProcessHandle::isAlive)
        .map(p -> p.info().command().orElse("?"))
        .filter(c -> c.endsWith("/psql"))
        .toList();
    assertThat(children).isEmpty();
  }

  @Test
  void passwordInAConninfoIsRedactedFromDescriptions() {
    Psql psql = Psql.connect("host=127.0.0.1 password='s3cr et' dbname=x").withPassword(Secret.of("token-abc"));
    assertThat(psql.toString()).doesNotContain("s3cr").doesNotContain("token-abc").contains("[redacted]");
    assertThat(Psql.redacted("password=plain user=x")).isEqualTo("password=[redacted] user=x");
  }

  @Test
  void pgbenchIsFoundForBenchmarks() {
    assertThat(Psql.pgbench()).isExecutable();
    assertThat(Psql.find("no-such-program-gatehouse")).isEmpty();
  }
}
