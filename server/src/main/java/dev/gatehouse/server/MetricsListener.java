package dev.gatehouse.server;

import dev.gatehouse.core.Admission;
import dev.gatehouse.core.ClientInfo;
import dev.gatehouse.core.Command;
import dev.gatehouse.core.CheckpointListener;
import dev.gatehouse.core.Decision;
import dev.gatehouse.core.Outcome;
import dev.gatehouse.core.Session;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.Locale;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Counts what passes the Checkpoint. Tags are bounded: resource names come from configuration, never
 * from client input (a refused admission is counted by reason only, since its resource name is
 * whatever the client typed).
 *
 * <p>Per statement it looks up meters only: registering one sorts and merges its tags, and even a
 * key string per statement is an allocation on every statement's path, so the meters of a resource
 * are kept in one {@link ResourceMeters}, found by the resource's name (whose hash the string
 * caches), and indexed there by decision and status. Thread-safe.
 */
public final class MetricsListener implements CheckpointListener {
  private static final Outcome.Status[] STATUSES = Outcome.Status.values();

  private final MeterRegistry registry;
  private final AtomicInteger live = new AtomicInteger();
  private final ConcurrentHashMap<String, ResourceMeters> resources = new ConcurrentHashMap<>();

  public MetricsListener(MeterRegistry registry) {
    this.registry = registry;
    Gauge.builder("gatehouse_sessions_live", live, AtomicInteger::get)
        .description("Sessions open through this gateway now").register(registry);
  }

  @Override
  public void sessionOpened(Session session) {
    live.incrementAndGet();
    Counter.builder("gatehouse_sessions_opened").description("Sessions admitted, by resource")
        .tag("resource", session.resource().name()).register(registry).increment();
  }

  @Override
  public void admissionRefused(String resourceName, ClientInfo client, Admission.Refused refusal) {
    Counter.builder("gatehouse_admissions_refused")
        .description("Connections refused, by reason (invalid token, unknown resource, forbidden, too many, audit unavailable)")
        .tag("reason", refusal.reason().name().toLowerCase(Locale.ROOT))
        .register(registry)
        .increment();
  }

  @Override
  public void commandDecided(Session session, Command command, Decision decision) {
    int effect = switch (decision) {
      case Decision.Allow a -> 0;
      case Decision.Deny d -> 1;
      case Decision.RequireApproval r -> 2;
    };
    meters(session).decided(effect).increment();
  }

  @Override
  public void commandCompleted(Session session, Command command, Outcome outcome) {
    meters(session).duration(outcome.status()).record(outcome.duration());
  }

  @Override
  public void sessionClosed(Session session, String reason) {
    live.decrementAndGet();
  }

  private ResourceMeters meters(Session session) {
    String resource = session.resource().name();
    ResourceMeters m = resources.get(resource);
    return m != null ? m : resources.computeIfAbsent(resource, ResourceMeters::new);
  }

  /** One resource's statement meters, each registered at its first use. */
  private final class ResourceMeters {
    private static final String[] EFFECTS = {"allow", "deny", "require_approval"};

    private final String resource;
    private final AtomicReferenceArray<Counter> decided = new AtomicReferenceArray<>(EFFECTS.length);
    private final AtomicReferenceArray<Timer> durations = new AtomicReferenceArray<>(STATUSES.length);

    ResourceMeters(String resource) {
      this.resource = resource;
    }

    Counter decided(int effect) {
      Counter c = decided.get(effect);
      if (c == null) {
        // Two threads may both register: the registry returns the same meter to both.
        c = Counter.builder("gatehouse_commands_decided").description("Statements decided, by resource and decision")
            .tag("resource", resource).tag("decision", EFFECTS[effect]).register(registry);
        decided.set(effect, c);
      }
      return c;
    }

    Timer duration(Outcome.Status status) {
      Timer t = durations.get(status.ordinal());
      if (t == null) {
        t = Timer.builder("gatehouse_command_duration")
            .description("Time from a statement's decision to its outcome, by resource and outcome status")
            .tag("resource", resource)
            .tag("status", status.name().toLowerCase(Locale.ROOT))
            .register(registry);
        durations.set(status.ordinal(), t);
      }
      return t;
    }
  }
}
