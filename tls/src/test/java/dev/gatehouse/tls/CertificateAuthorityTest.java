package dev.gatehouse.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CertificateAuthorityTest {
  @TempDir Path directory;

  @Test
  void firstStartCreatesCaAndServerCertificateCoveringLoopbackAndConfiguredNames() throws Exception {
    var prepared = CertificateAuthority.prepare(directory, List.of("db.example.com", "10.0.0.7", "Gateway.Example.COM."));

    assertThat(prepared.caCreated()).isTrue();
    assertThat(prepared.serverCertificateIssued()).isTrue();
    X509Certificate ca = PemFiles.readCertificates(prepared.caCertificate()).get(0);
    X509Certificate leaf = PemFiles.readCertificates(prepared.serverCertificate()).get(0);
    assertThat(ca.getBasicConstraints()).isZero();
    assertThat(leaf.getBasicConstraints()).isEqualTo(-1);
    leaf.verify(ca.getPublicKey());
    assertThat(leaf.getExtendedKeyUsage()).containsExactly("1.3.6.1.5.5.7.3.1");
    assertThat(CertificateAuthority.subjectAlternativeNames(leaf))
        .containsExactlyInAnyOrder("localhost", "127.0.0.1", "0:0:0:0:0:0:0:1", "db.example.com", "10.0.0.7",
            "gateway.example.com");
    assertThat(leaf.getPublicKey().getAlgorithm()).isEqualTo("EC");
    assertThat(Duration.between(leaf.getNotBefore().toInstant(), leaf.getNotAfter().toInstant()))
        .isLessThanOrEqualTo(CertificateAuthority.SERVER_VALIDITY.plusHours(1));
  }

  @Test
  void privateKeysAreReadableByTheOwnerOnlyAndCertificatesByEveryone() throws Exception {
    var prepared = CertificateAuthority.prepare(directory, List.of());

    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(directory.resolve("ca.key"))))
        .isEqualTo("rw-------");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(prepared.serverKey())))
        .isEqualTo("rw-------");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(prepared.caCertificate())))
        .isEqualTo("rw-r--r--");
    assertThat(Files.readString(prepared.serverKey())).startsWith("-----BEGIN PRIVATE KEY-----\n");
    try (var files = Files.list(directory)) {
      assertThat(files.map(p -> p.getFileName().toString()))
          .containsExactlyInAnyOrder("ca.crt", "ca.key", "server.crt", "server.key");
    }
  }

  @Test
  void secondStartWithTheSameNamesReusesEveryFile() throws Exception {
    CertificateAuthority.prepare(directory, List.of("db.example.com"));
    byte[] ca = Files.readAllBytes(directory.resolve("ca.crt"));
    byte[] leaf = Files.readAllBytes(directory.resolve("server.crt"));
    byte[] key = Files.readAllBytes(directory.resolve("server.key"));

    var again = CertificateAuthority.prepare(directory, List.of("DB.example.com"));

    assertThat(again.caCreated()).isFalse();
    assertThat(again.serverCertificateIssued()).isFalse();
    assertThat(Files.readAllBytes(directory.resolve("ca.crt"))).isEqualTo(ca);
    assertThat(Files.readAllBytes(directory.resolve("server.crt"))).isEqualTo(leaf);
    assertThat(Files.readAllBytes(directory.resolve("server.key"))).isEqualTo(key);
  }

  @Test
  void changedHostNamesReissueTheServerCertificateButKeepTheCa() throws Exception {
    CertificateAuthority.prepare(directory, List.of("db.example.com"));
    byte[] ca = Files.readAllBytes(directory.resolve("ca.crt"));
    byte[] caKey = Files.readAllBytes(directory.resolve("ca.key"));

    var again = CertificateAuthority.prepare(directory, List.of("proxy.example.com"));

    assertThat(again.caCreated()).isFalse();
    assertThat(again.serverCertificateIssued()).isTrue();
    assertThat(Files.readAllBytes(directory.resolve("ca.crt"))).isEqualTo(ca);
    assertThat(Files.readAllBytes(directory.resolve("ca.key"))).isEqualTo(caKey);
    X509Certificate leaf = PemFiles.readCertificates(again.serverCertificate()).get(0);
    assertThat(CertificateAuthority.subjectAlternativeNames(leaf))
        .contains("proxy.example.com")
        .doesNotContain("db.example.com");
  }

  @Test
  void serverCertificateCloseToExpiryIsRenewed() {
    CertificateAuthority.prepare(directory, List.of());
    Clock nearExpiry = Clock.offset(Clock.systemUTC().withZone(ZoneOffset.UTC), Duration.ofDays(380));

    var later = CertificateAuthority.prepare(directory, List.of(), nearExpiry);

    assertThat(later.serverCertificateIssued()).isTrue();
    assertThat(PemFiles.readCertificates(later.serverCertificate()).get(0).getNotAfter().toInstant())
        .isAfter(nearExpiry.instant().plus(CertificateAuthority.RENEW_BEFORE));
  }

  @Test
  void serverKeyThatNoLongerMatchesItsCertificateIsReissued() throws Exception {
    CertificateAuthority.prepare(directory, List.of());
    PemFiles.writePrivateKey(directory.resolve("server.key"), SelfSigned.create("EC", "SHA256withECDSA", "x").keys().getPrivate());

    var again = CertificateAuthority.prepare(directory, List.of());

    assertThat(again.serverCertificateIssued()).isTrue();
    again.serverTls(); // loads only when key and certificate belong together
  }

  @Test
  void caCertificateWithoutItsKeyStopsTheStartAndIsNotReplaced() throws Exception {
    CertificateAuthority.prepare(directory, List.of());
    byte[] ca = Files.readAllBytes(directory.resolve("ca.crt"));
    Files.delete(directory.resolve("ca.key"));

    assertThatThrownBy(() -> CertificateAuthority.prepare(directory, List.of()))
        .isInstanceOf(TlsException.class)
        .hasMessageContaining("ca.key")
        .hasMessageContaining("file is missing");
    assertThat(Files.readAllBytes(directory.resolve("ca.crt"))).isEqualTo(ca);
    assertThat(directory.resolve("ca.key")).doesNotExist();
  }

  @Test
  void expiredCaIsReportedAndNotReplaced() throws Exception {
    CertificateAuthority.prepare(directory, List.of());
    byte[] ca = Files.readAllBytes(directory.resolve("ca.crt"));
    Clock elevenYearsLater = Clock.offset(Clock.systemUTC(), Duration.ofDays(11 * 366));

    assertThatThrownBy(() -> CertificateAuthority.prepare(directory, List.of(), elevenYearsLater))
        .isInstanceOf(TlsException.class)
        .hasMessageContaining("ca.crt")
        .hasMessageContaining("expired at");
    assertThat(Files.readAllBytes(directory.resolve("ca.crt"))).isEqualTo(ca);
  }

  @Test
  void caKeyBelongingToAnotherCertificateIsRefused() throws Exception {
    CertificateAuthority.prepare(directory, List.of());
    PemFiles.writePrivateKey(directory.resolve("ca.key"), SelfSigned.create("EC", "SHA256withECDSA", "x").keys().getPrivate());

    assertThatThrownBy(() -> CertificateAuthority.prepare(directory, List.of()))
        .isInstanceOf(TlsException.class)
        .hasMessageContaining("ca.key")
        .hasMessageContaining("does not belong to");
  }

  @Test
  void invalidHostNameIsRefusedNamingIt() {
    assertThatThrownBy(() -> CertificateAuthority.prepare(directory, List.of("db host;rm")))
        .isInstanceOf(TlsException.class)
        .hasMessageContaining("'db host;rm'");
    assertThat(directory.resolve("ca.crt")).doesNotExist();
  }
}
