package dev.gatehouse.it;

import static org.awaitility.Awaitility.await;

import dev.gatehouse.audit.AuditEvent;
import dev.gatehouse.audit.AuditFormatter;
import dev.gatehouse.audit.EventBody;
import dev.gatehouse.core.Outcome;
import dev.gatehouse.core.Secret;
import dev.gatehouse.testkit.AuditRecord;
import dev.gatehouse.testkit.GatewayUnderTest;
import dev.gatehouse.testkit.OidcFixture;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.UUID;

/**
 * testkit's {@link GatewayUnderTest} over the real PostgreSQL gateway ({@link GatewayStack}): pgjdbc
 * as the client (a session that lives across commands), the reference policy, the OIDC provider and
 * the audit store read back through the store module.
 *
 * <ul>
 *   <li>{@link Caller#PERMITTED} is alice (developers): may connect and run {@code SELECT count(*)
 *       FROM customers}; {@code DROP TABLE orders} is denied by rule {@code no-drop-truncate};
 *   <li>{@link Caller#FORBIDDEN} is eve (contractors): no rule lets her connect (28000);
 *   <li>{@link Caller#BAD_TOKEN} presents a token signed by a key the issuer never published (28P01).
 * </ul>
 *
 * <p>Each session gets a unique application name; the gateway passes it to the target and records
 * it on the session, which is how the adapter learns the session id and finds the target backend.
 */
final class PostgresGatewayAdapter implements GatewayUnderTest {
  private final GatewayStack stack;
  private final TargetDatabase target;
  private final OidcFixture oidc;
  private final LogCapture logs;

  PostgresGatewayAdapter(GatewayStack stack, TargetDatabase target, OidcFixture oidc, LogCapture logs) {
    this.stack = stack;
    this.target = target;
    this.oidc = oidc;
    this.logs = logs;
  }

  private GatewayStack.User user(Caller caller) {
    return switch (caller) {
      case PERMITTED -> GatewayStack.ALICE;
      case FORBIDDEN -> GatewayStack.EVE;
      case BAD_TOKEN -> GatewayStack.ALICE;
    };
  }

  @Override
  public Opening open(Caller caller) {
    GatewayStack.User user = user(caller);
    String token = caller == Caller.BAD_TOKEN
        ? stack.remember(oidc.forgedToken(OidcFixture.Forgery.UNKNOWN_KEY, GatewayStack.ISSUER, user.subject(),
            GatewayStack.AUDIENCE, user.claims(), Duration.ofMinutes(10)))
        : stack.token(user);
    String application = "conformance-" + UUID.randomUUID().toString().substring(0, 8);
    Properties p = new Properties();
    p.setProperty("ApplicationName", application);
    Connection c;
    try {
      c = stack.jdbc(user, token, p);
    } catch (SQLException e) {
      return new Opening.Refused(Optional.ofNullable(e.getSQLState()).orElse(""), Optional.ofNullable(e.getMessage()).orElse(""));
    }
    String id = stack.gatehouse().checkpoint().sessions().stream()
        .filter(s -> s.client().application().equals(application))
        .map(s -> s.id().value()).findFirst()
        .orElseThrow(() -> new AssertionError("no live session with application name " + application));
    return new Opening.Opened(new JdbcSession(c, id, application));
  }

  @Override
  public String subject(Caller caller) {
    return user(caller).subject();
  }

  @Override
  public String resource() {
    return GatewayStack.RESOURCE;
  }

  @Override
  public Probe allowed() {
    return new Probe("SELECT count(*) FROM customers", "3");
  }

  @Override
  public String deniedCommand() {
    return "DROP TABLE orders";
  }

  @Override
  public String deniedErrorCode() {
    return "42501";
  }

  @Override
  public String refusedErrorCode(Caller caller) {
    return caller == Caller.BAD_TOKEN ? "28P01" : "28000";
  }

  @Override
  public List<AuditRecord> audit() {
    List<AuditEvent> events = stack.events();
    Map<String, String> decidedText = new HashMap<>();
    for (AuditEvent e : events) {
      if (e.type() == dev.gatehouse.audit.EventType.COMMAND_DECIDED) {
        e.body().command().ifPresent(c -> decidedText.put(e.id(), c.text()));
      }
    }
    List<AuditRecord> records = new ArrayList<>();
    for (AuditEvent e : events) {
      AuditRecord.Type type = switch (e.type()) {
        case SESSION_OPENED -> AuditRecord.Type.SESSION_OPENED;
        case ADMISSION_REFUSED -> AuditRecord.Type.ADMISSION_REFUSED;
        case COMMAND_DECIDED -> AuditRecord.Type.COMMAND_DECIDED;
        case COMMAND_COMPLETED -> AuditRecord.Type.COMMAND_COMPLETED;
        case SESSION_CLOSED -> AuditRecord.Type.SESSION_CLOSED;
        case CHAIN_STARTED, CHAIN_CLOSED, EVENTS_LOST -> null;
      };
      if (type == null) continue;
      EventBody b = e.body();
      Optional<String> command = type == AuditRecord.Type.COMMAND_COMPLETED
          ? b.ref().map(decidedText::get)
          : b.command().map(EventBody.CommandRecord::text);
      records.add(new AuditRecord(type, b.sessionId(), b.principal().map(EventBody.Actor::subject),
          b.resource().orElse(""), command,
          b.decision().map(d -> AuditRecord.Effect.valueOf(d.effect().name())),
          b.decision().map(EventBody.Ruling::rule),
          b.outcome().map(o -> Outcome.Status.valueOf(o.status())),
          AuditFormatter.line(e)));
    }
    return records;
  }

  @Override
  public String logs() {
    return logs.text();
  }

  @Override
  public List<Secret> credentials() {
    return stack.credentials();
  }

  @Override
  public void dropTargetConnection(ClientSession session) {
    int terminated = target.terminateBackends(((JdbcSession) session).application);
    if (terminated != 1) throw new AssertionError("expected one target backend for the session, terminated " + terminated);
  }

  /** A pgjdbc connection through the gateway; commands run as simple statements. */
  private static final class JdbcSession implements ClientSession {
    private final Connection connection;
    private final String id;
    final String application;

    JdbcSession(Connection connection, String id, String application) {
      this.connection = connection;
      this.id = id;
      this.application = application;
    }

    @Override
    public String sessionId() {
      return id;
    }

    @Override
    public Reply run(String command) {
      try (Statement s = connection.createStatement()) {
        if (!s.execute(command)) return new Reply.Output("");
        try (ResultSet rs = s.getResultSet()) {
          StringBuilder out = new StringBuilder();
          int columns = rs.getMetaData().getColumnCount();
          while (rs.next()) {
            for (int i = 1; i <= columns; i++) {
              if (i > 1) out.append('|');
              out.append(rs.getString(i));
            }
            out.append('\n');
          }
          return new Reply.Output(out.toString());
        }
      } catch (SQLException e) {
        boolean closed;
        try {
          // Asking the connection (isValid) would send a statement of its own: only pgjdbc's view.
          closed = connection.isClosed();
        } catch (SQLException probe) {
          closed = true;
        }
        return new Reply.Error(Optional.ofNullable(e.getSQLState()).orElse(""), Optional.ofNullable(e.getMessage()).orElse(""), closed);
      }
    }

    @Override
    public void close() {
      try {
        connection.close();
      } catch (SQLException ignored) {
        // closing twice, or after the gateway ended the connection, is harmless
      }
    }
  }

  /** Waits until the gateway no longer holds a live session for the caller (its slot is free). */
  void awaitNoSessions() {
    await("sessions closed").atMost(Duration.ofSeconds(30)).until(() -> stack.gatehouse().checkpoint().sessions().isEmpty());
  }
}
