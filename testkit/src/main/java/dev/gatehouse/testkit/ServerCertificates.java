package dev.gatehouse.testkit;

import java.io.IOException;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A throw-away certificate authority and one server certificate it signed, for test servers that
 * must be verified ({@code sslmode=verify-full}): the server certificate names {@code localhost}
 * and {@code 127.0.0.1}. EC P-256 keys, valid for a day. For tests only: the keys live in memory
 * and in the files the caller writes.
 *
 * <p>Written here because the {@code tls} module's generator was not available when the testkit
 * needed it; it can move there without changing the fixtures' API.
 */
record ServerCertificates(X509Certificate ca, X509Certificate server, KeyPair serverKeys) {
  private static final SecureRandom RANDOM = new SecureRandom();

  static ServerCertificates generate(String commonName) {
    try {
      KeyPair caKeys = ecKeys();
      KeyPair serverKeys = ecKeys();
      Instant now = Instant.now();
      Date from = Date.from(now.minus(Duration.ofHours(1)));
      Date to = Date.from(now.plus(Duration.ofDays(1)));
      JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();

      X500Name caName = new X500Name("CN=Gatehouse test CA for " + commonName);
      X509v3CertificateBuilder caBuilder = new JcaX509v3CertificateBuilder(
          caName, new BigInteger(64, RANDOM), from, to, caName, caKeys.getPublic())
          .addExtension(Extension.basicConstraints, true, new BasicConstraints(0))
          .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign))
          .addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(caKeys.getPublic()));
      X509Certificate ca = sign(caBuilder, caKeys);

      X509v3CertificateBuilder serverBuilder = new JcaX509v3CertificateBuilder(
          ca, new BigInteger(64, RANDOM), from, to, new X500Name("CN=" + commonName), serverKeys.getPublic())
          .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
          .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature))
          .addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth))
          .addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName[] {
              new GeneralName(GeneralName.dNSName, "localhost"),
              new GeneralName(GeneralName.iPAddress, "127.0.0.1")}))
          .addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(ca));
      return new ServerCertificates(ca, sign(serverBuilder, caKeys), serverKeys);
    } catch (GeneralSecurityException | OperatorCreationException | IOException e) {
      throw new TestkitException("could not generate test certificates: " + e.getMessage(), e);
    }
  }

  /** Writes {@code name.crt} (certificate) and {@code name.key} (PKCS#8 key, mode 0600) into dir. */
  void writeServer(Path dir, String name) {
    write(dir.resolve(name + ".crt"), pem(server));
    // PKCS#8 carries the curve; BouncyCastle's "EC PRIVATE KEY" form of a JCA key leaves it out
    // and OpenSSL then cannot load the key.
    write(dir.resolve(name + ".key"), pem(pkcs8(serverKeys.getPrivate())));
  }

  /** Writes the CA certificate (what a client passes as {@code sslrootcert}). */
  void writeCa(Path file) {
    write(file, pem(ca));
  }

  String caPem() {
    return pem(ca);
  }

  private static Object pkcs8(java.security.PrivateKey key) {
    try {
      return new org.bouncycastle.openssl.jcajce.JcaPKCS8Generator(key, null).generate();
    } catch (org.bouncycastle.util.io.pem.PemGenerationException e) {
      throw new TestkitException("could not encode the private key: " + e.getMessage(), e);
    }
  }

  private static KeyPair ecKeys() throws GeneralSecurityException {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
    return g.generateKeyPair();
  }

  private static X509Certificate sign(X509v3CertificateBuilder builder, KeyPair signer)
      throws OperatorCreationException, GeneralSecurityException {
    return new JcaX509CertificateConverter().getCertificate(
        builder.build(new JcaContentSignerBuilder("SHA256withECDSA").build(signer.getPrivate())));
  }

  private static String pem(Object o) {
    StringWriter out = new StringWriter();
    try (JcaPEMWriter w = new JcaPEMWriter(out)) {
      w.writeObject(o);
    } catch (IOException e) {
      throw new TestkitException("could not encode PEM: " + e.getMessage(), e);
    }
    return out.toString();
  }

  private static void write(Path file, String content) {
    try {
      Files.deleteIfExists(file);
      Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      Files.writeString(file, content, StandardCharsets.US_ASCII);
    } catch (IOException e) {
      throw new TestkitException("could not write " + file + ": " + e.getMessage(), e);
    }
  }
}
