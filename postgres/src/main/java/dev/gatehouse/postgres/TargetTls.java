package dev.gatehouse.postgres;

import dev.gatehouse.tls.ChannelBinding;
import dev.gatehouse.tls.ClientTls;
import dev.gatehouse.tls.TlsException;
import java.io.IOException;
import java.net.Socket;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import java.util.Objects;
import java.util.Optional;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
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
   * SSLRequest) and returns TLS over the socket's streams, which the event loop can later run over
   * the socket's channel ({@link TlsStreams}). In {@link Mode#VERIFY_FULL} the tls module's {@link
   * ClientTls} verifies the chain against {@link #caFile} (or the system trust store) and the
   * certificate against {@link #serverName} (or {@code host}) during the handshake; {@link
   * Mode#REQUIRE} encrypts without verifying. The CA file is read on every call, so a replaced
   * file takes effect for the next connection. Any failure is a {@link PostgresGatewayException}
   * with SQLSTATE 08001.
   */
  TlsStreams handshake(Socket plain, String host, int port, String what) {
    if (mode == Mode.DISABLE) throw new IllegalStateException("tls mode is DISABLE");
    String verifiedName = serverName.orElse(host);
    try {
      // trust() reports an unusable caFile as such (not as a failed handshake) before any TLS byte.
      SSLEngine engine = mode == Mode.VERIFY_FULL
          ? trust().engine(verifiedName, port, ClientTls.Verification.FULL)
          : unverified(verifiedName, port);
      return TlsStreams.connect(engine, plain.getInputStream(), plain.getOutputStream());
    } catch (IOException | GeneralSecurityException | TlsException e) {
      throw new PostgresGatewayException(
          "08001",
          "TLS handshake with " + what + " failed (mode " + mode + ", verified name "
              + verifiedName + "): " + e.getMessage(),
          e);
    }
  }

  private ClientTls trust() {
    if (caFile.isEmpty()) return ClientTls.systemTrust();
    try {
      return ClientTls.trusting(caFile.get());
    } catch (TlsException e) {
      // The tls module names the file and what is wrong with it (missing, not PEM, no certificate).
      throw new PostgresGatewayException(
          "08001", "cannot read CA certificates from caFile " + caFile.get() + ": " + e.getMessage(), e);
    }
  }

  /**
   * The {@code tls-server-end-point} channel binding data of RFC 5929 section 4.1 for the target's
   * certificate, computed by the tls module's {@link ChannelBinding}.
   *
   * @return empty when the certificate's signature algorithm defines no binding hash (Ed25519,
   *     Ed448): the connector then authenticates with plain SCRAM-SHA-256, as PostgreSQL cannot
   *     bind to such a certificate either
   */
  static Optional<byte[]> tlsServerEndPoint(X509Certificate certificate) {
    try {
      return Optional.of(ChannelBinding.tlsServerEndPoint(certificate));
    } catch (TlsException e) {
      return Optional.empty();
    }
  }

  /**
   * TLS for {@link Mode#REQUIRE}: encryption without authentication of the server. This is the one
   * piece the tls module deliberately does not offer (its {@link ClientTls} always verifies the
   * chain), so it lives here, next to the mode that needs it. The connector compensates where it
   * matters: it never sends a cleartext password over such a connection ({@link
   * BackendConnector#cleartextAllowed}), and SCRAM-SHA-256-PLUS, used whenever the server offers it,
   * fails against a man in the middle that presents its own certificate.
   */
  private static SSLEngine unverified(String host, int port) throws GeneralSecurityException {
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(null, new TrustManager[] {new AcceptAnyServer()}, null);
    SSLEngine engine = context.createSSLEngine(host, port);
    engine.setUseClientMode(true);
    SSLParameters parameters = engine.getSSLParameters();
    // PostgreSQL accepts TLS 1.2 and 1.3 only by default (ssl_min_protocol_version); so do we.
    parameters.setProtocols(new String[] {"TLSv1.3", "TLSv1.2"});
    engine.setSSLParameters(parameters);
    return engine;
  }

  /** Accepts every server certificate: that is what REQUIRE means. */
  private static final class AcceptAnyServer implements X509TrustManager {
    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) {
      throw new UnsupportedOperationException("client certificates are not checked here");
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) {
      // Deliberately accepts every server.
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return new X509Certificate[0];
    }
  }
}
