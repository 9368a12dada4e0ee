package dev.gatehouse.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A demo stopped with {@code kill -9} runs no code of its own, so it cannot stop its embedded
 * PostgreSQL: before, every such stop left a PostgreSQL running until the machine restarted (and
 * the next demo in the same folder could not start on its data directory). The demo runs here in a
 * process of its own, as {@code ./gatehouse demo} does, so that it can be killed.
 */
class DemoKilledTest {
  @TempDir Path dir;
  private Process demo;

  @AfterEach
  void stopDemo() throws Exception {
    if (demo != null && demo.isAlive()) {
      demo.destroy(); // SIGTERM: the demo stops its PostgreSQL itself
      if (!demo.waitFor(60, TimeUnit.SECONDS)) demo.destroyForcibly();
    }
  }

  @Test
  void killingTheDemoStopsItsPostgres() throws Exception {
    startDemo();
    ProcessHandle postgres = postmaster();
    assertThat(postgres.isAlive()).isTrue();
    // Round 28: the binaries it runs are the demo's own, in a folder no other user can enter.
    assertThat(postgres.info().command().orElseThrow()).startsWith(dir.resolve("postgres").toString());
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("postgres")))).isEqualTo("rwx------");

    demo.destroyForcibly(); // SIGKILL
    assertThat(demo.waitFor(30, TimeUnit.SECONDS)).isTrue();

    await("the killed demo's PostgreSQL stops").atMost(Duration.ofSeconds(30)).until(() -> !postgres.isAlive());
  }

  @Test
  void aPostgresLeftRunningByAKilledDemoIsStoppedByTheNextDemoInTheSameFolder() throws Exception {
    startDemo();
    ProcessHandle postgres = postmaster();
    // Its watcher killed first (a kill -9 of the whole process group would take it too).
    List<ProcessHandle> watchers = demo.descendants()
        .filter(h -> h.info().arguments().map(a -> List.of(a).contains("gatehouse-demo-watcher")).orElse(false)).toList();
    assertThat(watchers).as("the demo's watcher process").hasSize(1);
    watchers.getFirst().destroyForcibly();
    demo.destroyForcibly();
    assertThat(demo.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(watchers.getFirst().onExit().get(30, TimeUnit.SECONDS).isAlive()).isFalse();
    Thread.sleep(2_000); // what a watcher would have taken to notice
    assertThat(postgres.isAlive()).as("nothing stopped the PostgreSQL yet").isTrue();

    startDemo();
    assertThat(postgres.isAlive()).as("the left-over PostgreSQL, after the next demo started").isFalse();
    assertThat(postmaster().pid()).isNotEqualTo(postgres.pid());
  }

  @Test
  void aSecondDemoInTheSameFolderIsRefusedAndTheFirstKeepsRunning() throws Exception {
    // Red-team round 27: a second demo took the first one's PostgreSQL for a left-over, stopped it
    // and deleted its data, then failed on the audit journal's lock.
    startDemo();
    ProcessHandle postgres = postmaster();
    Process second = new ProcessBuilder(java(), "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
        "dev.gatehouse.cli.Main", "demo", "--dir", dir.toString(), "--port", "0", "--control-port", "0")
        .redirectErrorStream(true).start();
    String said = new String(second.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(second.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(second.exitValue()).as(said).isEqualTo(2);
    assertThat(said).contains("another demo is running in");
    assertThat(postgres.isAlive()).as("the first demo's PostgreSQL").isTrue();
    assertThat(postmaster().pid()).isEqualTo(postgres.pid());
  }

  @Test
  void aStalePidFileNamingAnotherProcessStopsNothing(@TempDir Path bin) throws Exception {
    // Red-team round 27: a postmaster.pid left behind named a process id that another PostgreSQL
    // had taken since; the demo stopped it, since its command was called postgres.
    Path fake = bin.resolve("postgres");
    Files.copy(Path.of("/bin/sleep"), fake);
    fake.toFile().setExecutable(true);
    Process other = new ProcessBuilder(fake.toString(), "600").start();
    try {
      Path data = dir.resolve("postgres").resolve("data");
      Files.createDirectories(data);
      Files.writeString(data.resolve("postmaster.pid"), other.pid() + "\n" + data.toAbsolutePath() + "\n");
      startDemo();
      assertThat(other.isAlive()).as("a process called postgres that is not the folder's PostgreSQL").isTrue();
      assertThat(postmaster().pid()).isNotEqualTo(other.pid());
    } finally {
      other.destroyForcibly();
    }
  }

  private static String java() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }

  /** Starts {@code gatehouse demo} in a JVM of its own and waits until it has printed its instructions. */
  private void startDemo() throws IOException {
    Path log = dir.resolve("demo-out-" + System.nanoTime() + ".txt");
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    demo = new ProcessBuilder(java.toString(), "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
        "dev.gatehouse.cli.Main", "demo", "--dir", dir.toString(), "--port", "0", "--control-port", "0")
        .redirectErrorStream(true).redirectOutput(log.toFile()).start();
    await("the demo's instructions").atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(200))
        .until(() -> !demo.isAlive() || Files.readString(log, StandardCharsets.UTF_8).contains("Then look at the evidence"));
    assertThat(demo.isAlive()).as("the demo ended before printing its instructions: %s", Files.readString(log)).isTrue();
  }

  /** The demo's PostgreSQL, as its data directory's {@code postmaster.pid} names it. */
  private ProcessHandle postmaster() throws IOException {
    Path pidFile = dir.resolve("postgres").resolve("data").resolve("postmaster.pid");
    long pid = Long.parseLong(Files.readAllLines(pidFile, StandardCharsets.UTF_8).getFirst().strip());
    return ProcessHandle.of(pid).orElseThrow(() -> new AssertionError("no process " + pid + " for " + pidFile));
  }
}
