package dev.gatehouse.policy;

import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches the directories of a {@link ReloadingPolicy}'s files and reloads it once changes have
 * settled for the debounce period (editors write a file in several steps; Kubernetes swaps a
 * ConfigMap's symlink). A change counts when it names one of the policy's files, or an entry whose
 * name starts with {@code ..} (the folder and symlink a ConfigMap's update swaps in), or when the
 * operating system lost track of events; other files in the same folder (the audit store, a log,
 * when the data directory is the configuration's, as in {@code gatehouse demo}) are ignored, so
 * that their writes neither reload the policy nor, arriving without pause under load, keep the
 * debounce period from ever ending. A reload is a no-op when the policy text did not change. Runs
 * one daemon platform thread until {@link #close()}.
 */
public final class PolicyWatcher implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(PolicyWatcher.class);

  private final ReloadingPolicy policy;
  private final long debounceNanos;
  private final WatchService watch;
  private final Thread thread;
  /** The names of the policy's files in each watched folder. */
  private final Map<Path, Set<Path>> names = new HashMap<>();

  private PolicyWatcher(ReloadingPolicy policy, Duration debounce) throws IOException {
    this.policy = policy;
    this.debounceNanos = debounce.toNanos();
    this.watch = FileSystems.getDefault().newWatchService();
    for (Path f : policy.files()) {
      Path abs = f.toAbsolutePath();
      names.computeIfAbsent(abs.getParent(), d -> new LinkedHashSet<>()).add(abs.getFileName());
    }
    for (Path d : names.keySet()) {
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
        if (!relevant(watch.take())) continue;
        // Debounce: wait until no change to the policy's files arrived for a whole period.
        long quietSince = System.nanoTime();
        while (true) {
          long left = debounceNanos - (System.nanoTime() - quietSince);
          if (left <= 0) break;
          WatchKey more = watch.poll(left, TimeUnit.NANOSECONDS);
          if (more == null) break;
          if (relevant(more)) quietSince = System.nanoTime();
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

  /** Takes the key's events; true when one of them may change the policy. */
  private boolean relevant(WatchKey key) {
    boolean relevant = false;
    Set<Path> files = key.watchable() instanceof Path dir ? names.getOrDefault(dir, Set.of()) : Set.of();
    for (WatchEvent<?> e : key.pollEvents()) {
      if (e.kind() == StandardWatchEventKinds.OVERFLOW || !(e.context() instanceof Path name)) {
        relevant = true;
      } else if (files.contains(name) || name.toString().startsWith("..")) {
        relevant = true;
      }
    }
    key.reset();
    return relevant;
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
