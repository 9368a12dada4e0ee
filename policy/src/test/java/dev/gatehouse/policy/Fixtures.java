package dev.gatehouse.policy;

import dev.gatehouse.core.Classification;
import dev.gatehouse.core.ClientInfo;
import dev.gatehouse.core.Command;
import dev.gatehouse.core.CommandFlag;
import dev.gatehouse.core.Principal;
import dev.gatehouse.core.Resource;
import dev.gatehouse.core.ResourceType;
import dev.gatehouse.core.Session;
import dev.gatehouse.core.SessionId;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Values for tests: principals, resources, sessions and classified commands. */
final class Fixtures {
  private Fixtures() {}

  static final Instant NOW = Instant.parse("2025-06-04T10:00:00Z"); // a Wednesday
  static final ClientInfo CLIENT = new ClientInfo("127.0.0.1:5000", "alice", "psql");
  static final Resource PG_DEMO = new Resource("pg-demo", ResourceType.POSTGRES, "127.0.0.1:5432", Map.of("env", "dev"));
  static final Resource PG_PROD = new Resource("pg-prod-eu", ResourceType.POSTGRES, "10.0.0.1:5432", Map.of("env", "prod"));

  static Principal user(String subject, String... groups) {
    return new Principal(subject, subject + "@example.com", Set.of(groups), Principal.Kind.HUMAN, "corp",
        Map.of(), NOW.plusSeconds(3600));
  }

  static Principal machine(String subject, Map<String, Object> claims) {
    return new Principal(subject, subject, Set.of(), Principal.Kind.MACHINE, "github", claims, NOW.plusSeconds(3600));
  }

  static Session session(Principal p, Resource r) {
    return new Session(SessionId.random(), p, r, CLIENT, NOW, p.expiresAt());
  }

  static Command sql(String text, List<String> kinds, Set<String> objects, Set<String> functions, CommandFlag... flags) {
    return new Command("sql", text, new Classification(kinds, objects, functions, Set.copyOf(Arrays.asList(flags))), Map.of());
  }

  static Command select(String... tables) {
    return sql("SELECT ...", List.of("SELECT"), Set.of(tables), Set.of());
  }

  static Command kind(String kind, String table, CommandFlag... flags) {
    return sql(kind + " " + table, List.of(kind), Set.of(table), Set.of(), flags);
  }

  static Command unclassified() {
    return new Command("sql", "???", Classification.unclassified(), Map.of());
  }

  static Clock clock(Instant at) {
    return Clock.fixed(at, ZoneOffset.UTC);
  }

  static PolicyEngine policy(String yaml) {
    return policy(NOW, yaml);
  }

  static PolicyEngine policy(Instant at, String yaml) {
    return new PolicyLoader(clock(at), GrantLookup.NONE).compile(List.of(new PolicySource("test.yaml", yaml)));
  }
}
