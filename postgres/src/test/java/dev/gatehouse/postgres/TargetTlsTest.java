package dev.gatehouse.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TargetTlsTest {
  @TempDir Path dir;

  @Test
  void channelBindingHashFollowsTheCertificatesSignatureHashAsOpensslComputesIt() throws Exception {
    // RFC 5929 4.1: SHA-256 for a SHA-256 (or MD5/SHA-1) signature, else the signature's own hash.
    for (String[] c : new String[][] {
        {"ec", "ec_paramgen_curve:prime256v1", "-sha256", "-sha256"},
        {"ec", "ec_paramgen_curve:secp384r1", "-sha384", "-sha384"},
        {"rsa", "rsa_keygen_bits:2048", "-sha512", "-sha512"},
        {"rsa", "rsa_keygen_bits:2048", "-sha1", "-sha256"},
        // RSASSA-PSS names its hash in the signature parameters (RFC 4055); PostgreSQL hashes the
        // same way since it asks OpenSSL for the signature's digest (X509_get_signature_info).
        {"rsa-pss", "rsa_keygen_bits:2048", "-sha384", "-sha384"}}) {
      Path cert = selfSigned(c[0], c[1], c[2]);
      String expected = opensslDigest(cert, c[3]);

      assertThat(TargetTls.tlsServerEndPoint(load(cert)).map(HexFormat.of()::formatHex))
          .as("certificate signed %s %s", c[0], c[2])
          .hasValue(expected);
    }
  }

  @Test
  void ed25519CertificateAllowsNoChannelBinding() throws Exception {
    Path cert = dir.resolve("ed.crt");
    run("openssl", "req", "-x509", "-newkey", "ed25519", "-nodes", "-keyout", dir.resolve("ed.key").toString(),
        "-out", cert.toString(), "-days", "1", "-subj", "/CN=ed");

    assertThat(TargetTls.tlsServerEndPoint(load(cert))).isEmpty();
  }

  @Test
  void caFileWithoutCertificatesIsRefusedBeforeAnyHandshake() throws Exception {
    for (String content : List.of("", "not a certificate\n")) {
      Path bad = Files.writeString(dir.resolve("bad.pem"), content);
      TargetTls tls = new TargetTls(TargetTls.Mode.VERIFY_FULL, Optional.of(bad), Optional.empty());
      try (ServerSocket listener = new ServerSocket(0);
          Socket socket = new Socket("127.0.0.1", listener.getLocalPort())) {
        assertThatThrownBy(() -> tls.handshake(socket, "127.0.0.1", listener.getLocalPort(), "target 127.0.0.1"))
            .isInstanceOf(PostgresGatewayException.class)
            .hasMessageContaining("caFile " + bad);
      }
    }
  }

  private Path selfSigned(String algorithm, String option, String digest) {
    String name = algorithm + option.replaceAll("\\W", "") + digest;
    Path cert = dir.resolve(name + ".crt");
    run("openssl", "req", "-x509", "-newkey", algorithm, "-pkeyopt", option, "-nodes",
        "-keyout", dir.resolve(name + ".key").toString(), "-out", cert.toString(), digest,
        "-days", "1", "-subj", "/CN=" + name);
    return cert;
  }

  private String opensslDigest(Path cert, String digest) {
    Path der = dir.resolve(cert.getFileName() + ".der");
    run("openssl", "x509", "-in", cert.toString(), "-outform", "DER", "-out", der.toString());
    String out = run("openssl", "dgst", digest, "-r", der.toString());
    return out.substring(0, out.indexOf(' '));
  }

  private static X509Certificate load(Path cert) throws Exception {
    try (InputStream in = Files.newInputStream(cert)) {
      return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
    }
  }

  private static String run(String... command) {
    try {
      Process p = new ProcessBuilder(new ArrayList<>(List.of(command))).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes());
      if (p.waitFor() != 0) throw new IllegalStateException(String.join(" ", command) + " failed:\n" + out);
      return out;
    } catch (IOException e) {
      throw new IllegalStateException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
