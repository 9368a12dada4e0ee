package dev.gatehouse.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gatehouse.core.Classification;
import dev.gatehouse.core.ClientInfo;
import dev.gatehouse.core.Command;
import dev.gatehouse.core.Decision;
import dev.gatehouse.core.Obligations;
import dev.gatehouse.core.Outcome;
import dev.gatehouse.core.Principal;
import dev.gatehouse.core.Resource;
import dev.gatehouse.core.ResourceType;
import dev.gatehouse.core.Session;
import dev.gatehouse.core.SessionId;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

class MetricsListenerTest {
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final MetricsListener metrics = new MetricsListener(registry);
  private final Command select = new Command("simple", "SELECT 1", Classification.unclassified(), Map.of());

  @Test
  void statementsAreCountedPerResourceAndDecision() {
    Session prod = session("pg-prod");
    Session dev = session("pg-dev");
    Decision allow = new Decision.Allow("read", new Obligations(List.of()));
    Decision deny = new Decision.Deny("no-ddl", "DDL is not allowed");
    metrics.commandDecided(prod, select, allow);
    metrics.commandDecided(prod, select, allow);
    metrics.commandDecided(prod, select, deny);
    metrics.commandDecided(dev, select, allow);
    metrics.commandDecided(dev, select, new Decision.RequireApproval("approve", List.of("bob"), "needs a reviewer"));

    assertThat(decided("pg-prod", "allow")).isEqualTo(2);
    assertThat(decided("pg-prod", "deny")).isEqualTo(1);
    assertThat(decided("pg-dev", "allow")).isEqualTo(1);
    assertThat(decided("pg-dev", "require_approval")).isEqualTo(1);
    assertThat(registry.find("gatehouse_commands_decided").tags("resource", "pg-dev", "decision", "deny").counter()).isNull();
  }

  @Test
  void durationsAreRecordedPerResourceAndStatus() {
    Session prod = session("pg-prod");
    metrics.commandCompleted(prod, select, Outcome.ok(1, Duration.ofMillis(3)));
    metrics.commandCompleted(prod, select, Outcome.ok(1, Duration.ofMillis(5)));
    metrics.commandCompleted(prod, select, Outcome.error("42P01", Duration.ofMillis(2)));
    metrics.commandCompleted(session("pg-dev"), select, new Outcome(Outcome.Status.REFUSED, -1, Optional.empty(), Duration.ZERO));

    var ok = registry.find("gatehouse_command_duration").tags("resource", "pg-prod", "status", "ok").timer();
    assertThat(ok.count()).isEqualTo(2);
    assertThat(ok.totalTime(java.util.concurrent.TimeUnit.MILLISECONDS)).isEqualTo(8.0);
    assertThat(registry.find("gatehouse_command_duration").tags("resource", "pg-prod", "status", "error").timer().count()).isEqualTo(1);
    assertThat(registry.find("gatehouse_command_duration").tags("resource", "pg-dev", "status", "refused").timer().count()).isEqualTo(1);
  }

  private double decided(String resource, String decision) {
    return registry.get("gatehouse_commands_decided").tags("resource", resource, "decision", decision).counter().count();
  }

  private static Session session(String resource) {
    Principal alice = new Principal("sub-alice", "Alice", Set.of("dba"), Principal.Kind.HUMAN, "corp", Map.of(),
        Instant.parse("2099-01-01T00:00:00Z"));
    return new Session(SessionId.random(), alice, new Resource(resource, ResourceType.POSTGRES, "127.0.0.1:5432", Map.of()),
        new ClientInfo("10.1.2.3:5555", "alice", "psql"), Instant.now(), Instant.parse("2099-01-01T00:00:00Z"));
  }
}
