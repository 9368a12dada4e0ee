package dev.gatehouse.tls;

import java.io.IOException;
import java.net.Socket;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.bouncycastle.util.IPAddress;

/**
 * TLS towards a target (a database, an identity provider): which certificate authorities are
 * trusted, and how a client socket verifies the server.
 *
 * <p>Verification is on by default and there is deliberately no "trust everything" mode: {@link
 * Verification#FULL} checks the chain and the host name (endpoint identification {@code HTTPS},
 * i.e. RFC 2818/6125 matching against the certificate's subject alternative names, IP addresses
 * included), the equivalent of libpq's {@code sslmode=verify-full}; {@link Verification#CHAIN_ONLY}
 * checks the chain only ({@code verify-ca}), for targets reached by an address their certificate
 * does not name.
 *
 * <p>Immutable and thread-safe.
 */
public final class ClientTls {
  /** How much of the server's identity a client connection checks. */
  public enum Verification {
    /** Chain to a trusted authority and the host name the client dialled. */
    FULL,
    /** Chain to a trusted authority only. */
    CHAIN_ONLY
  }

  private final SSLContext context;
  private final String trustDescription;

  private ClientTls(SSLContext context, String trustDescription) {
    this.context = context;
    this.trustDescription = trustDescription;
  }

  /**
   * Trusts exactly the certificates in a PEM bundle file (typically a private CA's {@code ca.crt}).
   *
   * @throws TlsException naming the file when it is missing or holds no certificate
   */
  public static ClientTls trusting(Path caBundle) {
    return build(PemFiles.readCertificates(caBundle), caBundle.toString());
  }

  /** Trusts exactly {@code authorities}. */
  public static ClientTls trusting(Collection<X509Certificate> authorities) {
    if (authorities.isEmpty()) throw new IllegalArgumentException("authorities is empty");
    return build(List.copyOf(authorities), authorities.size() + " configured certificate(s)");
  }

  /** Trusts the JDK's default certificate authorities (for public identity providers and cloud databases). */
  public static ClientTls systemTrust() {
    try {
      TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      trust.init((KeyStore) null);
      SSLContext context = TlsVersions.newContext();
      context.init(null, trust.getTrustManagers(), null);
      return new ClientTls(context, "the JDK's default certificate authorities");
    } catch (GeneralSecurityException e) {
      throw new TlsException("cannot load the JDK's default certificate authorities: " + e.getMessage(), e);
    }
  }

  private static ClientTls build(List<X509Certificate> authorities, String description) {
    try {
      KeyStore store = KeyStore.getInstance("PKCS12");
      store.load(null, null);
      for (int i = 0; i < authorities.size(); i++) {
        store.setCertificateEntry("ca-" + i, authorities.get(i));
      }
      TrustManagerFactory trust = TrustManagerFactory.getInstance("PKIX");
      trust.init(store);
      SSLContext context = TlsVersions.newContext();
      context.init(null, trust.getTrustManagers(), null);
      return new ClientTls(context, description);
    } catch (GeneralSecurityException | IOException e) {
      throw new TlsException("cannot trust " + description + ": " + e.getMessage(), e);
    }
  }

  /** The underlying context, for libraries that take one; pair it with {@link #parameters}. */
  public SSLContext context() {
    return context;
  }

  /**
   * Fresh client parameters for connecting to {@code host}: TLS 1.3/1.2, SNI when {@code host} is a
   * name (RFC 6066 forbids IP literals in SNI), and host-name verification when {@code
   * verification} is {@link Verification#FULL}.
   */
  public SSLParameters parameters(String host, Verification verification) {
    Objects.requireNonNull(host, "host == null");
    Objects.requireNonNull(verification, "verification == null");
    SSLParameters parameters = TlsVersions.restrictedParameters(context);
    if (verification == Verification.FULL) {
      parameters.setEndpointIdentificationAlgorithm("HTTPS");
    }
    String bare = stripBrackets(host);
    if (!IPAddress.isValid(bare) && !bare.isEmpty()) {
      parameters.setServerNames(List.of(new SNIHostName(stripTrailingDot(bare).toLowerCase(Locale.ROOT))));
    }
    return parameters;
  }

  /**
   * Layers client-mode TLS over a connected socket (for example after PostgreSQL answered {@code S}
   * to an {@code SSLRequest}). The handshake, and with it the verification, runs on the first read
   * or write or on {@link SSLSocket#startHandshake()}, which then throws {@link
   * javax.net.ssl.SSLHandshakeException} when the server is not who {@code host} says. Closing the
   * result closes {@code socket}.
   */
  public SSLSocket wrap(Socket socket, String host, int port, Verification verification) {
    Objects.requireNonNull(socket, "socket == null");
    try {
      SSLSocket tls = (SSLSocket) context.getSocketFactory().createSocket(socket, stripBrackets(host), port, true);
      tls.setUseClientMode(true);
      tls.setSSLParameters(parameters(host, verification));
      return tls;
    } catch (IOException e) {
      throw new TlsException("cannot start TLS towards " + host + ":" + port + ": " + e.getMessage(), e);
    }
  }

  /**
   * A client-mode {@link SSLEngine} for connecting to {@code host}, with the parameters of {@link
   * #parameters}: for TLS over streams a caller drives itself (an event loop's non-blocking
   * channel). The handshake verifies as {@link #wrap}'s does.
   */
  public SSLEngine engine(String host, int port, Verification verification) {
    Objects.requireNonNull(host, "host == null");
    SSLEngine engine = context.createSSLEngine(stripBrackets(host), port);
    engine.setUseClientMode(true);
    engine.setSSLParameters(parameters(host, verification));
    return engine;
  }

  @Override
  public String toString() {
    return "ClientTls[trusting " + trustDescription + "]";
  }

  private static String stripBrackets(String host) {
    return host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
  }

  private static String stripTrailingDot(String host) {
    return host.endsWith(".") ? host.substring(0, host.length() - 1) : host;
  }
}
