package dev.gatehouse.server;

import dev.gatehouse.core.Admission;
import dev.gatehouse.core.ClientInfo;
import dev.gatehouse.core.Command;
import dev.gatehouse.core.CheckpointListener;
import dev.gatehouse.core.Decision;
import dev.gatehouse.core.Outcome;
import dev.gatehouse.core.Session;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Counts what passes the Checkpoint. Tags are bounded: resource names come from configuration, never
 * from client input (a refused admission is counted by reason only, since its resource name is
 * whatever the client typed).
 */
public final class MetricsListener implements CheckpointListener {
  private final MeterRegistry registry;
  private final AtomicInteger live = new AtomicInteger();
  // Per statement, registering a meter sorts and merges its tags: keep the meters, keyed by their tags.
  private final java.util.concurrent.ConcurrentHashMap<String, Counter> decided = new java.util.concurrent.ConcurrentHashMap<>();
  private final java.util.concurrent.ConcurrentHashMap<String, Timer> durations = new java.util.concurrent.ConcurrentHashMap<>();

  public MetricsListener(MeterRegistry registry) {
    this.registry = registry;
    registry.gauge("gatehouse_sessions_live", live);
  }

  @Override
  public void sessionOpened(Session session) {
    live.incrementAndGet();
    Counter.builder("gatehouse_sessions_opened").tag("resource", session.resource().name()).register(registry).increment();
  }

  @Override
  public void admissionRefused(String resourceName, ClientInfo client, Admission.Refused refusal) {
    Counter.builder("gatehouse_admissions_refused")
        .tag("reason", refusal.reason().name().toLowerCase(Locale.ROOT))
        .register(registry)
        .increment();
  }

  @Override
  public void commandDecided(Session session, Command command, Decision decision) {
    String effect = switch (decision) {
      case Decision.Allow a -> "allow";
      case Decision.Deny d -> "deny";
      case Decision.RequireApproval r -> "require_approval";
    };
    String resource = session.resource().name();
    decided.computeIfAbsent(resource + '\u0000' + effect, k -> Counter.builder("gatehouse_commands_decided")
        .tag("resource", resource)
        .tag("decision", effect)
        .register(registry)).increment();
  }

  @Override
  public void commandCompleted(Session session, Command command, Outcome outcome) {
    String resource = session.resource().name();
    String status = outcome.status().name().toLowerCase(Locale.ROOT);
    durations.computeIfAbsent(resource + '\u0000' + status, k -> Timer.builder("gatehouse_command_duration")
        .tag("resource", resource)
        .tag("status", status)
        .register(registry)).record(outcome.duration());
  }

  @Override
  public void sessionClosed(Session session, String reason) {
    live.decrementAndGet();
  }
}
