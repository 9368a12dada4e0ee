package dev.gatehouse.postgres;

import dev.gatehouse.core.AuthenticationException;
import dev.gatehouse.core.Authenticator;
import dev.gatehouse.core.Checkpoint;
import dev.gatehouse.core.ClientInfo;
import dev.gatehouse.core.Command;
import dev.gatehouse.core.Decision;
import dev.gatehouse.core.Obligations;
import dev.gatehouse.core.Policy;
import dev.gatehouse.core.Principal;
import dev.gatehouse.core.Resource;
import dev.gatehouse.core.ResourceType;
import dev.gatehouse.core.Secret;
import dev.gatehouse.core.Session;
import dev.gatehouse.core.SessionLimits;
import dev.gatehouse.masking.Masking;
import dev.gatehouse.masking.MaskingRules;
import dev.gatehouse.masking.MaskingRules.Rule;
import dev.gatehouse.masking.MaskingRules.Style;
import dev.gatehouse.postgres.sql.SqlClassifier;
import dev.gatehouse.testkit.PostgresFixture;
import dev.gatehouse.testkit.Psql;
import dev.gatehouse.testkit.TcpRelay;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;

/**
 * A gateway with masking rules in front of a database of customers holding personal data, reached
 * through a {@link TcpRelay} so tests can scan every byte a client received. Policy: alice
 * (group dev) gets every statement masked by rules email, card, phone and ssn; dana (group dba)
 * sees clear data (the exemption is policy's, as an {@code unless} would write it); DROP and
 * fast-path calls are denied.
 */
final class MaskingHarness implements AutoCloseable {
  static final String RESOURCE = "pg-mask";
  static final String ALICE = "alice-token-" + "a".repeat(64);
  static final String DANA = "dana-token-" + "d".repeat(64);
  /** Masked like alice, except that the policy attaches no mask to her FETCHes (a rule limited to SELECT). */
  static final String FRAN = "fran-token-" + "f".repeat(64);

  /** Every clear personal value in the database; none may reach alice. */
  static final List<String> CLEAR = List.of(
      "ada@example.com", "grace@example.com", "4111 1111 1111 1111", "4111111111111111",
      "5555-5555-5555-4444", "5555555555554444", "+44 20 7946 0018", "+1 202 555 0143", "536-22-8765", "536-22-1999");

  static final String SETUP = """
      CREATE TABLE customers (
        id int PRIMARY KEY, name text NOT NULL, email text NOT NULL UNIQUE, card_number text NOT NULL,
        phone text NOT NULL, ssn text NOT NULL, country text NOT NULL);
      INSERT INTO customers VALUES
        (1, 'Ada Lovelace', 'ada@example.com', '4111 1111 1111 1111', '+44 20 7946 0018', '536-22-8765', 'GB'),
        (2, 'Grace Hopper', 'grace@example.com', '5555-5555-5555-4444', '+1 202 555 0143', '536-22-1999', 'US');
      CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers, note text);
      INSERT INTO orders VALUES (10, 1, 'first'), (11, 2, 'second');
      CREATE VIEW contacts AS SELECT c.id, c.name, c.email AS contact, upper(c.email) AS shout FROM customers c;
      CREATE VIEW contacts_of_contacts AS SELECT id, contact FROM contacts;
      CREATE MATERIALIZED VIEW customer_cards AS SELECT id, card_number FROM customers;
      """;

  final PostgresFixture pg = PostgresFixture.shared();
  final String database;
  final GatewayHarness.RecordingAudit audit = new GatewayHarness.RecordingAudit();
  final PostgresGateway gateway;
  /** alice's clients connect through this relay; dana's through {@link #clearRelay}. */
  final TcpRelay relay;
  final TcpRelay clearRelay;

  MaskingHarness() {
    this(defaultRules());
  }

  MaskingHarness(MaskingRules rules) {
    List<String> masks = rules.rules().stream().map(Rule::name).toList();
    database = pg.createDatabase("mask");
    pg.execute(database, SETUP);
    Map<String, Principal> people = Map.of(
        ALICE, principal("alice", "dev"),
        DANA, principal("dana", "dba"),
        FRAN, principal("fran", "fetchers"));
    Authenticator authenticator = token -> {
      Principal p = people.get(token.reveal());
      if (p == null) throw new AuthenticationException("token not accepted");
      return p;
    };
    Resource resource = new Resource(RESOURCE, ResourceType.POSTGRES, pg.host() + ":" + pg.port(), Map.of());
    Policy policy = new Policy() {
      @Override public Decision admit(Principal principal, Resource r, ClientInfo client) {
        return new Decision.Allow("connect", Obligations.NONE);
      }

      @Override public Decision decide(Session session, Command command) {
        if (command.classification().kinds().stream().anyMatch(k -> k.startsWith("DROP"))) {
          return new Decision.Deny("no-drop", "DROP is not allowed");
        }
        // Who sees clear data is policy: the dba group is exempt from the masks.
        if (session.principal().inGroup("dba")) return new Decision.Allow("dba", Obligations.NONE);
        if (session.principal().inGroup("fetchers") && command.classification().kinds().contains("FETCH")) {
          return new Decision.Allow("fetch", Obligations.NONE);
        }
        // A policy whose masks name only some statements: fran's settings and DO blocks carry none.
        if (session.principal().inGroup("fetchers")
            && (command.classification().kinds().equals(List.of("SET")) || command.classification().kinds().equals(List.of("DO")))) {
          return new Decision.Allow("set", Obligations.NONE);
        }
        return new Decision.Allow("dev", new Obligations(masks));
      }
    };
    Checkpoint checkpoint = new Checkpoint(authenticator,
        name -> name.equals(RESOURCE) ? Optional.of(resource) : Optional.empty(),
        policy, audit, SessionLimits.DEFAULT, Clock.systemUTC(), List.of());
    PostgresTarget target = new PostgresTarget(pg.host(), pg.port(), database, pg.superuser(), Secret.of(""),
        TargetTls.disabled(), true);
    gateway = new PostgresGateway(PostgresListenerConfig.loopback(0), checkpoint,
        name -> name.equals(RESOURCE) ? Optional.of(target) : Optional.empty(), SqlClassifier.load(),
        new BackendConnector(), Clock.systemUTC(),
        Masking.compile(rules, Optional.of(Secret.of("k".repeat(32)))), Duration.ofSeconds(60));
    gateway.start();
    try {
      relay = new TcpRelay(gateway.port());
      clearRelay = new TcpRelay(gateway.port());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static MaskingRules defaultRules() {
    return new MaskingRules(List.of(
        new Rule("email", null, null, List.of("*.*.email"), Style.redact(), List.of("email"), null, null, null),
        new Rule("card", null, null, List.of("*.customers.card_number"), Style.keepLast(4), List.of("card"),
            null, null, null),
        new Rule("phone", null, null, List.of("*.customers.phone"), Style.placeholder("[phone]"), List.of("phone"),
            null, null, null),
        new Rule("ssn", null, null, List.of("*.customers.ssn"), Style.redact(), List.of("ssn"), null, "deny", null)));
  }

  private static Principal principal(String name, String group) {
    return new Principal(name, name + "@gatehouse.test", Set.of(group), Principal.Kind.HUMAN, "test-issuer", Map.of(),
        Instant.now().plus(Duration.ofHours(1)));
  }

  String conninfo(String user) {
    int port = user.equals("alice") ? relay.port() : clearRelay.port();
    return "host=127.0.0.1 port=" + port + " dbname=" + RESOURCE + " user=" + user + " sslmode=disable";
  }

  Psql alice() {
    return Psql.connect(conninfo("alice")).withPassword(Secret.of(ALICE)).withVerboseErrors();
  }

  Psql dana() {
    return Psql.connect(conninfo("dana")).withPassword(Secret.of(DANA));
  }

  Psql fran() {
    return Psql.connect(conninfo("fran")).withPassword(Secret.of(FRAN));
  }

  Connection jdbc(String token, Properties extra) throws SQLException {
    Properties p = new Properties();
    p.setProperty("user", token.startsWith("alice") ? "alice" : "dana");
    p.setProperty("password", token);
    p.setProperty("sslmode", "disable");
    p.putAll(extra);
    int port = token.equals(ALICE) ? relay.port() : clearRelay.port();
    return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/" + RESOURCE, p);
  }

  /** Runs SQL directly on the target database, bypassing the gateway. */
  void admin(String sql) {
    pg.execute(database, sql);
  }

  long count(String fromWhere) {
    try (Connection c = pg.connect(database); var rs = c.createStatement().executeQuery("SELECT count(*) FROM " + fromWhere)) {
      rs.next();
      return rs.getLong(1);
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Every clear value found in the client's received bytes or in the audit log. */
  List<String> leaks() {
    String bytes = relay.received();
    String auditText = audit.events.toString();
    return CLEAR.stream().filter(v -> bytes.contains(v) || auditText.contains(v)).toList();
  }

  @Override
  public void close() throws IOException {
    relay.close();
    clearRelay.close();
    gateway.close();
    pg.dropDatabase(database);
  }
}
