package dev.gatehouse.postgres;

import dev.gatehouse.postgres.wire.BackendCodec;
import dev.gatehouse.postgres.wire.BackendMessage;
import dev.gatehouse.postgres.wire.DataRow;
import dev.gatehouse.postgres.wire.ErrorResponse;
import dev.gatehouse.postgres.wire.Frame;
import dev.gatehouse.postgres.wire.ProtocolException;
import dev.gatehouse.postgres.wire.Query;
import dev.gatehouse.postgres.wire.ReadyForQuery;
import java.io.EOFException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Checks, when a PostgreSQL resource is registered, that the role Gatehouse logs in with cannot
 * step around the gateway's guardrails. Every guardrail is one function call away from a role that
 * is a superuser or may run programs or read and write files on the server, so such a role is
 * refused unless the configuration explicitly accepts the risk.
 *
 * <p>Risky, for the role itself and for every role it is a member of, directly or through other
 * roles, whether or not it inherits their privileges (it can always {@code SET ROLE} to them):
 *
 * <ul>
 *   <li>{@code SUPERUSER}, {@code REPLICATION} (reads every row through a replication slot), {@code
 *       BYPASSRLS};
 *   <li>membership in {@code pg_execute_server_program}, {@code pg_read_server_files}, {@code
 *       pg_write_server_files};
 *   <li>{@code CREATEROLE} on servers before PostgreSQL 16, where it lets a role grant itself any
 *       of the above memberships.
 * </ul>
 *
 * <p>It connects with the target's own credentials through {@link BackendConnector} and asks the
 * catalog with simple queries. Thread-safe; each call opens and closes one connection.
 */
public final class TargetInspector {
  private static final String RISKY_ROLES_QUERY =
      """
      SELECT r.rolname, r.rolsuper, r.rolreplication, r.rolbypassrls, r.rolcreaterole,
             r.rolname IN ('pg_execute_server_program', 'pg_read_server_files', 'pg_write_server_files'),
             r.rolname = current_user,
             current_setting('server_version_num')::int
        FROM pg_catalog.pg_roles r
       WHERE pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER')
       ORDER BY r.rolname = current_user DESC, r.rolname
      """;

  private final BackendConnector connector;

  public TargetInspector(BackendConnector connector) {
    this.connector = Objects.requireNonNull(connector, "connector == null");
  }

  /** What the inspection found about the target's login role. */
  public record Report(String role, List<Risk> risks) {
    public Report {
      Objects.requireNonNull(role, "role == null");
      risks = List.copyOf(risks);
    }

    /** Whether the role has none of the risky powers. */
    public boolean safe() {
      return risks.isEmpty();
    }
  }

  /**
   * One risky power of the login role.
   *
   * @param viaRole the role that carries it: the login role itself, a role it is a member of, or
   *     the predefined role it is a member of
   * @param power what it is, as PostgreSQL names it: {@code SUPERUSER}, {@code REPLICATION},
   *     {@code BYPASSRLS}, {@code CREATEROLE ...}, or {@code member of pg_read_server_files} (and
   *     the other two predefined roles)
   */
  public record Risk(String viaRole, String power) {
    public Risk {
      Objects.requireNonNull(viaRole, "viaRole == null");
      Objects.requireNonNull(power, "power == null");
    }
  }

  /**
   * Connects to the target and reports the risky powers of its login role.
   *
   * @throws PostgresGatewayException when the target cannot be reached or the catalog query fails
   */
  public Report inspect(PostgresTarget target) {
    Objects.requireNonNull(target, "target == null");
    try (BackendConnection connection =
        connector.connect(
            target,
            Map.of(
                "client_encoding", "UTF8",
                "application_name", "gatehouse-inspector",
                "default_transaction_read_only", "on"))) {
      return report(target.user(), query(connection, RISKY_ROLES_QUERY));
    }
  }

  /**
   * Refuses a target whose role is risky, unless {@link PostgresTarget#acceptPrivilegedRole()} is
   * set; then returns one warning per risk for the caller to log. Returns an empty list for a safe
   * role.
   *
   * @throws PostgresGatewayException (SQLSTATE 42501) naming the role and each risky power
   */
  public List<String> requireSafe(PostgresTarget target) {
    Report report = inspect(target);
    List<String> warnings = new ArrayList<>();
    for (Risk risk : report.risks()) warnings.add(describe(report.role(), risk));
    if (warnings.isEmpty() || target.acceptPrivilegedRole()) return warnings;
    throw new PostgresGatewayException(
        "42501",
        "target "
            + target.address()
            + " refused: "
            + String.join("; ", warnings)
            + ". Use a least-privileged role, or set acceptPrivilegedRole to accept the risk");
  }

  private static String describe(String role, Risk risk) {
    if (risk.power().startsWith("member of ")) return "role \"" + role + "\" is " + risk.power();
    return risk.viaRole().equals(role)
        ? "role \"" + role + "\" has " + risk.power()
        : "role \"" + role + "\" is a member of \"" + risk.viaRole() + "\", which has " + risk.power();
  }

  private static Report report(String loginRole, List<List<Optional<String>>> rows) {
    List<Risk> risks = new ArrayList<>();
    String role = loginRole;
    for (List<Optional<String>> row : rows) {
      if (row.size() != 8) throw new PostgresGatewayException("08P01", "catalog query returned " + row.size() + " columns, expected 8");
      String name = row.get(0).orElse("?");
      boolean self = flag(row, 6);
      int serverVersion = Integer.parseInt(row.get(7).orElse("0"));
      if (self) role = name;
      if (flag(row, 1)) {
        risks.add(new Risk(name, "SUPERUSER"));
        // A superuser is a member of every role: listing them all would bury the one that counts.
        if (self) return new Report(role, risks);
      }
      if (flag(row, 2)) risks.add(new Risk(name, "REPLICATION"));
      if (flag(row, 3)) risks.add(new Risk(name, "BYPASSRLS"));
      if (flag(row, 4) && serverVersion < 160000) {
        risks.add(new Risk(name, "CREATEROLE (before PostgreSQL 16 it can grant itself any non-superuser role)"));
      }
      if (flag(row, 5)) risks.add(new Risk(name, "member of " + name));
    }
    return new Report(role, risks);
  }

  private static boolean flag(List<Optional<String>> row, int column) {
    return row.get(column).map("t"::equals).orElse(false);
  }

  /** Runs one simple query; returns its rows as text values. */
  private static List<List<Optional<String>>> query(BackendConnection connection, String sql) {
    try {
      connection.writer().write(new Query(sql));
      connection.writer().flush();
      List<List<Optional<String>>> rows = new ArrayList<>();
      Optional<ErrorResponse> error = Optional.empty();
      while (true) {
        Frame frame =
            connection.reader().read(1 << 20).orElseThrow(() -> new EOFException("target closed the connection"));
        BackendMessage message = BackendCodec.decode(frame);
        if (message instanceof DataRow row) {
          List<Optional<String>> values = new ArrayList<>();
          for (int i = 0; i < row.columnCount(); i++) values.add(row.text(i));
          rows.add(values);
        } else if (message instanceof ErrorResponse e) {
          error = Optional.of(e);
        } else if (message instanceof ReadyForQuery) {
          if (error.isPresent()) {
            throw new PostgresGatewayException(
                error.get().sqlstate().length() == 5 ? error.get().sqlstate() : "XX000",
                "inspecting the target's role failed: " + error.get().message());
          }
          return rows;
        }
      }
    } catch (IOException e) {
      throw new PostgresGatewayException("08006", "inspecting the target's role failed: " + e.getMessage(), e);
    } catch (ProtocolException e) {
      throw new PostgresGatewayException(e.sqlstate(), "inspecting the target's role failed: " + e.getMessage(), e);
    }
  }
}
