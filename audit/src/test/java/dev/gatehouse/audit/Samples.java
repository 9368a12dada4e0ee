package dev.gatehouse.audit;

import dev.gatehouse.core.Classification;
import dev.gatehouse.core.ClientInfo;
import dev.gatehouse.core.Command;
import dev.gatehouse.core.CommandFlag;
import dev.gatehouse.core.Decision;
import dev.gatehouse.core.Obligations;
import dev.gatehouse.core.Principal;
import dev.gatehouse.core.Resource;
import dev.gatehouse.core.ResourceType;
import dev.gatehouse.core.Session;
import dev.gatehouse.core.SessionId;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Core values for audit tests: one principal, one resource, one session on it. */
public final class Samples {
  public final Principal principal;
  public final Resource resource;
  public final Session session;
  public final Decision allow = new Decision.Allow("dba-read", new Obligations(List.of("mask-email")));
  public final Decision deny = new Decision.Deny("no-ddl", "DDL is not allowed on production");

  public Samples(String resourceName) {
    principal = new Principal("sub-" + resourceName, "Alice " + resourceName, Set.of("dba", "dev"), Principal.Kind.HUMAN,
        "corp", Map.of("email", "alice@example.com"), Instant.parse("2099-01-01T00:00:00Z"));
    resource = new Resource(resourceName, ResourceType.POSTGRES, "127.0.0.1:5432", Map.of("env", "prod"));
    session = new Session(SessionId.random(), principal, resource, new ClientInfo("10.1.2.3:5555", "alice", "psql"),
        Instant.now(), Instant.parse("2099-01-01T00:00:00Z"));
  }

  public Command command(String sql) {
    return new Command("sql", sql, new Classification(List.of("SELECT"), Set.of("public.customers"), Set.of(),
        Set.of(CommandFlag.UNCLASSIFIED)), Map.of("statement", "s1"));
  }
}
