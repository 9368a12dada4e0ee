package dev.gatehouse.postgres;

import dev.gatehouse.core.AuditHandle;
import dev.gatehouse.core.AuditTrail;
import dev.gatehouse.core.AuthenticationException;
import dev.gatehouse.core.Authenticator;
import dev.gatehouse.core.Checkpoint;
import dev.gatehouse.core.ClientInfo;
import dev.gatehouse.core.Command;
import dev.gatehouse.core.CommandFlag;
import dev.gatehouse.core.Decision;
import dev.gatehouse.core.Obligations;
import dev.gatehouse.core.Outcome;
import dev.gatehouse.core.Policy;
import dev.gatehouse.core.Principal;
import dev.gatehouse.core.Resource;
import dev.gatehouse.core.ResourceType;
import dev.gatehouse.core.Secret;
import dev.gatehouse.core.Session;
import dev.gatehouse.core.SessionLimits;
import dev.gatehouse.postgres.sql.SqlClassifier;
import dev.gatehouse.testkit.PostgresFixture;
import dev.gatehouse.testkit.Psql;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

/**
 * A PostgresGateway in-process in front of a fresh database on the test PostgreSQL, with a real
 * Checkpoint over simple implementations of our own ports: tokens from a map, one resource, a
 * policy that allows everything except DROP, fast-path function calls, statements on a table named guarded,
 * opaque code in statements marked {@code read-only caller}
 * (statements on approval_needed need an approval), and an audit trail that
 * records events in a list.
 */
final class GatewayHarness implements AutoCloseable {
  static final String RESOURCE = "pg-test";
  static final String TOKEN = "alice-token-" + "x".repeat(3000); // tokens are JWTs of several KiB

  /** One audit event, as recorded. */
  sealed interface Event {
    record Opened(Session session) implements Event {}
    record Refused(String resource, String rule, String reason) implements Event {}
    record Decided(String eventId, Command command, Decision decision) implements Event {}
    record Completed(String eventId, Outcome outcome) implements Event {}
    record Closed(Session session, String reason) implements Event {}
  }

  /** Records every event; thread-safe. */
  static final class RecordingAudit implements AuditTrail {
    final List<Event> events = new CopyOnWriteArrayList<>();
    private final AtomicLong ids = new AtomicLong();

    @Override public void sessionOpened(Session session) { events.add(new Event.Opened(session)); }

    @Override public void admissionRefused(Optional<Principal> principal, String resourceName, ClientInfo client,
        String rule, String reason) {
      events.add(new Event.Refused(resourceName, rule, reason));
    }

    @Override public AuditHandle commandDecided(Session session, Command command, Decision decision) {
      String id = "e" + ids.incrementAndGet();
      events.add(new Event.Decided(id, command, decision));
      return new AuditHandle(id);
    }

    @Override public void commandCompleted(Session session, AuditHandle handle, Outcome outcome) {
      events.add(new Event.Completed(handle.eventId(), outcome));
    }

    @Override public void sessionClosed(Session session, String reason) { events.add(new Event.Closed(session, reason)); }

    <T extends Event> List<T> all(Class<T> type) {
      return events.stream().filter(type::isInstance).map(type::cast).toList();
    }

    /** The outcome recorded for the decision of the first command whose text contains {@code text}. */
    Optional<Outcome> outcomeOf(String text) {
      Optional<String> id = all(Event.Decided.class).stream()
          .filter(d -> d.command().text().contains(text)).map(Event.Decided::eventId).findFirst();
      return id.flatMap(i -> all(Event.Completed.class).stream().filter(c -> c.eventId().equals(i))
          .map(Event.Completed::outcome).findFirst());
    }
  }

  static class DenyDrops implements Policy {
    @Override public Decision admit(Principal principal, Resource resource, ClientInfo client) {
      return new Decision.Allow("allow-connect", Obligations.NONE);
    }

    @Override public Decision decide(Session session, Command command) {
      if (command.classification().kinds().stream().anyMatch(k -> k.startsWith("DROP"))) {
        return new Decision.Deny("no-drop", "DROP is not allowed");
      }
      if (command.classification().has(CommandFlag.FUNCTION_CALL)) {
        return new Decision.Deny("no-fastpath", "fast-path function calls are not allowed");
      }
      if (command.classification().has(CommandFlag.OPAQUE_CODE) && command.text().contains("read-only caller")) {
        return new Decision.Deny("no-opaque-code", "a read-only caller may not run code Gatehouse cannot see into");
      }
      if (command.classification().has(CommandFlag.UNCLASSIFIED) && command.text().contains("unread_parse_probe")) {
        return new Decision.Deny("default-deny", "Gatehouse could not classify this command");
      }
      if (command.classification().objects().stream().anyMatch(o -> o.endsWith("guarded"))) {
        return new Decision.Deny("no-guarded", "table guarded is not for this session");
      }
      if (command.classification().objects().stream().anyMatch(o -> o.endsWith("approval_needed"))) {
        return new Decision.RequireApproval("approve-first", List.of("dba"), "table approval_needed needs a reviewer");
      }
      return new Decision.Allow("allow-rest", Obligations.NONE);
    }
  }

  final PostgresFixture pg = PostgresFixture.shared();
  final String database;
  final RecordingAudit audit = new RecordingAudit();
  final Map<String, Instant> tokens = new ConcurrentHashMap<>();
  final Checkpoint checkpoint;
  final PostgresGateway gateway;

  GatewayHarness() {
    this(PostgresListenerConfig.loopback(0));
  }

  GatewayHarness(PostgresListenerConfig config) {
    this(config, new DenyDrops(), List.of());
  }

  /** With another policy, and listeners of the Checkpoint (to act at a moment of a session's startup). */
  GatewayHarness(PostgresListenerConfig config, Policy policy, List<dev.gatehouse.core.CheckpointListener> listeners) {
    this(config, policy, listeners, Optional.empty());
  }

  /** With the resource's target elsewhere: {@code target} (a TLS one, say) instead of a database of the shared server. */
  GatewayHarness(PostgresListenerConfig config, PostgresTarget target) {
    this(config, new DenyDrops(), List.of(), Optional.of(target));
  }

  private GatewayHarness(PostgresListenerConfig config, Policy policy, List<dev.gatehouse.core.CheckpointListener> listeners,
      Optional<PostgresTarget> elsewhere) {
    database = pg.createDatabase("gw");
    pg.execute(database, "CREATE TABLE t (id int primary key, v text)");
    tokens.put(TOKEN, Instant.now().plus(Duration.ofHours(1)));
    Authenticator authenticator = token -> {
      Instant expiry = tokens.get(token.reveal());
      if (expiry == null) throw new AuthenticationException("token not accepted");
      return new Principal("alice", "alice@example.com", Set.of("dev"), Principal.Kind.HUMAN, "test-issuer",
          Map.of(), expiry);
    };
    Resource resource = new Resource(RESOURCE, ResourceType.POSTGRES, pg.host() + ":" + pg.port(), Map.of());
    checkpoint = new Checkpoint(authenticator, name -> name.equals(RESOURCE) ? Optional.of(resource) : Optional.empty(),
        policy, audit, SessionLimits.DEFAULT, Clock.systemUTC(), listeners);
    PostgresTarget target = elsewhere.orElseGet(() -> new PostgresTarget(pg.host(), pg.port(), database, pg.superuser(),
        Secret.of(""), TargetTls.disabled(), true));
    gateway = new PostgresGateway(config, checkpoint,
        name -> name.equals(RESOURCE) ? Optional.of(target) : Optional.empty(), SqlClassifier.load(),
        new BackendConnector());
    gateway.start();
  }

  String conninfo() {
    return "host=127.0.0.1 port=" + gateway.port() + " dbname=" + RESOURCE + " user=alice sslmode=disable";
  }

  Psql psql() {
    return Psql.connect(conninfo()).withPassword(Secret.of(TOKEN));
  }

  Connection jdbc() throws SQLException {
    return jdbc(new Properties());
  }

  Connection jdbc(Properties extra) throws SQLException {
    Properties p = new Properties();
    p.setProperty("user", "alice");
    p.setProperty("password", TOKEN);
    p.setProperty("sslmode", "disable");
    p.putAll(extra);
    return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + gateway.port() + "/" + RESOURCE, p);
  }

  /** A direct connection to the test database, bypassing the gateway, to check the target's state. */
  Connection admin() throws SQLException {
    return pg.connect(database);
  }

  long count(String table) throws SQLException {
    try (Connection c = admin(); var rs = c.createStatement().executeQuery("SELECT count(*) FROM " + table)) {
      rs.next();
      return rs.getLong(1);
    }
  }

  boolean tableExists(String table) throws SQLException {
    try (Connection c = admin(); var rs = c.createStatement().executeQuery("SELECT to_regclass('" + table + "') IS NOT NULL")) {
      rs.next();
      return rs.getBoolean(1);
    }
  }

  /** Waits (bounded) until a condition holds; returns whether it did. */
  static boolean eventually(BooleanSupplier condition) {
    Instant until = Instant.now().plus(Duration.ofSeconds(20));
    while (Instant.now().isBefore(until)) {
      if (condition.getAsBoolean()) return true;
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
    }
    return condition.getAsBoolean();
  }

  List<Event.Closed> closedSessions() {
    return new ArrayList<>(audit.all(Event.Closed.class));
  }

  @Override
  public void close() {
    gateway.close();
    pg.dropDatabase(database);
  }
}
