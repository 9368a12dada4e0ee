package dev.gatehouse.policy;

import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches the directories of a {@link ReloadingPolicy}'s files and reloads it once changes have
 * settled for the debounce period (editors write a file in several steps; Kubernetes swaps a
 * ConfigMap's symlink). Any change in those directories triggers a reload, which is cheap and a
 * no-op when the policy text did not change. Runs one daemon platform thread until {@link #close()}.
 */
public final class PolicyWatcher implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(PolicyWatcher.class);

  private final ReloadingPolicy policy;
  private final long debounceNanos;
  private final WatchService watch;
  private final Thread thread;

  private PolicyWatcher(ReloadingPolicy policy, Duration debounce) throws IOException {
    this.policy = policy;
    this.debounceNanos = debounce.toNanos();
    this.watch = FileSystems.getDefault().newWatchService();
    Set<Path> dirs = new LinkedHashSet<>();
    for (Path f : policy.files()) dirs.add(f.toAbsolutePath().getParent());
    for (Path d : dirs) {
      d.register(watch, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY,
          StandardWatchEventKinds.ENTRY_DELETE);
    }
    thread = Thread.ofPlatform().daemon().name("policy-watcher").unstarted(this::run);
  }

  /**
   * Starts watching.
   *
   * @param debounce how long the files must stay quiet before a reload (e.g. 500 ms)
   * @throws PolicyException when the directories cannot be watched
   */
  public static PolicyWatcher start(ReloadingPolicy policy, Duration debounce) {
    Objects.requireNonNull(policy, "policy == null");
    if (debounce.isNegative()) throw new IllegalArgumentException("debounce < 0");
    try {
      PolicyWatcher w = new PolicyWatcher(policy, debounce);
      w.thread.start();
      return w;
    } catch (IOException e) {
      throw new PolicyException("cannot watch the policy files' directories: " + e.getMessage());
    }
  }

  private void run() {
    try {
      while (true) {
        WatchKey key = watch.take();
        drain(key);
        // Debounce: wait until no event arrived for a whole period.
        while (true) {
          WatchKey more = watch.poll(debounceNanos, TimeUnit.NANOSECONDS);
          if (more == null) break;
          drain(more);
        }
        try {
          policy.reload();
        } catch (RuntimeException e) {
          LOG.error("policy reload failed unexpectedly; the policy in force is unchanged", e);
        }
      }
    } catch (InterruptedException | ClosedWatchServiceException e) {
      // close() was called
    }
  }

  private static void drain(WatchKey key) {
    key.pollEvents();
    key.reset();
  }

  @Override
  public void close() {
    try {
      watch.close();
    } catch (IOException e) {
      LOG.warn("closing the policy watch service failed", e);
    }
    thread.interrupt();
    try {
      thread.join(TimeUnit.SECONDS.toMillis(5));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
