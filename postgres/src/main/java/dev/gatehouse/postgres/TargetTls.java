package dev.gatehouse.postgres;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/**
 * How Gatehouse protects its connection to a PostgreSQL target. Immutable value.
 *
 * <p>The modes mirror libpq's {@code sslmode} values that make sense for a gateway: there is no
 * "prefer" or "allow", because a connection that silently falls back to cleartext is exactly the
 * downgrade an attacker on the path wants.
 *
 * @param mode whether to use TLS and how much to verify; {@link Mode#VERIFY_FULL} by default
 * @param caFile PEM file of the CA certificates to trust; the JDK's system trust store when empty
 * @param serverName the name to verify the certificate against (and to send as SNI) when it
 *     differs from the target's host, for example when connecting by IP address
 */
public record TargetTls(Mode mode, Optional<Path> caFile, Optional<String> serverName) {

  /** What to do about TLS towards the target. */
  public enum Mode {
    /** Plain TCP. Only sensible on a trusted network or to a loopback target. */
    DISABLE,
    /**
     * Encrypt, but verify neither the certificate chain nor the host name. Discouraged: it stops a
     * passive eavesdropper, not an active man in the middle.
     */
    REQUIRE,
    /** Encrypt, verify the certificate chain against the trusted CAs and the host name. */
    VERIFY_FULL
  }

  public TargetTls {
    Objects.requireNonNull(mode, "mode == null");
    Objects.requireNonNull(caFile, "caFile == null");
    Objects.requireNonNull(serverName, "serverName == null");
    if (mode == Mode.DISABLE && (caFile.isPresent() || serverName.isPresent())) {
      throw new IllegalArgumentException(
          "tls mode is DISABLE but caFile or serverName is set: choose VERIFY_FULL to use them");
    }
    serverName.ifPresent(
        name -> {
          if (name.isBlank()) throw new IllegalArgumentException("serverName is blank");
        });
  }

  /** TLS with full verification against the system trust store: the default. */
  public static TargetTls verifyFull() {
    return new TargetTls(Mode.VERIFY_FULL, Optional.empty(), Optional.empty());
  }

  /** TLS with full verification against the CA certificates in {@code caFile} (PEM). */
  public static TargetTls verifyFull(Path caFile) {
    return new TargetTls(Mode.VERIFY_FULL, Optional.of(caFile), Optional.empty());
  }

  /** TLS without any verification. Discouraged; see {@link Mode#REQUIRE}. */
  public static TargetTls require() {
    return new TargetTls(Mode.REQUIRE, Optional.empty(), Optional.empty());
  }

  /** No TLS. */
  public static TargetTls disabled() {
    return new TargetTls(Mode.DISABLE, Optional.empty(), Optional.empty());
  }

  public boolean enabled() {
    return mode != Mode.DISABLE;
  }

  /**
   * Runs the TLS handshake over an already connected socket (after PostgreSQL answered 'S' to
   * SSLRequest) and returns the TLS socket. In {@link Mode#VERIFY_FULL} the chain and the host
   * name are verified by the JDK during the handshake; any failure is a {@link
   * PostgresGatewayException} with SQLSTATE 08001.
   */
  SSLSocket handshake(Socket plain, String host, int port) {
    if (mode == Mode.DISABLE) throw new IllegalStateException("tls mode is DISABLE");
    String verifiedName = serverName.orElse(host);
    try {
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(null, trustManagers(), null);
      SSLSocket socket =
          (SSLSocket) context.getSocketFactory().createSocket(plain, verifiedName, port, true);
      SSLParameters parameters = socket.getSSLParameters();
      // PostgreSQL accepts TLS 1.2 and 1.3 only by default (ssl_min_protocol_version); so do we.
      parameters.setProtocols(new String[] {"TLSv1.3", "TLSv1.2"});
      if (mode == Mode.VERIFY_FULL) {
        // RFC 2818/6125 host name rules, the same libpq's verify-full applies.
        parameters.setEndpointIdentificationAlgorithm("HTTPS");
      }
      socket.setSSLParameters(parameters);
      socket.setUseClientMode(true);
      socket.startHandshake();
      return socket;
    } catch (GeneralSecurityException | IOException e) {
      throw new PostgresGatewayException(
          "08001",
          "TLS handshake with target "
              + host
              + ":"
              + port
              + " failed (mode "
              + mode
              + ", verified name "
              + verifiedName
              + "): "
              + e.getMessage(),
          e);
    }
  }

  private TrustManager[] trustManagers() throws GeneralSecurityException, IOException {
    if (mode == Mode.REQUIRE) return new TrustManager[] {new AcceptAnyServer()};
    TrustManagerFactory factory =
        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    if (caFile.isEmpty()) {
      factory.init((KeyStore) null); // the JDK's system trust store
      return factory.getTrustManagers();
    }
    KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
    store.load(null, null);
    int index = 0;
    try (InputStream in = Files.newInputStream(caFile.get())) {
      for (Certificate certificate :
          CertificateFactory.getInstance("X.509").generateCertificates(in)) {
        store.setCertificateEntry("ca-" + index++, certificate);
      }
    } catch (IOException | GeneralSecurityException e) {
      throw new PostgresGatewayException(
          "08001", "cannot read CA certificates from caFile " + caFile.get() + ": " + e.getMessage(), e);
    }
    if (index == 0) {
      throw new PostgresGatewayException(
          "08001", "caFile " + caFile.get() + " holds no PEM certificate");
    }
    factory.init(store);
    return factory.getTrustManagers();
  }

  /**
   * The {@code tls-server-end-point} channel binding data of RFC 5929 section 4.1: the hash of
   * the server certificate's DER encoding, with the hash function of the certificate's signature
   * algorithm, except that MD5 and SHA-1 are replaced by SHA-256.
   *
   * @return empty when the signature algorithm names no hash (Ed25519, RSASSA-PSS), as PostgreSQL
   *     itself cannot bind to such a certificate either
   */
  static Optional<byte[]> tlsServerEndPoint(X509Certificate certificate) {
    String algorithm = certificate.getSigAlgName().toUpperCase(Locale.ROOT);
    int with = algorithm.indexOf("WITH");
    if (with <= 0) return Optional.empty();
    String hash =
        switch (algorithm.substring(0, with)) {
          case "MD5", "SHA1", "SHA256" -> "SHA-256";
          case "SHA224" -> "SHA-224";
          case "SHA384" -> "SHA-384";
          case "SHA512" -> "SHA-512";
          default -> "";
        };
    if (hash.isEmpty()) return Optional.empty();
    try {
      return Optional.of(MessageDigest.getInstance(hash).digest(certificate.getEncoded()));
    } catch (GeneralSecurityException e) {
      return Optional.empty();
    }
  }

  /** For {@link Mode#REQUIRE}: encryption without authentication of the server. */
  private static final class AcceptAnyServer implements X509TrustManager {
    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) {
      throw new UnsupportedOperationException("client certificates are not checked here");
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) {
      // Deliberately accepts every server: that is what REQUIRE means.
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return new X509Certificate[0];
    }
  }
}
