package dev.gatehouse.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.openssl.jcajce.JceOpenSSLPKCS8EncryptorBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PemFilesTest {
  @TempDir Path directory;

  private Path write(String name, Object... pemObjects) throws Exception {
    StringWriter text = new StringWriter();
    try (JcaPEMWriter writer = new JcaPEMWriter(text)) {
      for (Object object : pemObjects) writer.writeObject(object);
    }
    Path file = directory.resolve(name);
    Files.writeString(file, text.toString());
    return file;
  }

  private static Path vector(String name) throws Exception {
    return Path.of(PemFilesTest.class.getResource("/openssl/" + name).toURI());
  }

  @Test
  void opensslEcKeyWithParametersBlockIsLoadedIntoAServerContext() throws Exception {
    assertThat(Files.readString(vector("ec-traditional.key")))
        .startsWith("-----BEGIN EC PARAMETERS-----")
        .contains("-----BEGIN EC PRIVATE KEY-----");

    ServerTls tls = ServerTls.load(vector("ec.crt"), vector("ec-traditional.key"));

    assertThat(tls.certificate().getSubjectX500Principal().getName()).isEqualTo("CN=ec.test");
  }

  @Test
  void opensslRsaKeyInPkcs1FormServesARealHandshake() throws Exception {
    assertThat(Files.readString(vector("rsa-traditional.key"))).startsWith("-----BEGIN RSA PRIVATE KEY-----");
    ServerTls tls = ServerTls.load(vector("rsa.crt"), vector("rsa-traditional.key"));
    ClientTls client = ClientTls.trusting(vector("rsa.crt"));

    try (SSLServerSocket listener = tls.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
      var accepted = CompletableFuture.supplyAsync(() -> {
        try (var socket = (SSLSocket) listener.accept()) {
          socket.getOutputStream().write(42);
          return socket.getSession().getCipherSuite();
        } catch (Exception e) {
          return "server failed: " + e;
        }
      });
      Socket plain = new Socket(InetAddress.getLoopbackAddress(), listener.getLocalPort());
      plain.setSoTimeout(10_000);
      try (SSLSocket socket = client.wrap(plain, "rsa.test", listener.getLocalPort(), ClientTls.Verification.FULL)) {
        assertThat(socket.getInputStream().read()).isEqualTo(42);
      }
      assertThat(accepted.get(10, TimeUnit.SECONDS)).doesNotStartWith("server failed");
    }
  }

  @Test
  void pkcs8PrivateKeyRoundTrips() throws Exception {
    SelfSigned rsa = SelfSigned.create("RSA", "SHA256withRSA", "rsa.test");
    Path key = directory.resolve("pkcs8.key");
    PemFiles.writePrivateKey(key, rsa.keys().getPrivate());

    assertThat(Files.readString(key)).startsWith("-----BEGIN PRIVATE KEY-----");
    assertThat(PemFiles.readPrivateKey(key)).isEqualTo(rsa.keys().getPrivate());
  }

  @Test
  void chainFileKeepsTheCertificatesInOrder() throws Exception {
    SelfSigned first = SelfSigned.create("EC", "SHA256withECDSA", "first.test");
    SelfSigned second = SelfSigned.create("EC", "SHA256withECDSA", "second.test");
    Path chain = directory.resolve("chain.crt");
    PemFiles.writeCertificates(chain, List.of(first.certificate(), second.certificate()));

    assertThat(PemFiles.readCertificates(chain)).containsExactly(first.certificate(), second.certificate());
  }

  @Test
  void encryptedPrivateKeyIsRefusedSayingSo() throws Exception {
    SelfSigned ec = SelfSigned.create("EC", "SHA256withECDSA", "ec.test");
    var encryptor = new JceOpenSSLPKCS8EncryptorBuilder(JcaPKCS8Generator.AES_256_CBC)
        .setProvider(new BouncyCastleProvider()) // the JDK has no PKCS7Padding name
        .setPassword("passphrase".toCharArray())
        .build();
    Path key = write("encrypted.key", new JcaPKCS8Generator(ec.keys().getPrivate(), encryptor));

    assertThatThrownBy(() -> PemFiles.readPrivateKey(key))
        .isInstanceOf(TlsException.class)
        .hasMessageStartingWith(key.toString())
        .hasMessageContaining("encrypted");
  }

  @Test
  void keyBelongingToAnotherCertificateIsRefusedNamingBothFiles() throws Exception {
    assertThatThrownBy(() -> ServerTls.load(vector("ec.crt"), vector("rsa-traditional.key")))
        .isInstanceOf(TlsException.class)
        .hasMessageContaining("rsa-traditional.key")
        .hasMessageContaining("ec.crt")
        .hasMessageContaining("does not belong");
  }

  @Test
  void missingFileIsReportedByName() {
    Path missing = directory.resolve("nope.crt");
    assertThatThrownBy(() -> PemFiles.readCertificates(missing))
        .isInstanceOf(TlsException.class)
        .hasMessage(missing + ": file does not exist");
  }

  @Test
  void fileWithoutCertificateOrKeyIsReportedByName() throws Exception {
    Path text = directory.resolve("notes.txt");
    Files.writeString(text, "this is not PEM\n");

    assertThatThrownBy(() -> PemFiles.readCertificates(text))
        .isInstanceOf(TlsException.class)
        .hasMessageContaining("notes.txt: no certificate found");
    assertThatThrownBy(() -> PemFiles.readPrivateKey(text))
        .isInstanceOf(TlsException.class)
        .hasMessageContaining("notes.txt: no private key found");
  }

  @Test
  void corruptPemBlockIsReportedByName() throws Exception {
    Path broken = directory.resolve("broken.crt");
    Files.writeString(broken, "-----BEGIN CERTIFICATE-----\n!!!!not base64!!!!\n-----END CERTIFICATE-----\n");

    assertThatThrownBy(() -> PemFiles.readCertificates(broken))
        .isInstanceOf(TlsException.class)
        .hasMessageStartingWith(broken.toString());
  }
}
