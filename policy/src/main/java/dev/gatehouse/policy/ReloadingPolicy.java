package dev.gatehouse.policy;

import dev.gatehouse.core.ClientInfo;
import dev.gatehouse.core.Command;
import dev.gatehouse.core.Decision;
import dev.gatehouse.core.Policy;
import dev.gatehouse.core.Principal;
import dev.gatehouse.core.Resource;
import dev.gatehouse.core.Session;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.locks.ReentrantLock;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The policy the gateway runs: the latest valid version of a set of files. {@link #reload()} (called
 * by a {@link PolicyWatcher}, a signal or an API call) reads the files again; a version that fails
 * validation is rejected, logged and kept in {@link #status()}, and the previous policy stays in
 * force. A successful change is announced to the {@link PolicyListener}s.
 *
 * <p>Thread-safe: decisions read the current engine without locking; reloads are serialised.
 */
public final class ReloadingPolicy implements Policy {
  private static final Logger LOG = LoggerFactory.getLogger(ReloadingPolicy.class);

  /** What a reload did. */
  public sealed interface Reload {
    /** A new policy is in force. */
    record Applied(PolicyEngine previous, PolicyEngine current) implements Reload {}

    /** The files hold the policy already in force. */
    record Unchanged(String version) implements Reload {}

    /** The files hold an invalid policy; the previous one stays in force. */
    record Rejected(List<PolicyError> errors) implements Reload {
      public Rejected {
        errors = List.copyOf(errors);
      }
    }
  }

  private final PolicyLoader loader;
  private final List<Path> files;
  private final Clock clock;
  private final List<PolicyListener> listeners = new CopyOnWriteArrayList<>();
  private final ReentrantLock reloading = new ReentrantLock();
  private volatile State state;

  private record State(PolicyEngine engine, PolicyStatus status) {}

  /**
   * Loads the files once.
   *
   * @throws PolicyException when they do not hold a valid policy: there is nothing to fall back to
   */
  public ReloadingPolicy(PolicyLoader loader, List<Path> files, Clock clock) {
    this.loader = Objects.requireNonNull(loader, "loader == null");
    this.files = List.copyOf(files);
    this.clock = Objects.requireNonNull(clock, "clock == null");
    PolicyEngine first = loader.load(this.files);
    state = new State(first, status(first, Optional.empty()));
    LOG.info("policy {} loaded from {} ({} rules)", first.version(), first.sources(), first.ruleNames().size());
  }

  public void addListener(PolicyListener listener) {
    listeners.add(Objects.requireNonNull(listener, "listener == null"));
  }

  /** The files this policy is read from, for a watcher. */
  public List<Path> files() {
    return files;
  }

  /** The policy in force. */
  public PolicyEngine current() {
    return state.engine();
  }

  public PolicyStatus status() {
    return state.status();
  }

  @Override
  public Decision admit(Principal principal, Resource resource, ClientInfo client) {
    return state.engine().admit(principal, resource, client);
  }

  @Override
  public Decision decide(Session session, Command command) {
    return state.engine().decide(session, command);
  }

  /** Reads the files again and switches to them if they are valid and different. */
  public Reload reload() {
    reloading.lock();
    try {
      State before = state;
      PolicyEngine next;
      try {
        next = loader.load(files);
      } catch (PolicyException e) {
        String summary = e.errors().stream().map(PolicyError::toString).collect(Collectors.joining("; "));
        state = new State(before.engine(), new PolicyStatus(before.status().version(), before.status().loadedAt(),
            before.status().files(), Optional.of(summary), Optional.of(clock.instant())));
        LOG.error("policy reload rejected, policy {} stays in force: {}", before.engine().version(), summary);
        return new Reload.Rejected(e.errors());
      }
      if (next.version().equals(before.engine().version())) {
        if (before.status().lastError().isPresent()) {
          state = new State(before.engine(), status(before.engine(), Optional.empty()));
          LOG.info("policy files are valid again and unchanged: policy {} in force", next.version());
        }
        return new Reload.Unchanged(next.version());
      }
      state = new State(next, status(next, Optional.empty()));
      LOG.info("policy {} replaced {} ({} rules)", next.version(), before.engine().version(), next.ruleNames().size());
      for (PolicyListener l : listeners) {
        try {
          l.policyReloaded(before.engine(), next);
        } catch (RuntimeException e) {
          LOG.error("a policy listener failed after the switch to {}", next.version(), e);
        }
      }
      return new Reload.Applied(before.engine(), next);
    } finally {
      reloading.unlock();
    }
  }

  private PolicyStatus status(PolicyEngine engine, Optional<String> error) {
    return new PolicyStatus(engine.version(), clock.instant(), engine.sources(), error,
        error.isPresent() ? Optional.of(clock.instant()) : Optional.empty());
  }
}
