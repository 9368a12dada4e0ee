package dev.gatehouse.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.gatehouse.core.Secret;
import dev.gatehouse.tls.CertificateAuthority;
import dev.gatehouse.tls.ClientTls;
import java.io.DataOutputStream;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Properties;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.Test;

class ScramPostgresTest {
  private final ScramPostgres pg = ScramPostgres.shared();

  @Test
  void scramRoleReadsItemsWithItsPassword() throws Exception {
    try (Connection c = pg.connect(pg.scramUser(), pg.scramPassword(), false)) {
      assertThat(single(c, "SELECT string_agg(name, ',' ORDER BY id) FROM items")).isEqualTo("anchor,bolt,chain");
      assertThat(single(c, "SELECT rolsuper::text FROM pg_roles WHERE rolname = current_user")).isEqualTo("false");
    }
  }

  @Test
  void wrongPasswordIsRefusedWithInvalidPassword() {
    for (String user : new String[] {pg.scramUser(), pg.md5User()}) {
      assertThatThrownBy(() -> pg.connect(user, Secret.of("not-the-password"), false))
          .isInstanceOf(TestkitException.class)
          .hasMessageContaining("28P01")
          .hasMessageNotContaining("not-the-password");
    }
  }

  @Test
  void serverDemandsScramForOneRoleAndMd5ForTheOther() throws Exception {
    try (Connection c = pg.admin().connect("postgres")) {
      assertThat(single(c, "SELECT left(rolpassword, 14) FROM pg_authid WHERE rolname = '" + pg.scramUser() + "'"))
          .isEqualTo("SCRAM-SHA-256$");
      assertThat(single(c, "SELECT left(rolpassword, 3) FROM pg_authid WHERE rolname = '" + pg.md5User() + "'"))
          .isEqualTo("md5");
      assertThat(single(c, "SELECT string_agg(DISTINCT auth_method, ',' ORDER BY auth_method) FROM pg_hba_file_rules"
          + " WHERE '" + pg.md5User() + "' = ANY(user_name)")).isEqualTo("md5");
      assertThat(single(c, "SELECT string_agg(DISTINCT auth_method, ',') FROM pg_hba_file_rules"
          + " WHERE 'all' = ANY(user_name) AND type = 'host'")).isEqualTo("scram-sha-256");
    }
    try (Connection c = pg.connect(pg.md5User(), pg.md5Password(), false)) {
      assertThat(single(c, "SELECT count(*)::text FROM items")).isEqualTo("3");
    }
  }

  @Test
  void tlsConnectionVerifiesTheServerAgainstTheFixturesCa() throws Exception {
    try (Connection c = pg.connect(pg.scramUser(), pg.scramPassword(), true)) {
      assertThat(single(c, "SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).isEqualTo("true");
    }
  }

  @Test
  void tlsRoleIsRejectedInPlaintextAndAcceptedOverTls() throws Exception {
    assertThatThrownBy(() -> pg.connect(pg.tlsUser(), pg.tlsPassword(), false))
        .isInstanceOf(TestkitException.class)
        .hasMessageContaining("28000");
    try (Connection c = pg.connect(pg.tlsUser(), pg.tlsPassword(), true)) {
      assertThat(single(c, "SELECT current_user::text")).isEqualTo(pg.tlsUser());
    }
  }

  @Test
  void cleartextRoleIsAskedForItsPasswordInClearAndLogsIn() throws Exception {
    try (Connection c = pg.admin().connect("postgres")) {
      assertThat(single(c, "SELECT string_agg(DISTINCT auth_method, ',') FROM pg_hba_file_rules"
          + " WHERE '" + pg.cleartextUser() + "' = ANY(user_name)")).isEqualTo("password");
    }
    try (Connection c = pg.connect(pg.cleartextUser(), pg.cleartextPassword(), true)) {
      assertThat(single(c, "SELECT current_user::text")).isEqualTo(pg.cleartextUser());
      assertThat(single(c, "SELECT count(*)::text FROM items")).isEqualTo("3");
    }
    assertThatThrownBy(() -> pg.connect(pg.cleartextUser(), Secret.of("not-the-password"), false))
        .hasMessageContaining("28P01");
  }

  @Test
  void serverCertificateIsSignedWithSha384AndVerifiesUnderItsCertificateOnlyName() throws Exception {
    // A libpq-style TLS start by hand: SSLRequest, 'S', then a handshake verifying the name that
    // the certificate carries but 127.0.0.1 is not called by.
    try (Socket plain = new Socket(pg.host(), pg.port())) {
      DataOutputStream out = new DataOutputStream(plain.getOutputStream());
      out.writeInt(8);
      out.writeInt(80877103);
      out.flush();
      assertThat(plain.getInputStream().read()).as("answer to SSLRequest").isEqualTo('S');
      try (SSLSocket tls = ClientTls.trusting(pg.caCertificateFile())
          .wrap(plain, pg.certificateOnlyHostName(), pg.port(), ClientTls.Verification.FULL)) {
        tls.startHandshake();
        X509Certificate leaf = (X509Certificate) tls.getSession().getPeerCertificates()[0];
        assertThat(leaf.getSigAlgName()).isEqualTo("SHA384withECDSA");
        leaf.verify(pg.caCertificate().getPublicKey());
      }
    }
  }

  @Test
  void certificateFromAnotherCaFailsVerification() throws Exception {
    Path dir = Files.createTempDirectory("other-ca");
    try {
      Path other = CertificateAuthority.prepare(dir, List.of()).caCertificate();
      Properties p = new Properties();
      p.setProperty("user", pg.scramUser());
      p.setProperty("password", pg.scramPassword().reveal());
      p.setProperty("sslmode", "verify-full");
      p.setProperty("sslrootcert", other.toString());
      assertThatThrownBy(() -> DriverManager.getConnection(
              "jdbc:postgresql://" + pg.host() + ":" + pg.port() + "/" + pg.database(), p).close())
          .isInstanceOf(SQLException.class);
    } finally {
      try (var files = Files.list(dir)) {
        for (Path f : files.toList()) Files.delete(f);
      }
      Files.delete(dir);
    }
  }

  @Test
  void passwordsStayOutOfToString() {
    assertThat(pg.scramPassword().toString()).doesNotContain(pg.scramPassword().reveal());
    assertThat(pg.toString()).doesNotContain(pg.scramPassword().reveal()).doesNotContain(pg.md5Password().reveal())
        .doesNotContain(pg.cleartextPassword().reveal());
  }

  private static String single(Connection c, String sql) throws SQLException {
    try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
      assertThat(rs.next()).as("a row from %s", sql).isTrue();
      return rs.getString(1);
    }
  }
}
