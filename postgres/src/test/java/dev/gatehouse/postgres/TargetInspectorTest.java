package dev.gatehouse.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.gatehouse.core.Secret;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 60, unit = TimeUnit.SECONDS) // a hang guard, not a timing assertion
class TargetInspectorTest {
  private static final String PASSWORD = "inspect-me-pw";
  private static ScramTargetFixture server;
  private final TargetInspector inspector = new TargetInspector(new BackendConnector());

  @BeforeAll
  static void startServer() {
    server = ScramTargetFixture.start();
    server.execute(
        "CREATE ROLE file_reader LOGIN PASSWORD '" + PASSWORD + "'",
        "GRANT pg_read_server_files TO file_reader",
        // indirect: a NOINHERIT member of a group that holds the privilege can still SET ROLE
        "CREATE ROLE ops NOLOGIN",
        "GRANT pg_execute_server_program TO ops",
        "CREATE ROLE indirect_user LOGIN NOINHERIT PASSWORD '" + PASSWORD + "'",
        "GRANT ops TO indirect_user",
        "CREATE ROLE almost_admin LOGIN PASSWORD '" + PASSWORD + "'",
        "CREATE ROLE admins NOLOGIN SUPERUSER",
        "GRANT admins TO almost_admin",
        "CREATE ROLE role_maker LOGIN CREATEROLE PASSWORD '" + PASSWORD + "'");
  }

  @AfterAll
  static void stopServer() {
    try {
      server.execute(
          "DROP ROLE file_reader", "DROP ROLE indirect_user", "DROP ROLE ops",
          "DROP ROLE almost_admin", "DROP ROLE admins", "DROP ROLE role_maker");
    } finally {
      server.close();
    }
  }

  @Test
  void superuserIsRefusedWithItsNameAndPower() {
    PostgresTarget postgres = server.target("postgres", "", TargetTls.disabled());

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
    assertThatThrownBy(() -> inspector.requireSafe(server.target("file_reader", PASSWORD, TargetTls.disabled())))
        .hasMessageContaining("role \"file_reader\" is member of pg_read_server_files");
  }

  @Test
  void indirectMembershipWithoutInheritIsStillFound() {
    TargetInspector.Report report = inspector.inspect(server.target("indirect_user", PASSWORD, TargetTls.disabled()));

    assertThat(report.risks()).containsExactly(new TargetInspector.Risk("pg_execute_server_program", "member of pg_execute_server_program"));
  }

  @Test
  void membershipInASuperuserRoleIsRefused() {
    assertThatThrownBy(() -> inspector.requireSafe(server.target("almost_admin", PASSWORD, TargetTls.disabled())))
        .hasMessageContaining("role \"almost_admin\" is a member of \"admins\", which has SUPERUSER");
  }

  @Test
  void createRoleIsRiskyOnPostgres15() {
    TargetInspector.Report report = inspector.inspect(server.target("role_maker", PASSWORD, TargetTls.disabled()));

    assertThat(report.risks()).singleElement().satisfies(r -> assertThat(r.power()).startsWith("CREATEROLE"));
  }

  @Test
  void plainRolePasses() {
    PostgresTarget plain =
        server.target(ScramTargetFixture.SCRAM_USER, ScramTargetFixture.SCRAM_PASSWORD, server.verifiedTls());

    assertThat(inspector.inspect(plain).safe()).isTrue();
    assertThat(inspector.requireSafe(plain)).isEmpty();
  }

  @Test
  void acceptedPrivilegedRolePassesWithWarnings() {
    PostgresTarget accepted =
        new PostgresTarget("127.0.0.1", server.port(), "postgres", "postgres", Secret.of(""), TargetTls.disabled(), true);

    List<String> warnings = inspector.requireSafe(accepted);

    assertThat(warnings).containsExactly("role \"postgres\" has SUPERUSER");
  }
}
