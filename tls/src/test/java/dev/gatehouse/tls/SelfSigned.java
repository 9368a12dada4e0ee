package dev.gatehouse.tls;

import java.math.BigInteger;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Date;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/** Self-signed certificates with a chosen key type and signature algorithm, for tests. */
record SelfSigned(KeyPair keys, X509Certificate certificate) {
  static SelfSigned create(String keyAlgorithm, String signatureAlgorithm, String dnsName) throws Exception {
    KeyPairGenerator generator = KeyPairGenerator.getInstance(keyAlgorithm);
    switch (keyAlgorithm) {
      case "RSA" -> generator.initialize(2048);
      case "EC" -> generator.initialize(new ECGenParameterSpec("secp384r1"));
      default -> { }
    }
    KeyPair keys = generator.generateKeyPair();
    X500Name name = new X500Name("CN=" + dnsName);
    Instant now = Instant.now();
    var builder = new JcaX509v3CertificateBuilder(
        name, BigInteger.valueOf(now.toEpochMilli()), Date.from(now.minus(1, ChronoUnit.HOURS)),
        Date.from(now.plus(1, ChronoUnit.DAYS)), name, keys.getPublic())
        .addExtension(Extension.subjectAlternativeName, false,
            new GeneralNames(new GeneralName(GeneralName.dNSName, dnsName)));
    X509Certificate certificate = new JcaX509CertificateConverter()
        .getCertificate(builder.build(signer(signatureAlgorithm).build(keys.getPrivate())));
    return new SelfSigned(keys, certificate);
  }

  /** The JDK lacks the "…withRSAandMGF1" names, so those sign through a BouncyCastle provider instance. */
  private static JcaContentSignerBuilder signer(String signatureAlgorithm) {
    JcaContentSignerBuilder builder = new JcaContentSignerBuilder(signatureAlgorithm);
    return signatureAlgorithm.contains("MGF1") ? builder.setProvider(new BouncyCastleProvider()) : builder;
  }
}
