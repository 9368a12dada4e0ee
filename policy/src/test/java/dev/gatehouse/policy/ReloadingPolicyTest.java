package dev.gatehouse.policy;

import static dev.gatehouse.policy.Fixtures.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.gatehouse.core.Decision;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReloadingPolicyTest {
  private static final String ALLOW_DEVS = """
      version: 1
      rules:
        - name: devs
          effect: allow
          subjects: {groups: [developers]}
      """;
  private static final String ALLOW_ANALYSTS = """
      version: 1
      rules:
        - name: analysts
          effect: allow
          subjects: {groups: [analysts]}
      """;

  @TempDir Path dir;

  private ReloadingPolicy start(String yaml) throws Exception {
    Path f = dir.resolve("policy.yaml");
    Files.writeString(f, yaml);
    return new ReloadingPolicy(new PolicyLoader(clock(NOW), GrantLookup.NONE), List.of(f), clock(NOW));
  }

  @Test
  void aBrokenFileIsRejectedAndThePreviousPolicyStaysInForce() throws Exception {
    ReloadingPolicy policy = start(ALLOW_DEVS);
    List<String> notified = new CopyOnWriteArrayList<>();
    policy.addListener((before, after) -> notified.add(after.version()));
    String version = policy.status().version();

    Files.writeString(dir.resolve("policy.yaml"), ALLOW_DEVS.replace("allow", "alow"));
    ReloadingPolicy.Reload r = policy.reload();

    assertThat(r).isInstanceOf(ReloadingPolicy.Reload.Rejected.class);
    assertThat(((ReloadingPolicy.Reload.Rejected) r).errors()).singleElement()
        .satisfies(e -> assertThat(e.toString()).contains("policy.yaml:4:").contains("unknown effect \"alow\""));
    assertThat(policy.admit(user("alice", "developers"), PG_DEMO, CLIENT).rule()).isEqualTo("devs");
    assertThat(policy.status().version()).isEqualTo(version);
    assertThat(policy.status().current()).isFalse();
    assertThat(policy.status().lastError()).hasValueSatisfying(e -> assertThat(e).contains("unknown effect"));
    assertThat(notified).isEmpty();
  }

  @Test
  void aGoodFileIsAppliedAndListenersAreToldOnce() throws Exception {
    ReloadingPolicy policy = start(ALLOW_DEVS);
    List<String> notified = new CopyOnWriteArrayList<>();
    policy.addListener((before, after) -> notified.add(before.ruleNames() + "->" + after.ruleNames()));
    policy.addListener((before, after) -> { throw new IllegalStateException("a broken listener"); });

    Files.writeString(dir.resolve("policy.yaml"), ALLOW_ANALYSTS);
    assertThat(policy.reload()).isInstanceOf(ReloadingPolicy.Reload.Applied.class);
    assertThat(policy.reload()).isInstanceOf(ReloadingPolicy.Reload.Unchanged.class);

    assertThat(notified).containsExactly("[devs]->[analysts]");
    assertThat(policy.admit(user("alice", "developers"), PG_DEMO, CLIENT).rule()).isEqualTo(Decision.NO_MATCH);
    assertThat(policy.admit(user("ann", "analysts"), PG_DEMO, CLIENT).rule()).isEqualTo("analysts");
    assertThat(policy.status().current()).isTrue();
  }

  @Test
  void fixingABrokenFileClearsTheError() throws Exception {
    ReloadingPolicy policy = start(ALLOW_DEVS);
    Files.writeString(dir.resolve("policy.yaml"), "version: 1\nrules: [\n");
    policy.reload();
    assertThat(policy.status().current()).isFalse();
    Files.writeString(dir.resolve("policy.yaml"), ALLOW_DEVS);
    assertThat(policy.reload()).isInstanceOf(ReloadingPolicy.Reload.Unchanged.class);
    assertThat(policy.status().current()).isTrue();
  }

  @Test
  void anInvalidPolicyAtStartIsAnError() throws Exception {
    assertThatThrownBy(() -> start("version: 1\nrules: [{name: x}]\n"))
        .isInstanceOf(PolicyException.class)
        .hasMessageContaining("missing key \"effect\"");
  }

  /** A change to the files, made while the watcher runs. */
  private interface Change {
    void make() throws Exception;
  }

  /**
   * Starts a watcher, makes the change, and checks that the watcher applies it within {@code
   * within}: ann (an analyst) is then admitted by the analysts' rule.
   */
  private static void assertTheWatcherApplies(ReloadingPolicy policy, Duration debounce, Duration within, Change change)
      throws Exception {
    CountDownLatch applied = new CountDownLatch(1);
    policy.addListener((before, after) -> applied.countDown());
    PolicyWatcher watcher = PolicyWatcher.start(policy, debounce);
    try {
      change.make();
      assertThat(applied.await(within.toMillis(), TimeUnit.MILLISECONDS)).as("reload noticed and applied").isTrue();
    } finally {
      watcher.close();
    }
    assertThat(policy.admit(user("ann", "analysts"), PG_DEMO, CLIENT).rule()).isEqualTo("analysts");
  }

  @Test
  void theWatcherReloadsWhenTheFileChanges() throws Exception {
    assertTheWatcherApplies(start(ALLOW_DEVS), Duration.ofMillis(100), Duration.ofSeconds(30), () -> {
      // Replace the file the way editors do: write a temporary file, then move it into place.
      Path tmp = dir.resolve(".policy.yaml.swp");
      Files.writeString(tmp, ALLOW_ANALYSTS);
      Files.move(tmp, dir.resolve("policy.yaml"), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    });
  }

  @Test
  void aPolicyEditTakesEffectWhileOtherFilesInItsFolderAreWrittenWithoutPause() throws Exception {
    // gatehouse demo keeps its audit store (SQLite and its WAL) in the policy's folder: under load
    // the store is written many times a second. Those writes must not hold the reload back (a
    // debounce that waited for the whole folder to go quiet never ended while the gateway was busy).
    AtomicBoolean busy = new AtomicBoolean(true);
    Thread store = Thread.ofPlatform().start(() -> {
      Path wal = dir.resolve("gatehouse.db-wal");
      for (int i = 0; busy.get(); i++) {
        try {
          Files.writeString(wal, "page " + i, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
          Thread.sleep(20);
        } catch (Exception e) {
          return;
        }
      }
    });
    try {
      assertTheWatcherApplies(start(ALLOW_DEVS), Duration.ofMillis(300), Duration.ofSeconds(10), () -> {
        Thread.sleep(500);
        Files.writeString(dir.resolve("policy.yaml"), ALLOW_ANALYSTS);
      });
    } finally {
      busy.set(false);
      store.join();
    }
  }

  @Test
  void aConfigMapStyleSwapOfTheDataSymlinkIsAReload() throws Exception {
    // Kubernetes mounts a ConfigMap as policy.yaml -> ..data/policy.yaml, ..data -> ..<timestamp>,
    // and updates it by renaming a new ..data symlink over the old one: policy.yaml itself never changes.
    Path v1 = Files.createDirectory(dir.resolve("..2026_11_23_v1"));
    Files.writeString(v1.resolve("policy.yaml"), ALLOW_DEVS);
    Files.createSymbolicLink(dir.resolve("..data"), v1.getFileName());
    Files.createSymbolicLink(dir.resolve("policy.yaml"), Path.of("..data", "policy.yaml"));
    ReloadingPolicy policy = new ReloadingPolicy(new PolicyLoader(), List.of(dir.resolve("policy.yaml")), java.time.Clock.systemUTC());
    assertTheWatcherApplies(policy, Duration.ofMillis(100), Duration.ofSeconds(30), () -> {
      Path v2 = Files.createDirectory(dir.resolve("..2026_11_23_v2"));
      Files.writeString(v2.resolve("policy.yaml"), ALLOW_ANALYSTS);
      Files.createSymbolicLink(dir.resolve("..data_tmp"), v2.getFileName());
      Files.move(dir.resolve("..data_tmp"), dir.resolve("..data"), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    });
  }
}
