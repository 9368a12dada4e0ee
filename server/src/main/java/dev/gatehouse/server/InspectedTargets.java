package dev.gatehouse.server;

import dev.gatehouse.postgres.PostgresGatewayException;
import dev.gatehouse.postgres.PostgresTarget;
import dev.gatehouse.postgres.TargetInspector;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The PostgreSQL targets, each checked once with {@link TargetInspector} before its first use: a
 * role with powers that defeat every guardrail (superuser, server-file or server-program roles) is
 * refused unless its resource accepts the risk. A target that cannot be reached at start is checked
 * when a client first asks for it. Thread-safe.
 */
final class InspectedTargets implements Function<String, Optional<PostgresTarget>> {
  private static final Logger log = LoggerFactory.getLogger(InspectedTargets.class);

  private enum State { UNCHECKED, SAFE, REFUSED }

  private final Map<String, PostgresTarget> targets;
  private final TargetInspector inspector;
  private final Map<String, State> states = new ConcurrentHashMap<>();
  // Not a monitor: inspection is network I/O on a virtual thread.
  private final ReentrantLock lock = new ReentrantLock();

  InspectedTargets(Map<String, PostgresTarget> targets, TargetInspector inspector) {
    // In configuration order: errors name resources[i].
    this.targets = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(targets));
    this.inspector = inspector;
    targets.keySet().forEach(name -> states.put(name, State.UNCHECKED));
  }

  /**
   * Inspects every target now. A privileged role is a startup error; an unreachable target is
   * logged and checked again on first use.
   *
   * @throws ConfigException naming the resource and the risky power
   */
  void inspectAll(String configFile) {
    int index = 0;
    for (String name : targets.keySet()) {
      String key = "resources[" + index++ + "]";
      try {
        check(name);
      } catch (PostgresGatewayException e) {
        if ("42501".equals(e.sqlstate())) {
          throw new ConfigException(configFile, key, "resource \"" + name + "\": " + e.getMessage());
        }
        log.warn("resource \"{}\" could not be inspected at start ({}); it will be checked on first use", name, e.getMessage());
      }
    }
  }

  private void check(String name) {
    PostgresTarget target = targets.get(name);
    List<String> warnings = inspector.requireSafe(target);
    for (String warning : warnings) {
      log.warn("resource \"{}\": {} (accepted by acceptPrivilegedRole: true)", name, warning);
    }
    states.put(name, State.SAFE);
  }

  @Override
  public Optional<PostgresTarget> apply(String name) {
    PostgresTarget target = targets.get(name);
    if (target == null) return Optional.empty();
    State state = states.get(name);
    if (state == State.SAFE) return Optional.of(target);
    if (state == State.REFUSED) return Optional.empty();
    lock.lock();
    try {
      if (states.get(name) == State.UNCHECKED) {
        try {
          check(name);
        } catch (PostgresGatewayException e) {
          if ("42501".equals(e.sqlstate())) {
            states.put(name, State.REFUSED);
            log.error("resource \"{}\" refused: {}", name, e.getMessage());
          } else {
            log.warn("resource \"{}\" could not be inspected, so it is not used ({})", name, e.getMessage());
          }
          return Optional.empty();
        }
      }
    } finally {
      lock.unlock();
    }
    return states.get(name) == State.SAFE ? Optional.of(target) : Optional.empty();
  }
}
