package dev.gatehouse.policy;

import dev.gatehouse.core.ClientInfo;
import dev.gatehouse.core.Command;
import dev.gatehouse.core.CommandFlag;
import dev.gatehouse.core.Principal;
import dev.gatehouse.core.Resource;
import dev.gatehouse.core.Session;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * What one decision is about: who, where, which command (absent when connecting), and when. The
 * CEL variables are built only if a CEL condition is reached, once per decision. Confined to the
 * deciding thread.
 */
final class Facts {
  final Principal principal;
  final Resource resource;
  final ClientInfo client;
  final Optional<Session> session;
  final Optional<Command> command;
  final Instant now;
  private Map<String, Object> cel;

  Facts(Principal principal, Resource resource, ClientInfo client, Optional<Session> session,
      Optional<Command> command, Instant now) {
    this.principal = principal;
    this.resource = resource;
    this.client = client;
    this.session = session;
    this.command = command;
    this.now = now;
  }

  Map<String, Object> celVariables() {
    if (cel == null) {
      cel = Map.of(
          "principal", principalMap(),
          "resource", Map.of(
              "name", resource.name(),
              "type", resource.type().name().toLowerCase(Locale.ROOT),
              "address", resource.address(),
              "tags", Map.copyOf(resource.tags())),
          "session", sessionMap(),
          "command", commandMap(),
          "now", now);
    }
    return cel;
  }

  private Map<String, Object> principalMap() {
    Map<String, Object> claims = new HashMap<>();
    principal.claims().forEach((k, v) -> claims.put(k, celValue(v)));
    return Map.of(
        "subject", principal.subject(),
        "display_name", principal.displayName(),
        "groups", List.copyOf(principal.groups()),
        "kind", principal.kind().name().toLowerCase(Locale.ROOT),
        "issuer", principal.issuer(),
        "claims", claims,
        "expires_at", principal.expiresAt());
  }

  private Map<String, Object> sessionMap() {
    Map<String, Object> m = new HashMap<>();
    m.put("stage", command.isPresent() ? "command" : "connect");
    m.put("client_address", client.address());
    m.put("client_user", client.claimedUser());
    m.put("application", client.application());
    m.put("id", session.map(s -> s.id().value()).orElse(""));
    m.put("start", session.map(Session::start).orElse(now));
    m.put("deadline", session.map(Session::deadline).orElse(principal.expiresAt()));
    return m;
  }

  private Map<String, Object> commandMap() {
    if (command.isEmpty()) {
      return Map.of("protocol", "", "text", "", "kinds", List.of(), "objects", List.of(),
          "functions", List.of(), "flags", List.of(), "details", Map.of());
    }
    Command c = command.get();
    return Map.of(
        "protocol", c.protocol(),
        "text", c.text(),
        "kinds", c.classification().kinds(),
        "objects", List.copyOf(c.classification().objects()),
        "functions", List.copyOf(c.classification().functions()),
        "flags", c.classification().flags().stream().map(CommandFlag::name)
            .map(n -> n.toLowerCase(Locale.ROOT)).sorted().toList(),
        "details", c.details());
  }

  /** CEL knows int64, double, string, bool, lists, maps and timestamps; claims are JSON values. */
  static Object celValue(Object v) {
    if (v == null) return "";
    if (v instanceof String || v instanceof Boolean || v instanceof Long || v instanceof Double || v instanceof Instant) return v;
    if (v instanceof Integer || v instanceof Short || v instanceof Byte) return ((Number) v).longValue();
    if (v instanceof Float f) return f.doubleValue();
    if (v instanceof java.util.Date d) return d.toInstant(); // JWT libraries hand out exp/iat/nbf as Dates
    if (v instanceof Number n) return n.doubleValue();
    if (v instanceof Map<?, ?> map) {
      Map<String, Object> out = new HashMap<>();
      map.forEach((k, x) -> out.put(String.valueOf(k), celValue(x)));
      return out;
    }
    if (v instanceof Collection<?> list) {
      List<Object> out = new ArrayList<>(list.size());
      for (Object x : list) out.add(celValue(x));
      return out;
    }
    return String.valueOf(v);
  }
}
