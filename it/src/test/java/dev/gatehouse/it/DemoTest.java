package dev.gatehouse.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.gatehouse.testkit.Psql;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code gatehouse demo} as a newcomer meets it: it starts with nothing installed, prints one psql
 * command line per demo user, and those lines, pasted into a shell, work and show the reference
 * policy at work.
 */
class DemoTest {
  private static final Pattern PSQL_LINE = Pattern.compile(
      "^\\s*(PGPASSWORD=\\$\\(cat (\\S+)/tokens/(\\w+)\\.token\\) psql \"host=localhost port=(\\d+) dbname=(pg-demo|pg-demo-read) user=\\3"
          + " sslmode=verify-full sslrootcert=(\\S+)\")\\s*$", Pattern.MULTILINE);
  /** The group of {@link #PSQL_LINE} that holds the CA file. */
  private static final int CA = 6;

  @TempDir Path dir;

  @Test
  void demoStartsPrintsAVerifyingPsqlLinePerUserAndLeavesAVerifiableAuditLog() throws IOException {
    Cli.Result r = Cli.run("demo", "--dir", dir.toString(), "--port", "0", "--control-port", "0", "--exit-after-start");
    assertThat(r.exitCode()).as(r.out() + r.err()).isZero();
    Map<String, Matcher> lines = psqlLines(r.out());
    assertThat(lines).containsOnlyKeys("alice", "bob", "dana", "eve");
    // One resource per access level: the analyst connects to the one that signs in as a read-only role.
    assertThat(lines.get("bob").group(5)).isEqualTo("pg-demo-read");
    assertThat(lines.get("alice").group(5)).isEqualTo("pg-demo");
    for (Matcher m : lines.values()) {
      assertThat(Integer.parseInt(m.group(4))).as("the port printed is the one bound").isPositive();
      assertThat(Path.of(m.group(CA))).as("the CA file the line verifies against").isRegularFile();
      assertThat(Path.of(m.group(2)).resolve("tokens").resolve(m.group(3) + ".token")).isRegularFile();
    }
    assertThat(r.out()).contains("FOR DEMOS ONLY").contains("DELETE FROM orders;").contains("audit verify --config");
    // The demo's own configuration file works with the other commands.
    Cli.Result verify = Cli.run("audit", "verify", "--config", dir.resolve("gatehouse.yaml").toString());
    assertThat(verify.exitCode()).as(verify.out() + verify.err()).isZero();
  }

  @Test
  void theDemoRefusesAPostgresFolderThatIsALinkElsewhere(@TempDir Path elsewhere) throws Exception {
    // Red-team round 29: DIR/postgres pointing at a shared folder: the demo made that folder 0700
    // and ran the binaries another user had put there.
    java.nio.file.Files.createSymbolicLink(dir.resolve("postgres"), elsewhere);
    String before = java.nio.file.attribute.PosixFilePermissions.toString(java.nio.file.Files.getPosixFilePermissions(elsewhere));
    Cli.Result r = Cli.run("demo", "--dir", dir.toString(), "--port", "0", "--control-port", "0", "--exit-after-start");
    assertThat(r.exitCode()).as(r.out() + r.err()).isNotZero();
    assertThat(r.out() + r.err()).contains("is a symbolic link");
    assertThat(java.nio.file.attribute.PosixFilePermissions.toString(java.nio.file.Files.getPosixFilePermissions(elsewhere)))
        .isEqualTo(before);
  }

  @Test
  void thePrintedPsqlLinesWorkInAShellWhileTheDemoRuns() throws Exception {
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    PrintStream original = System.out;
    System.setOut(new PrintStream(new Tee(captured, original), true, StandardCharsets.UTF_8));
    Thread demo = null;
    CompletableFuture<Object> exit = new CompletableFuture<>();
    try {
      demo = Thread.ofPlatform().name("gatehouse-demo").start(() -> {
        try {
          exit.complete(dev.gatehouse.cli.Main.run("demo", "--dir", dir.toString(), "--port", "0", "--control-port", "0"));
        } catch (Throwable t) {
          exit.completeExceptionally(t);
        }
      });
      await("the demo's instructions").atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(200))
          .until(() -> exit.isDone() || text(captured).contains("Then look at the evidence"));
      assertThat(exit).as("the demo ended before printing its instructions: " + text(captured)).isNotDone();
      Map<String, Matcher> lines = psqlLines(text(captured));
      int port = Integer.parseInt(lines.get("alice").group(4));

      Shell alice = shell(lines.get("alice").group(1), "SELECT count(*) FROM customers");
      assertThat(alice.exit()).as(alice.toString()).isZero();
      assertThat(alice.out().strip()).isEqualTo("10");

      Shell unbounded = shell(lines.get("alice").group(1), "DELETE FROM orders");
      assertThat(unbounded.exit()).as(unbounded.toString()).isNotZero();
      assertThat(unbounded.err()).contains("permission denied by Gatehouse policy").contains("rule no-unbounded-writes");

      Shell bob = shell(lines.get("bob").group(1), "UPDATE orders SET status = 'x' WHERE id = 1");
      assertThat(bob.err()).as(bob.toString()).contains("permission denied by Gatehouse policy");
      // bob reads, masked; the reads that write or lock are not reads (the demo's masking rules
      // once allowed them: they were allow rules of their own).
      Shell bobReads = shell(lines.get("bob").group(1), "SELECT email FROM customers ORDER BY id LIMIT 1");
      assertThat(bobReads.exit()).as(bobReads.toString()).isZero();
      assertThat(bobReads.out().strip()).as(bobReads.toString()).startsWith("email:").doesNotContain("@");
      // ... and in the database too: his resource signs in as a role that may only read, so a write
      // that got past policy (a statement schema code replaced) would still be refused there.
      Shell bobsRole = shell(lines.get("bob").group(1),
          "SELECT current_user, has_table_privilege('orders', 'UPDATE'), has_table_privilege('customers', 'INSERT'),"
              + " has_database_privilege(current_database(), 'TEMPORARY'),"
              + " has_function_privilege('lo_from_bytea(oid, bytea)', 'EXECUTE')");
      assertThat(bobsRole.exit()).as(bobsRole.toString()).isZero();
      assertThat(bobsRole.out().strip()).as(bobsRole.toString()).isEqualTo("gatehouse_demo_read|f|f|f|f");
      for (String sql : List.of("SELECT setval('orders_id_seq', 1)", "SELECT id FROM orders WHERE id = 1 FOR UPDATE")) {
        Shell refused = shell(lines.get("bob").group(1), sql);
        assertThat(refused.exit()).as(refused.toString()).isNotZero();
        assertThat(refused.err()).as(refused.toString()).contains("permission denied by Gatehouse policy").contains("rule default-deny");
      }

      // Round 12: one SELECT rebuilt every e-mail from where it was compared, never selected
      // (ascii(substr(email, n, 1)) against a table of numbers); the demo confines its masked columns.
      Shell probe = shell(lines.get("bob").group(1),
          "SELECT c.id, p.id FROM customers c, orders p WHERE ascii(substr(c.email, p.id, 1)) = 97");
      assertThat(probe.exit()).as(probe.toString()).isNotZero();
      assertThat(probe.err()).as(probe.toString()).contains("may only be selected").contains("masking rule email");
      // psql's FETCH_COUNT reads through a cursor: its FETCHes are not probes.
      Shell fetched = shell(lines.get("bob").group(1) + " -v FETCH_COUNT=2",
          "SELECT name, email FROM customers ORDER BY id LIMIT 3");
      assertThat(fetched.exit()).as(fetched.toString()).isZero();
      assertThat(fetched.out().strip().lines().toList()).as(fetched.toString()).hasSize(3)
          .allSatisfy(line -> assertThat(line).contains("|email:").doesNotContain("@"));

      // The dba changes the schema without an approval the demo cannot give (round 12).
      Shell ddl = shell(lines.get("dana").group(1), "CREATE TABLE dana_notes (id int); DROP TABLE dana_notes");
      assertThat(ddl.exit()).as(ddl.toString()).isZero();

      Shell eve = shell(lines.get("eve").group(1), "SELECT 1");
      assertThat(eve.exit()).isNotZero();
      // Told what a resource that does not exist would be (round 18a): no rule, no hint it exists.
      assertThat(eve.err()).as(eve.toString()).contains("no postgres resource named \"pg-demo\" is available to eve")
          .doesNotContain("default-deny");

      // Round 26: the target's superuser logged in without a password (trust, kept after the set-up)
      // and read everything unmasked, unaudited. Only the gateway's role gets in, with its password.
      Matcher target = Pattern.compile("port: (\\d+)\\s+database: shop").matcher(
          java.nio.file.Files.readString(dir.resolve("gatehouse.yaml")));
      assertThat(target.find()).as("the target's port in the demo's gatehouse.yaml").isTrue();
      java.util.Properties superuser = new java.util.Properties();
      superuser.setProperty("user", "postgres");
      assertThatThrownBy(() -> java.sql.DriverManager.getConnection(
          "jdbc:postgresql://127.0.0.1:" + target.group(1) + "/shop", superuser).close())
          .isInstanceOf(java.sql.SQLException.class)
          .satisfies(e -> assertThat(((java.sql.SQLException) e).getSQLState()).isIn("28P01", "28000", "08004")); // 08004: pgjdbc, asked for a password it was not given

      // Stopping: the demo waits for a signal; interrupting its thread is the in-process equivalent.
      demo.interrupt();
      assertThat(exit.get(60, TimeUnit.SECONDS)).as("the demo's exit code after a clean stop").isEqualTo(0);
      assertThat(text(captured)).contains("Stopping the demo");
      assertThat(listening(port)).as("the gateway's port after the demo stopped").isFalse();
    } finally {
      if (demo != null && demo.isAlive()) {
        demo.interrupt();
        demo.join(60_000);
      }
      System.setOut(original);
    }
  }

  private static Map<String, Matcher> psqlLines(String out) {
    Map<String, Matcher> lines = new java.util.TreeMap<>();
    Matcher m = PSQL_LINE.matcher(out);
    while (m.find()) {
      Matcher one = PSQL_LINE.matcher(m.group());
      assertThat(one.find()).isTrue();
      lines.put(m.group(3), one);
    }
    return lines;
  }

  record Shell(int exit, String out, String err) {}

  /** Runs a printed command line in bash, with the query appended, as a user pasting it would. */
  private static Shell shell(String printed, String sql) throws IOException, InterruptedException {
    ProcessBuilder pb = new ProcessBuilder("bash", "-c", printed + " -X -w -At -c '" + sql.replace("'", "'\\''") + "'");
    pb.environment().keySet().removeIf(k -> k.startsWith("PG"));
    pb.environment().put("PATH", Psql.psql().getParent() + ":" + System.getenv().getOrDefault("PATH", "/usr/bin:/bin"));
    pb.environment().put("LC_ALL", "C.UTF-8");
    Process p = pb.start();
    CompletableFuture<byte[]> out = CompletableFuture.supplyAsync(() -> readAll(p.getInputStream()));
    CompletableFuture<byte[]> err = CompletableFuture.supplyAsync(() -> readAll(p.getErrorStream()));
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("the printed psql line did not finish within 60 s: " + printed);
    }
    return new Shell(p.exitValue(), new String(out.join(), StandardCharsets.UTF_8), new String(err.join(), StandardCharsets.UTF_8));
  }

  private static byte[] readAll(java.io.InputStream in) {
    try (in) {
      return in.readAllBytes();
    } catch (IOException e) {
      return new byte[0];
    }
  }

  private static boolean listening(int port) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 2000);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  private static String text(ByteArrayOutputStream out) {
    synchronized (out) {
      return out.toString(StandardCharsets.UTF_8);
    }
  }

  /** Keeps what is printed and still shows it. */
  private static final class Tee extends OutputStream {
    private final ByteArrayOutputStream copy;
    private final OutputStream out;

    Tee(ByteArrayOutputStream copy, OutputStream out) {
      this.copy = copy;
      this.out = out;
    }

    @Override
    public void write(int b) throws IOException {
      synchronized (copy) {
        copy.write(b);
      }
      out.write(b);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      synchronized (copy) {
        copy.write(b, off, len);
      }
      out.write(b, off, len);
    }
  }
}
