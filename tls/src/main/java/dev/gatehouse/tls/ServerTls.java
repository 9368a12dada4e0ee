package dev.gatehouse.tls;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Objects;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;

/**
 * The TLS identity of a Gatehouse listener: a certificate chain and its private key, ready to
 * accept TLS 1.3 and 1.2 connections (nothing older).
 *
 * <p>Protocol listeners usually start in plaintext and upgrade (PostgreSQL's {@code SSLRequest}),
 * so the main entry point is {@link #wrap(Socket, List)}, which layers TLS in server mode over an
 * accepted socket; {@link #wrap(Socket, byte[], List)} does the same when the first bytes of the
 * handshake were already read to detect direct TLS. The handshake runs on the first read or write
 * or on {@link SSLSocket#startHandshake()}; set a socket timeout first so a silent client cannot
 * hold the thread.
 *
 * <p>Immutable and thread-safe: one instance serves every connection of a listener.
 */
public final class ServerTls {
  private final SSLContext context;
  private final List<X509Certificate> chain;

  private ServerTls(SSLContext context, List<X509Certificate> chain) {
    this.context = context;
    this.chain = chain;
  }

  /**
   * Loads a PEM certificate chain (leaf first) and its PEM private key.
   *
   * @throws TlsException naming the file that is missing or wrong, or saying the key does not
   *     belong to the certificate
   */
  public static ServerTls load(Path certificateChain, Path privateKey) {
    List<X509Certificate> chain = PemFiles.readCertificates(certificateChain);
    PrivateKey key = PemFiles.readPrivateKey(privateKey);
    if (!KeyMatch.matches(key, chain.get(0).getPublicKey())) {
      throw new TlsException(privateKey + ": the private key does not belong to the certificate "
          + chain.get(0).getSubjectX500Principal() + " in " + certificateChain);
    }
    return of(chain, key);
  }

  /** Builds from material already in memory; {@code chain} is leaf first. */
  public static ServerTls of(List<X509Certificate> chain, PrivateKey key) {
    Objects.requireNonNull(key, "key == null");
    if (chain.isEmpty()) throw new IllegalArgumentException("chain is empty");
    List<X509Certificate> copy = List.copyOf(chain);
    try {
      // The key store exists only in memory, so its password protects nothing; a random one keeps
      // the API from suggesting otherwise.
      char[] password = Long.toHexString(new SecureRandom().nextLong()).toCharArray();
      KeyStore store = KeyStore.getInstance("PKCS12");
      store.load(null, null);
      store.setKeyEntry("server", key, password, copy.toArray(X509Certificate[]::new));
      KeyManagerFactory keys = KeyManagerFactory.getInstance("PKIX");
      keys.init(store, password);
      SSLContext context = TlsVersions.newContext();
      context.init(keys.getKeyManagers(), null, null);
      return new ServerTls(context, copy);
    } catch (GeneralSecurityException | IOException e) {
      throw new TlsException("cannot use the certificate " + copy.get(0).getSubjectX500Principal()
          + " and its key for TLS: " + e.getMessage(), e);
    }
  }

  /** The underlying context, for libraries that take one (HTTP servers). Pair it with {@link #parameters()}. */
  public SSLContext context() {
    return context;
  }

  /** The leaf certificate this listener presents. */
  public X509Certificate certificate() {
    return chain.get(0);
  }

  /** The presented chain, leaf first. */
  public List<X509Certificate> chain() {
    return chain;
  }

  /** A fresh copy of the server parameters: TLS 1.3/1.2, ECDHE+AEAD suites, server suite order. */
  public SSLParameters parameters() {
    SSLParameters parameters = TlsVersions.restrictedParameters(context);
    parameters.setUseCipherSuitesOrder(true);
    parameters.setNeedClientAuth(false);
    return parameters;
  }

  /** Layers server-mode TLS over an accepted socket; closing the result closes {@code socket}. */
  public SSLSocket wrap(Socket socket) {
    return wrap(socket, List.of());
  }

  /**
   * Layers server-mode TLS over an accepted socket, negotiating one of {@code applicationProtocols}
   * by ALPN when the client offers any (a client offering only others is refused, as RFC 7301
   * requires); an empty list disables ALPN.
   */
  public SSLSocket wrap(Socket socket, List<String> applicationProtocols) {
    Objects.requireNonNull(socket, "socket == null");
    try {
      SSLSocket tls = (SSLSocket) context.getSocketFactory()
          .createSocket(socket, hostOf(socket), socket.getPort(), true);
      configure(tls, applicationProtocols);
      return tls;
    } catch (IOException e) {
      throw new TlsException("cannot start TLS on " + socket.getRemoteSocketAddress() + ": " + e.getMessage(), e);
    }
  }

  /**
   * Like {@link #wrap(Socket, List)} for a connection whose first bytes ({@code alreadyRead}, the
   * start of the ClientHello) were consumed to recognise direct TLS.
   */
  public SSLSocket wrap(Socket socket, byte[] alreadyRead, List<String> applicationProtocols) {
    Objects.requireNonNull(socket, "socket == null");
    try {
      SSLSocket tls = (SSLSocket) context.getSocketFactory()
          .createSocket(socket, new ByteArrayInputStream(alreadyRead.clone()), true);
      configure(tls, applicationProtocols);
      return tls;
    } catch (IOException e) {
      throw new TlsException("cannot start TLS on " + socket.getRemoteSocketAddress() + ": " + e.getMessage(), e);
    }
  }

  /** A listening TLS socket on {@code address}, configured like {@link #wrap(Socket)}. */
  public SSLServerSocket bind(InetSocketAddress address) {
    try {
      SSLServerSocket server = (SSLServerSocket) context.getServerSocketFactory().createServerSocket();
      server.setSSLParameters(parameters());
      server.bind(address);
      return server;
    } catch (IOException e) {
      throw new TlsException("cannot listen with TLS on " + address + ": " + e.getMessage(), e);
    }
  }

  private void configure(SSLSocket tls, List<String> applicationProtocols) {
    tls.setUseClientMode(false);
    SSLParameters parameters = parameters();
    if (!applicationProtocols.isEmpty()) {
      parameters.setApplicationProtocols(applicationProtocols.toArray(String[]::new));
    }
    tls.setSSLParameters(parameters);
  }

  private static String hostOf(Socket socket) {
    // Never a reverse DNS lookup on the accept path: the literal address is enough for a server socket.
    return socket.getInetAddress() == null ? "unconnected" : socket.getInetAddress().getHostAddress();
  }
}
