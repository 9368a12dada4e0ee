package dev.gatehouse.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.gatehouse.core.Secret;
import dev.gatehouse.testkit.ScramPostgres;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Against testkit's {@link ScramPostgres}, which makes the roles authenticate for real (the
 * inspector runs as the target's own role); the roles with dangerous powers are this test's own.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS) // a hang guard, not a timing assertion
class TargetInspectorTest {
  private static final String PASSWORD = "inspect-me-pw";
  /** Dropped before they are created, so a run that died before its clean-up does not block the next. */
  private static final String DROP_ROLES = "DROP ROLE IF EXISTS inspect_file_reader, inspect_indirect_user, inspect_ops,"
      + " inspect_almost_admin, inspect_admins, inspect_role_maker";
  private static ScramPostgres server;
  private final TargetInspector inspector = new TargetInspector(new BackendConnector());

  @BeforeAll
  static void createRoles() {
    server = ScramPostgres.shared();
    server.admin().execute("postgres", String.join(";\n",
        DROP_ROLES,
        "CREATE ROLE inspect_file_reader LOGIN PASSWORD '" + PASSWORD + "'",
        "GRANT pg_read_server_files TO inspect_file_reader",
        // indirect: a NOINHERIT member of a group that holds the privilege can still SET ROLE
        "CREATE ROLE inspect_ops NOLOGIN",
        "GRANT pg_execute_server_program TO inspect_ops",
        "CREATE ROLE inspect_indirect_user LOGIN NOINHERIT PASSWORD '" + PASSWORD + "'",
        "GRANT inspect_ops TO inspect_indirect_user",
        "CREATE ROLE inspect_almost_admin LOGIN PASSWORD '" + PASSWORD + "'",
        "CREATE ROLE inspect_admins NOLOGIN SUPERUSER",
        "GRANT inspect_admins TO inspect_almost_admin",
        "CREATE ROLE inspect_role_maker LOGIN CREATEROLE PASSWORD '" + PASSWORD + "'"));
  }

  @AfterAll
  static void dropRoles() {
    server.admin().execute("postgres", DROP_ROLES);
  }

  @Test
  void superuserIsRefusedWithItsNameAndPower() {
    PostgresTarget postgres = target("postgres", Secret.of(""), TargetTls.disabled());

    TargetInspector.Report report = inspector.inspect(postgres);
    assertThat(report.safe()).isFalse();
    assertThat(report.risks()).containsExactly(new TargetInspector.Risk("postgres", "SUPERUSER"));
    assertThatThrownBy(() -> inspector.requireSafe(postgres))
        .isInstanceOf(PostgresGatewayException.class)
        .hasMessageContaining("role \"postgres\" has SUPERUSER")
        .hasMessageContaining("acceptPrivilegedRole");
  }

  @Test
  void memberOfPgReadServerFilesIsRefused() {
    assertThatThrownBy(() -> inspector.requireSafe(target("inspect_file_reader", Secret.of(PASSWORD), TargetTls.disabled())))
        .hasMessageContaining("role \"inspect_file_reader\" is member of pg_read_server_files");
  }

  @Test
  void indirectMembershipWithoutInheritIsStillFound() {
    TargetInspector.Report report =
        inspector.inspect(target("inspect_indirect_user", Secret.of(PASSWORD), TargetTls.disabled()));

    assertThat(report.risks()).containsExactly(new TargetInspector.Risk("pg_execute_server_program", "member of pg_execute_server_program"));
  }

  @Test
  void membershipInASuperuserRoleIsRefused() {
    assertThatThrownBy(() -> inspector.requireSafe(target("inspect_almost_admin", Secret.of(PASSWORD), TargetTls.disabled())))
        .hasMessageContaining("role \"inspect_almost_admin\" is a member of \"inspect_admins\", which has SUPERUSER");
  }

  @Test
  void createRoleIsRiskyOnPostgres15() {
    TargetInspector.Report report =
        inspector.inspect(target("inspect_role_maker", Secret.of(PASSWORD), TargetTls.disabled()));

    assertThat(report.risks()).singleElement().satisfies(r -> assertThat(r.power()).startsWith("CREATEROLE"));
  }

  @Test
  void plainRolePasses() {
    PostgresTarget plain = target(server.scramUser(), server.scramPassword(),
        new TargetTls(TargetTls.Mode.VERIFY_FULL, Optional.of(server.caCertificateFile()), Optional.of("localhost")));

    assertThat(inspector.inspect(plain).safe()).isTrue();
    assertThat(inspector.requireSafe(plain)).isEmpty();
  }

  @Test
  void acceptedPrivilegedRolePassesWithWarnings() {
    PostgresTarget accepted =
        new PostgresTarget(server.host(), server.port(), "postgres", "postgres", Secret.of(""), TargetTls.disabled(), true);

    List<String> warnings = inspector.requireSafe(accepted);

    assertThat(warnings).containsExactly("role \"postgres\" has SUPERUSER");
  }

  private static PostgresTarget target(String user, Secret password, TargetTls tls) {
    return new PostgresTarget(server.host(), server.port(), server.database(), user, password, tls, false);
  }
}
