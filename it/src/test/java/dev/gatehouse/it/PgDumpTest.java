package dev.gatehouse.it;

import static dev.gatehouse.it.GatewayStack.ALICE;
import static dev.gatehouse.it.GatewayStack.DANA;
import static org.assertj.core.api.Assertions.assertThat;

import dev.gatehouse.testkit.Psql;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real {@code pg_dump} (beside the psql the tests run) through the gateway under the reference
 * policy. pg_dump sets search_path and restrict_nonsystem_relation_kind with set_config, locks every
 * table it dumps, reads data with COPY and column privileges with SQL PREPARE/EXECUTE (round 9: its
 * set_config over pg_settings was judged a role change, and nobody could dump).
 */
class PgDumpTest {
  @TempDir static Path dir;
  static EndToEnd e2e;
  static GatewayStack stack;

  @BeforeAll
  static void start() {
    e2e = EndToEnd.start(dir);
    stack = e2e.stack();
  }

  @AfterAll
  static void stop() {
    if (e2e != null) e2e.close();
  }

  record Dump(int exit, String out, String err) {}

  private static Dump pgDump(GatewayStack.User user, String... options) throws IOException, InterruptedException {
    Path binary = Psql.psql().resolveSibling("pg_dump");
    List<String> command = new ArrayList<>(List.of(binary.toString(), "--no-password"));
    command.addAll(List.of(options));
    command.add(stack.conninfo(user));
    Path out = Files.createTempFile(dir, "dump", ".sql");
    Path err = Files.createTempFile(dir, "dump", ".err");
    ProcessBuilder pb = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile());
    pb.environment().put("PGPASSWORD", stack.token(user));
    Process p = pb.start();
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("pg_dump finished").isTrue();
    return new Dump(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
  }

  @Test
  void aDbaDumpsSchemaAndData() throws Exception {
    Dump d = pgDump(DANA);
    assertThat(d.exit()).as(d.err()).isZero();
    assertThat(d.out()).contains("CREATE TABLE public.customers").contains("COPY public.customers (");
    Dump schema = pgDump(DANA, "--schema-only");
    assertThat(schema.exit()).as(schema.err()).isZero();
    assertThat(schema.out()).contains("CREATE TABLE public.orders").doesNotContain("COPY public.");
  }

  @Test
  void aDbaDumpsLargeObjectsWhichPgDumpReadsWithFastPathCalls() throws Exception {
    // Round 12: libpq reads large objects with the protocol's fast-path calls, which the reference
    // policy refused to everyone: dana's full dump failed once a large object existed.
    var made = stack.psql(DANA).withArgs("-Atq").command("SELECT lo_from_bytea(0, 'gatehouse large object')");
    assertThat(made.succeeded()).as(made.stderr()).isTrue();
    try {
      Dump d = pgDump(DANA);
      assertThat(d.exit()).as(d.err()).isZero();
      assertThat(d.out()).contains("lo_create").contains("lowrite");
    } finally {
      stack.psql(DANA).command("SELECT lo_unlink(" + made.stdout().strip() + ")");
    }
  }

  @Test
  void aDeveloperDumpsDataButNotTheColumnPrivilegesWhichNeedSqlExecute() throws Exception {
    Dump data = pgDump(ALICE, "--data-only");
    assertThat(data.exit()).as(data.err()).isZero();
    assertThat(data.out()).contains("COPY public.customers (");
    Dump schema = pgDump(ALICE, "--schema-only");
    assertThat(schema.exit()).isNotZero();
    assertThat(schema.err()).contains("permission denied by Gatehouse policy").contains("EXECUTE");
  }
}
