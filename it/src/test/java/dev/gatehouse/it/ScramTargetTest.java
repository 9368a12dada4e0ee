package dev.gatehouse.it;

import static dev.gatehouse.it.GatewayStack.ALICE;
import static org.assertj.core.api.Assertions.assertThat;

import dev.gatehouse.testkit.OidcFixture;
import dev.gatehouse.testkit.Psql;
import dev.gatehouse.testkit.ScramPostgres;
import dev.gatehouse.tls.CertificateAuthority;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The gateway's path to a target that demands SCRAM-SHA-256 over TLS (testkit's {@link
 * ScramPostgres}: its role {@code gatehouse_tls} is rejected in plaintext), configured with {@code
 * tls.mode: verify-full} and the target's CA in gatehouse.yaml: psql on one side, the gateway
 * proving the password it alone holds on the other.
 */
class ScramTargetTest {
  @TempDir static Path dir;
  static OidcFixture oidc;
  static ScramPostgres scram;

  @BeforeAll
  static void start() {
    oidc = OidcFixture.start();
    scram = ScramPostgres.shared();
  }

  @AfterAll
  static void stop() {
    if (oidc != null) oidc.close();
  }

  private static GatewayStack.Target target(String user, dev.gatehouse.core.Secret password, Path ca) {
    return new GatewayStack.Target(scram.host(), scram.port(), scram.database(), user, password, "verify-full", Optional.of(ca));
  }

  @Test
  void psqlReachesATargetDemandingScramOverVerifiedTls() throws Exception {
    try (GatewayStack stack = GatewayStack.start(dir.resolve("tls-user"), oidc,
        target(scram.tlsUser(), scram.tlsPassword(), scram.caCertificateFile()))) {
      Psql.Result r = stack.psql(ALICE).withArgs("-At").withEnv("PGAPPNAME", "it-scram")
          .script("SELECT name FROM items ORDER BY id;\nSELECT current_user;\n");
      assertThat(r.succeeded()).as(PsqlOutput.describe(r)).isTrue();
      assertThat(r.stdout().lines().toList()).containsExactly("anchor", "bolt", "chain", scram.tlsUser());

      // On the target's side, while a session is open: the gateway's connection is encrypted.
      java.util.Properties p = new java.util.Properties();
      p.setProperty("ApplicationName", "it-scram");
      try (Connection through = stack.jdbc(ALICE, stack.token(ALICE), p);
          Connection c = scram.admin().connect(scram.database());
          PreparedStatement ps = c.prepareStatement("SELECT s.ssl, s.version FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)"
              + " WHERE a.usename = ? AND a.application_name = 'it-scram'")) {
        ps.setString(1, scram.tlsUser());
        try (ResultSet rs = ps.executeQuery()) {
          assertThat(rs.next()).as("the gateway's backend for the session").isTrue();
          assertThat(rs.getBoolean(1)).as("encrypted").isTrue();
          assertThat(rs.getString(2)).startsWith("TLSv1.");
        }
      }
    }
  }

  @Test
  void aTargetWhoseCertificateDoesNotVerifyIsNeverSentTheCredentials() {
    Path otherCa = CertificateAuthority.prepare(dir.resolve("other-ca"), List.of()).caCertificate();
    try (GatewayStack stack = GatewayStack.start(dir.resolve("wrong-ca"), oidc,
        target(scram.scramUser(), scram.scramPassword(), otherCa))) {
      Psql.Result r = stack.psql(ALICE).command("SELECT 1");
      assertThat(r.succeeded()).as(PsqlOutput.describe(r)).isFalse();
      assertThat(r.stderr()).contains("could not connect to resource \"pg-demo\"");
      assertThat(r.stderr()).doesNotContain(scram.scramPassword().reveal());
    }
  }

  @Test
  void md5TargetWorksThroughTheGatewayToo() {
    try (GatewayStack stack = GatewayStack.start(dir.resolve("md5-user"), oidc,
        target(scram.md5User(), scram.md5Password(), scram.caCertificateFile()))) {
      Psql.Result r = stack.psql(ALICE).withArgs("-At").command("SELECT count(*) FROM items");
      assertThat(r.succeeded()).as(PsqlOutput.describe(r)).isTrue();
      assertThat(r.stdout().strip()).isEqualTo("3");
    }
  }
}
