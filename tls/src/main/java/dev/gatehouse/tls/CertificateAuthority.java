package dev.gatehouse.tls;

import java.math.BigInteger;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Date;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.CertIOException;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.util.IPAddress;

/**
 * A private certificate authority kept in a directory, which issues the server certificate a
 * listener presents when no certificate is configured.
 *
 * <p>{@link #prepare(Path, Collection, Clock)} is what a gateway calls at start: it creates {@value
 * #CA_CERTIFICATE} and {@value #CA_KEY} the first time, and from then on reuses them and never
 * replaces them (clients pin {@value #CA_CERTIFICATE} with {@code sslrootcert}; a silently new CA
 * would break every one of them, or worse, teach users to click through). A CA that is incomplete,
 * expired or does not match its key stops the start with a message saying what to do. The server
 * certificate ({@value #SERVER_CERTIFICATE}, {@value #SERVER_KEY}) is reused while it was issued
 * by this CA, still names exactly the requested host names and addresses, and has more than {@link
 * #RENEW_BEFORE} left; otherwise it is issued again.
 *
 * <p>Keys are EC P-256; certificates are signed with ECDSA/SHA-256; the server certificate carries
 * {@code localhost}, {@code 127.0.0.1} and {@code ::1} plus the configured names as subject
 * alternative names, and is valid for {@link #SERVER_VALIDITY} (the CA/Browser Forum ceiling, so
 * that strict clients accept it too).
 *
 * <p>Not safe for two processes preparing the same directory at the same moment (the files are
 * replaced atomically, so the loser's files win consistently, but the two may have issued different
 * leaves); instances are immutable and thread-safe.
 */
public final class CertificateAuthority {
  public static final String CA_CERTIFICATE = "ca.crt";
  public static final String CA_KEY = "ca.key";
  public static final String SERVER_CERTIFICATE = "server.crt";
  public static final String SERVER_KEY = "server.key";
  /** Names every generated server certificate carries, so local clients always verify. */
  public static final List<String> LOOPBACK_NAMES = List.of("localhost", "127.0.0.1", "::1");

  public static final Duration CA_VALIDITY = Duration.ofDays(3650);
  public static final Duration SERVER_VALIDITY = Duration.ofDays(397);
  public static final Duration RENEW_BEFORE = Duration.ofDays(30);
  /** Back-dating covers clients whose clocks run a little behind the gateway's. */
  private static final Duration BACKDATE = Duration.ofHours(1);

  private static final Pattern DNS_NAME =
      Pattern.compile("(\\*\\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*");

  private final X509Certificate certificate;
  private final PrivateKey key;

  private CertificateAuthority(X509Certificate certificate, PrivateKey key) {
    this.certificate = certificate;
    this.key = key;
  }

  /**
   * What {@link #prepare} left in the directory.
   *
   * @param caCertificate the CA certificate clients should trust ({@code sslrootcert})
   * @param serverCertificate the server certificate (leaf only)
   * @param serverKey the server's private key (0600)
   * @param caCreated whether the CA was created by this call
   * @param serverCertificateIssued whether the server certificate was (re)issued by this call
   */
  public record Prepared(
      Path caCertificate, Path serverCertificate, Path serverKey, boolean caCreated, boolean serverCertificateIssued) {
    public Prepared {
      Objects.requireNonNull(caCertificate, "caCertificate == null");
      Objects.requireNonNull(serverCertificate, "serverCertificate == null");
      Objects.requireNonNull(serverKey, "serverKey == null");
    }

    /** The material ready to serve. */
    public ServerTls serverTls() {
      return ServerTls.load(serverCertificate, serverKey);
    }
  }

  /**
   * Makes sure {@code directory} holds a CA and a server certificate for the loopback names plus
   * {@code hostNames} (DNS names, IPv4 or IPv6 literals), creating or re-issuing what is needed.
   *
   * @throws TlsException when a name is invalid, the CA in the directory cannot be used (half
   *     present, expired, key mismatch), or the files cannot be written
   */
  public static Prepared prepare(Path directory, Collection<String> hostNames, Clock clock) {
    Objects.requireNonNull(directory, "directory == null");
    Objects.requireNonNull(clock, "clock == null");
    Set<String> wanted = new LinkedHashSet<>();
    for (String name : LOOPBACK_NAMES) wanted.add(normalize(name));
    for (String name : hostNames) wanted.add(normalize(name));

    Path caCertificate = directory.resolve(CA_CERTIFICATE);
    Path caKey = directory.resolve(CA_KEY);
    boolean caCreated = !Files.exists(caCertificate) && !Files.exists(caKey);
    CertificateAuthority authority = caCreated ? create(directory, clock) : load(directory, clock);

    Path serverCertificate = directory.resolve(SERVER_CERTIFICATE);
    Path serverKey = directory.resolve(SERVER_KEY);
    boolean issue = caCreated || !authority.stillServes(serverCertificate, serverKey, wanted, clock);
    if (issue) {
      KeyPair pair = newKeyPair();
      X509Certificate leaf = authority.issueServerCertificate(pair, wanted, clock);
      // Key first: a crash between the two writes leaves a key that matches no certificate, which
      // the next start detects and repairs, never a certificate whose key is gone.
      PemFiles.writePrivateKey(serverKey, pair.getPrivate());
      PemFiles.writeCertificates(serverCertificate, List.of(leaf));
    }
    return new Prepared(caCertificate, serverCertificate, serverKey, caCreated, issue);
  }

  /** {@link #prepare(Path, Collection, Clock)} with the system clock. */
  public static Prepared prepare(Path directory, Collection<String> hostNames) {
    return prepare(directory, hostNames, Clock.systemUTC());
  }

  /**
   * Loads the CA in {@code directory}.
   *
   * @throws TlsException when either file is missing, the certificate is not a CA, has expired or is
   *     not yet valid, or the key does not match it
   */
  public static CertificateAuthority load(Path directory, Clock clock) {
    Path certificateFile = directory.resolve(CA_CERTIFICATE);
    Path keyFile = directory.resolve(CA_KEY);
    for (Path required : List.of(certificateFile, keyFile)) {
      if (!Files.exists(required)) {
        throw new TlsException(required + ": file is missing while the rest of the certificate authority in "
            + directory + " exists; restore it, or move " + CA_CERTIFICATE + " and " + CA_KEY
            + " away to create a new CA (clients must then trust the new " + CA_CERTIFICATE + ")");
      }
    }
    X509Certificate certificate = PemFiles.readCertificates(certificateFile).get(0);
    PrivateKey key = PemFiles.readPrivateKey(keyFile);
    if (certificate.getBasicConstraints() < 0) {
      throw new TlsException(certificateFile + ": is not a CA certificate (basicConstraints CA:false)");
    }
    Instant now = clock.instant();
    if (now.isAfter(certificate.getNotAfter().toInstant())) {
      throw new TlsException(certificateFile + ": the certificate authority expired at "
          + certificate.getNotAfter().toInstant() + "; move " + CA_CERTIFICATE + " and " + CA_KEY
          + " away to create a new CA (clients must then trust the new " + CA_CERTIFICATE + ")");
    }
    if (now.isBefore(certificate.getNotBefore().toInstant())) {
      throw new TlsException(certificateFile + ": the certificate authority is not valid before "
          + certificate.getNotBefore().toInstant() + "; check the system clock");
    }
    if (!KeyMatch.matches(key, certificate.getPublicKey())) {
      throw new TlsException(keyFile + ": the private key does not belong to " + certificateFile);
    }
    return new CertificateAuthority(certificate, key);
  }

  /** The CA certificate. */
  public X509Certificate certificate() {
    return certificate;
  }

  /**
   * Issues a server certificate for {@code publicKey}'s pair naming {@code names} (already valid
   * DNS names or IP literals).
   */
  X509Certificate issueServerCertificate(KeyPair pair, Set<String> names, Clock clock) {
    Instant now = clock.instant();
    try {
      JcaX509ExtensionUtils extensions = new JcaX509ExtensionUtils();
      X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(
          certificate,
          serialNumber(),
          Date.from(now.minus(BACKDATE)),
          Date.from(earliest(now.plus(SERVER_VALIDITY), certificate.getNotAfter().toInstant())),
          new X500Name("CN=" + names.iterator().next() + ",O=Gatehouse"),
          pair.getPublic())
          .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
          .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature))
          .addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth))
          .addExtension(Extension.subjectAlternativeName, false, generalNames(names))
          .addExtension(Extension.subjectKeyIdentifier, false, extensions.createSubjectKeyIdentifier(pair.getPublic()))
          .addExtension(Extension.authorityKeyIdentifier, false, extensions.createAuthorityKeyIdentifier(certificate));
      return sign(builder, key);
    } catch (GeneralSecurityException | CertIOException e) {
      throw new TlsException("cannot issue a server certificate for " + names + ": " + e.getMessage(), e);
    }
  }

  private static CertificateAuthority create(Path directory, Clock clock) {
    KeyPair pair = newKeyPair();
    Instant now = clock.instant();
    // A random suffix tells two installations' authorities apart in clients' error messages.
    byte[] suffix = new byte[4];
    new SecureRandom().nextBytes(suffix);
    X500Name name = new X500Name("CN=Gatehouse local CA " + HexFormat.of().formatHex(suffix) + ",O=Gatehouse");
    try {
      JcaX509ExtensionUtils extensions = new JcaX509ExtensionUtils();
      X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(
          name, serialNumber(), Date.from(now.minus(BACKDATE)), Date.from(now.plus(CA_VALIDITY)), name, pair.getPublic())
          // pathLen 0: this CA signs leaves only, never another CA.
          .addExtension(Extension.basicConstraints, true, new BasicConstraints(0))
          .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign))
          .addExtension(Extension.subjectKeyIdentifier, false, extensions.createSubjectKeyIdentifier(pair.getPublic()));
      X509Certificate certificate = sign(builder, pair.getPrivate());
      PemFiles.writePrivateKey(directory.resolve(CA_KEY), pair.getPrivate());
      PemFiles.writeCertificates(directory.resolve(CA_CERTIFICATE), List.of(certificate));
      return new CertificateAuthority(certificate, pair.getPrivate());
    } catch (GeneralSecurityException | CertIOException e) {
      throw new TlsException(directory + ": cannot create a certificate authority: " + e.getMessage(), e);
    }
  }

  /** Whether the existing server files can be served as they are. */
  private boolean stillServes(Path certificateFile, Path keyFile, Set<String> wanted, Clock clock) {
    if (!Files.exists(certificateFile) || !Files.exists(keyFile)) return false;
    X509Certificate leaf;
    PrivateKey leafKey;
    try {
      leaf = PemFiles.readCertificates(certificateFile).get(0);
      leafKey = PemFiles.readPrivateKey(keyFile);
    } catch (TlsException e) {
      return false; // our own generated files, unreadable: issue them again rather than refuse to start
    }
    Instant now = clock.instant();
    try {
      leaf.verify(certificate.getPublicKey());
    } catch (GeneralSecurityException e) {
      return false; // issued by another CA
    }
    return KeyMatch.matches(leafKey, leaf.getPublicKey())
        && !now.isBefore(leaf.getNotBefore().toInstant())
        && now.plus(RENEW_BEFORE).isBefore(leaf.getNotAfter().toInstant())
        && wanted.equals(subjectAlternativeNames(leaf));
  }

  /** The DNS and IP subject alternative names of {@code certificate}, normalized like requested names. */
  static Set<String> subjectAlternativeNames(X509Certificate certificate) {
    Set<String> names = new LinkedHashSet<>();
    try {
      Collection<List<?>> entries = certificate.getSubjectAlternativeNames();
      if (entries == null) return names;
      for (List<?> entry : entries) {
        int type = (Integer) entry.get(0);
        if (type == GeneralName.dNSName || type == GeneralName.iPAddress) {
          names.add(normalize((String) entry.get(1)));
        }
      }
    } catch (CertificateParsingException | TlsException e) {
      return Set.of();
    }
    return names;
  }

  /** Lower-cases DNS names and canonicalizes IP literals, so "::1" and "0:0:0:0:0:0:0:1" compare equal. */
  static String normalize(String name) {
    Objects.requireNonNull(name, "name == null");
    String trimmed = name.trim();
    if (trimmed.startsWith("[") && trimmed.endsWith("]")) trimmed = trimmed.substring(1, trimmed.length() - 1);
    if (IPAddress.isValid(trimmed)) {
      try {
        return InetAddress.getByName(trimmed).getHostAddress(); // a literal: no DNS lookup happens
      } catch (UnknownHostException e) {
        throw new TlsException("invalid IP address for the server certificate: " + name, e);
      }
    }
    String lower = trimmed.toLowerCase(Locale.ROOT);
    if (lower.endsWith(".")) lower = lower.substring(0, lower.length() - 1);
    if (lower.length() > 253 || !DNS_NAME.matcher(lower).matches()) {
      throw new TlsException("invalid host name for the server certificate: '" + name
          + "' (expected a DNS name such as db.example.com, or an IP address)");
    }
    return lower;
  }

  private static GeneralNames generalNames(Set<String> names) {
    List<GeneralName> list = new ArrayList<>();
    for (String name : names) {
      list.add(IPAddress.isValid(name)
          ? new GeneralName(GeneralName.iPAddress, name)
          : new GeneralName(GeneralName.dNSName, name));
    }
    return new GeneralNames(list.toArray(GeneralName[]::new));
  }

  private static X509Certificate sign(X509v3CertificateBuilder builder, PrivateKey signingKey)
      throws GeneralSecurityException {
    // A CA placed in the directory by hand may hold an RSA key; generated ones are EC.
    String algorithm = "RSA".equals(signingKey.getAlgorithm()) ? "SHA256withRSA" : "SHA256withECDSA";
    try {
      return new JcaX509CertificateConverter()
          .getCertificate(builder.build(new JcaContentSignerBuilder(algorithm).build(signingKey)));
    } catch (OperatorCreationException e) {
      throw new GeneralSecurityException("cannot sign with the " + signingKey.getAlgorithm() + " key", e);
    }
  }

  private static KeyPair newKeyPair() {
    try {
      KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
      generator.initialize(new ECGenParameterSpec("secp256r1"));
      return generator.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new TlsException("this JDK cannot generate EC P-256 keys: " + e.getMessage(), e);
    }
  }

  /** A positive random serial of 159 bits, as RFC 5280 (at most 20 octets) and CA/B rules ask. */
  private static BigInteger serialNumber() {
    return new BigInteger(159, new SecureRandom()).setBit(0);
  }

  private static Instant earliest(Instant a, Instant b) {
    return a.isBefore(b) ? a : b;
  }
}
