package dev.gatehouse.postgres;

import dev.gatehouse.postgres.wire.AuthenticationCleartextPassword;
import dev.gatehouse.postgres.wire.AuthenticationMD5Password;
import dev.gatehouse.postgres.wire.AuthenticationOk;
import dev.gatehouse.postgres.wire.AuthenticationSASL;
import dev.gatehouse.postgres.wire.AuthenticationSASLContinue;
import dev.gatehouse.postgres.wire.AuthenticationSASLFinal;
import dev.gatehouse.postgres.wire.AuthenticationUnsupported;
import dev.gatehouse.postgres.wire.BackendCodec;
import dev.gatehouse.postgres.wire.BackendKeyData;
import dev.gatehouse.postgres.wire.BackendMessage;
import dev.gatehouse.postgres.wire.CancelRequest;
import dev.gatehouse.postgres.wire.ErrorResponse;
import dev.gatehouse.postgres.wire.Frame;
import dev.gatehouse.postgres.wire.FrameReader;
import dev.gatehouse.postgres.wire.MessageWriter;
import dev.gatehouse.postgres.wire.NegotiateProtocolVersion;
import dev.gatehouse.postgres.wire.NoticeResponse;
import dev.gatehouse.postgres.wire.ParameterStatus;
import dev.gatehouse.postgres.wire.PasswordMessage;
import dev.gatehouse.postgres.wire.ProtocolException;
import dev.gatehouse.postgres.wire.ReadyForQuery;
import dev.gatehouse.postgres.wire.SASLInitialResponse;
import dev.gatehouse.postgres.wire.SASLResponse;
import dev.gatehouse.postgres.wire.SSLRequest;
import dev.gatehouse.postgres.wire.StartupMessage;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import javax.net.ssl.SSLPeerUnverifiedException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Opens authenticated connections to PostgreSQL targets with the credentials only Gatehouse
 * holds, and forwards cancel requests to them.
 *
 * <p>{@link #connect} runs the whole startup phase of the protocol (documentation chapter
 * "Frontend/Backend Protocol", section "Start-up"): TCP connect, SSLRequest and TLS as the
 * target's {@link TargetTls} demands, StartupMessage, authentication, then BackendKeyData and
 * ParameterStatus until the first ReadyForQuery. Authentication follows what the server asks:
 *
 * <ul>
 *   <li>trust (AuthenticationOk straight away);
 *   <li>SCRAM-SHA-256 (RFC 7677) and, over TLS when offered, SCRAM-SHA-256-PLUS with {@code
 *       tls-server-end-point} channel binding; the server's final signature is verified, so a
 *       server that does not know the verifier is refused;
 *   <li>md5;
 *   <li>cleartext password, only over TLS with {@link TargetTls.Mode#VERIFY_FULL} or to a loopback
 *       address: anywhere else the password would go to whoever is on the path;
 *   <li>Kerberos, GSSAPI and SSPI are refused with a message saying so.
 * </ul>
 *
 * <p>Every failure is a {@link PostgresGatewayException} with a SQLSTATE: the server's own for an
 * ErrorResponse (28P01 for a wrong password, 3D000 for a missing database), 08001 for a target
 * that cannot be reached or fails TLS, 08P01 for a protocol violation, 28000 for an
 * authentication that is refused on our side. Messages never contain the password.
 *
 * <p>Stateless apart from its settings; thread-safe. Each call blocks its thread (meant to be a
 * virtual thread) for at most the connect timeout plus the startup timeout per read.
 *
 * <p>Longer than our usual 400 lines because the startup phase is one state machine ({@code
 * Startup}) whose order checks (nothing before AuthenticationOk, no AuthenticationOk before the
 * SCRAM server proof) are easiest to audit when they sit together.
 */
public final class BackendConnector {
  private static final Logger log = LoggerFactory.getLogger(BackendConnector.class);

  /** Messages during startup are small; ErrorResponse is the largest a server legitimately sends. */
  private static final int MAX_STARTUP_MESSAGE = 1 << 20;

  /**
   * Parameters the caller may not set: they choose the role and database (which come from the
   * target alone), switch the session into replication mode, or smuggle arbitrary settings
   * ({@code options}); {@code _pq_.} names are protocol extensions we do not negotiate.
   */
  private static final Set<String> RESERVED_PARAMETERS =
      Set.of("user", "database", "replication", "options");

  /**
   * When {@link #cancelAbandoned} sends its request again. PostgreSQL ignores a cancel that arrives
   * while the backend waits for its next message, then goes on with what was sent before the
   * connection closed (a pipeline's next batch): a later request reaches that statement too.
   */
  private static final List<Duration> CANCEL_AGAIN = List.of(Duration.ofMillis(500), Duration.ofSeconds(2));

  private final Duration connectTimeout;
  private final Duration startupTimeout;
  private final SecureRandom random;

  /** Connect timeout 10 s, startup (TLS and authentication) timeout 30 s. */
  public BackendConnector() {
    this(Duration.ofSeconds(10), Duration.ofSeconds(30), new SecureRandom());
  }

  /**
   * @param connectTimeout how long the TCP connect may take
   * @param startupTimeout how long TLS, authentication and startup may take in all; afterwards
   *     reads block without limit (a query may run for hours)
   * @param random the source of SCRAM client nonces
   */
  public BackendConnector(Duration connectTimeout, Duration startupTimeout, SecureRandom random) {
    this.connectTimeout = positive(connectTimeout, "connectTimeout");
    this.startupTimeout = positive(startupTimeout, "startupTimeout");
    this.random = Objects.requireNonNull(random, "random == null");
  }

  /**
   * Connects and authenticates to {@code target}.
   *
   * @param startupParameters extra startup parameters in the order to send them (the gateway
   *     passes {@code client_encoding=UTF8}, {@code standard_conforming_strings=on}, {@code
   *     DateStyle=ISO} and allow-listed client values); {@code user}, {@code database}, {@code
   *     replication}, {@code options} and {@code _pq_.*} are refused, as is any NUL
   * @return a connection ready for the first query
   * @throws PostgresGatewayException when the connection cannot be made or is refused
   */
  public BackendConnection connect(PostgresTarget target, Map<String, String> startupParameters) {
    Objects.requireNonNull(target, "target == null");
    Map<String, String> parameters = startupParameters(target, startupParameters);
    Socket socket = connectUntimed(target);
    // The whole startup (TLS, authentication, the server's parameters) within startupTimeout, by a
    // watch that closes the socket: a socket timeout would leave it non-blocking for the session.
    Deadlines.Watch watch = Deadlines.after(startupTimeout, () -> closeQuietly(socket));
    try {
      Optional<TlsStreams> tls = target.tls().enabled() ? Optional.of(startTls(socket, target)) : Optional.empty();
      FrameReader reader = new FrameReader(tls.isPresent() ? tls.get().input() : socket.getInputStream());
      MessageWriter writer = new MessageWriter(tls.isPresent() ? tls.get().output() : socket.getOutputStream());
      writer.write(StartupMessage.of(parameters));
      writer.flush();
      BackendConnection connection = new Startup(target, socket, tls, reader, writer).run();
      if (!watch.disarm()) throw new SocketTimeoutException("startup deadline passed");
      return connection; // from here on a query may legitimately run for hours
    } catch (SocketTimeoutException e) {
      closeQuietly(socket);
      throw startupTimedOut(target, e);
    } catch (EOFException e) {
      closeQuietly(socket);
      if (watch.fired()) throw startupTimedOut(target, e);
      throw new PostgresGatewayException(
          "08006", "target " + target.address() + " closed the connection during startup", e);
    } catch (IOException e) {
      closeQuietly(socket);
      if (watch.fired()) throw startupTimedOut(target, e);
      throw new PostgresGatewayException(
          "08006", "connection to target " + target.address() + " failed during startup: " + e.getMessage(), e);
    } catch (ProtocolException e) {
      closeQuietly(socket);
      if (watch.fired()) throw startupTimedOut(target, e);
      throw new PostgresGatewayException(
          e.sqlstate(), "target " + target.address() + " broke the protocol: " + e.getMessage(), e);
    } catch (RuntimeException e) {
      closeQuietly(socket);
      throw e;
    } finally {
      watch.disarm();
    }
  }

  private PostgresGatewayException startupTimedOut(PostgresTarget target, Exception cause) {
    return new PostgresGatewayException(
        "08001", "target " + target.address() + " did not complete startup within " + startupTimeout, cause);
  }

  /**
   * Asks the target to cancel the query running in the session with this key: a new connection
   * (TLS first when the target's mode asks for it; PostgreSQL accepts a CancelRequest inside TLS),
   * one CancelRequest, then waiting for the server to close. Best effort, like PostgreSQL's own
   * cancel: it never throws for network or server trouble, only logs it at debug level. The
   * server says nothing about whether anything was cancelled.
   */
  public void cancel(PostgresTarget target, int processId, byte[] secretKey) {
    Objects.requireNonNull(target, "target == null");
    try {
      sendCancel(target.host(), target.port(), target.tls(), "target " + target.address(),
          new CancelRequest(processId, secretKey.clone()));
    } catch (IOException | RuntimeException e) {
      log.debug("cancel request to target {} failed: {}", target.address(), e.getMessage());
    }
  }

  /**
   * Cancels what a backend whose session ended is still running: {@link #cancel} on a virtual thread
   * named {@code threadName} (the caller, a relay loop thread perhaps, never waits), sent at once
   * and again after 0.5 s and 2 s more. Nobody hears that backend's answers any more, so a later
   * statement it goes on to is cancelled just as rightly. Each attempt is bounded by the connect
   * and startup timeouts; the key never reaches a log line.
   */
  void cancelAbandoned(PostgresTarget target, BackendKeyData key, String threadName) {
    Objects.requireNonNull(target, "target == null");
    int processId = key.processId();
    byte[] secret = key.secretKey().clone();
    Thread.ofVirtual().name(threadName).start(() -> {
      cancel(target, processId, secret);
      for (Duration again : CANCEL_AGAIN) {
        try {
          Thread.sleep(again);
        } catch (InterruptedException e) {
          return;
        }
        cancel(target, processId, secret);
      }
    });
  }

  /**
   * Passes a cancel request on to the node of the cluster that minted its key, as a relayed
   * CancelRequest (Gatehouse's own request code), which that node never passes on again. Waits, as
   * {@link #cancel} does, until the peer closes the connection: it has then forwarded the request
   * to its target.
   *
   * @return empty when the request reached the peer; otherwise why it did not, for the log (never
   *     the key)
   */
  public Optional<String> forwardCancel(PeerNode peer, int processId, byte[] secretKey) {
    Objects.requireNonNull(peer, "peer == null");
    try {
      sendCancel(peer.host(), peer.port(), peer.tls(), "peer node " + peer.id() + " at " + peer.address(),
          new CancelRequest(processId, secretKey.clone(), true));
      return Optional.empty();
    } catch (IOException | RuntimeException e) {
      return Optional.of(String.valueOf(e.getMessage()));
    }
  }

  /** One CancelRequest on a new connection (TLS first when {@code tls} asks), then wait for the close. */
  private void sendCancel(String host, int port, TargetTls tls, String what, CancelRequest request) throws IOException {
    Socket socket = open(host, port, what);
    try {
      Optional<TlsStreams> encrypted = tls.enabled() ? Optional.of(startTls(socket, host, port, tls, what)) : Optional.empty();
      MessageWriter writer = new MessageWriter(encrypted.isPresent() ? encrypted.get().output() : socket.getOutputStream());
      writer.write(request);
      writer.flush();
      // The server closes the connection once it has processed the request (libpq waits too).
      InputStream in = encrypted.isPresent() ? encrypted.get().input() : socket.getInputStream();
      while (in.read() >= 0) {
        // nothing is expected; drain until close
      }
    } finally {
      closeQuietly(socket);
    }
  }

  private Socket open(String host, int port, String what) {
    Socket socket = new Socket();
    try {
      socket.setTcpNoDelay(true);
      socket.setKeepAlive(true);
      socket.connect(new InetSocketAddress(host, port), (int) connectTimeout.toMillis());
      socket.setSoTimeout((int) startupTimeout.toMillis());
      return socket;
    } catch (IOException e) {
      closeQuietly(socket);
      throw new PostgresGatewayException("08001", "could not connect to " + what + ": " + e.getMessage(), e);
    }
  }

  /**
   * A session's connection: connected within {@code connectTimeout} by a watch that closes the
   * socket, not by a timed connect, which would leave the socket non-blocking (see {@link Deadlines}).
   */
  private Socket connectUntimed(PostgresTarget target) {
    Socket socket;
    try {
      // A channel's socket: the event loop can take it over once the session is relayed.
      socket = SocketChannel.open().socket();
    } catch (IOException e) {
      throw new PostgresGatewayException("08001", "could not open a socket: " + e.getMessage(), e);
    }
    Deadlines.Watch watch = Deadlines.after(connectTimeout, () -> closeQuietly(socket));
    try {
      socket.setTcpNoDelay(true);
      socket.setKeepAlive(true);
      socket.connect(new InetSocketAddress(target.host(), target.port()));
      if (!watch.disarm()) throw new SocketTimeoutException("connect timed out");
      return socket;
    } catch (IOException e) {
      closeQuietly(socket);
      String why = watch.fired() ? "connect timed out after " + connectTimeout.toMillis() + " ms" : e.getMessage();
      throw new PostgresGatewayException("08001", "could not connect to target " + target.address() + ": " + why, e);
    } finally {
      watch.disarm();
    }
  }

  /**
   * SSLRequest, then the TLS handshake. The answer byte is read straight from the socket, with no
   * buffer: bytes a man in the middle injects after 'S' must reach the TLS engine (which rejects
   * them), never be taken as the server's messages (libpq CVE-2021-23222).
   */
  private static TlsStreams startTls(Socket socket, PostgresTarget target) throws IOException {
    return startTls(socket, target.host(), target.port(), target.tls(), "target " + target.address());
  }

  private static TlsStreams startTls(Socket socket, String host, int port, TargetTls tls, String what) throws IOException {
    MessageWriter writer = new MessageWriter(socket.getOutputStream());
    writer.write(SSLRequest.INSTANCE);
    writer.flush();
    int answer = socket.getInputStream().read();
    return switch (answer) {
      case 'S' -> tls.handshake(socket, host, port, what);
      case 'N' ->
          throw new PostgresGatewayException(
              "08001",
              what + " does not accept TLS (answered N to SSLRequest) but tls mode is " + tls.mode()
                  + ": refusing to continue in clear");
      case -1 -> throw new PostgresGatewayException("08006", what + " closed the connection after SSLRequest");
      default ->
          throw new PostgresGatewayException("08P01", what + " answered SSLRequest with byte " + answer + ", not S or N");
    };
  }

  private static Map<String, String> startupParameters(PostgresTarget target, Map<String, String> extra) {
    Objects.requireNonNull(extra, "startupParameters == null");
    Map<String, String> parameters = new LinkedHashMap<>();
    parameters.put("user", target.user());
    parameters.put("database", target.database());
    extra.forEach(
        (name, value) -> {
          Objects.requireNonNull(name, "startup parameter name == null");
          Objects.requireNonNull(value, "startup parameter " + name + " == null");
          String lower = name.toLowerCase(Locale.ROOT);
          if (name.isEmpty() || RESERVED_PARAMETERS.contains(lower) || lower.startsWith("_pq_.")) {
            throw new IllegalArgumentException("startup parameter may not be set by the caller: " + name);
          }
          if (name.indexOf('\0') >= 0 || value.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("startup parameter contains a NUL character: " + name);
          }
          parameters.put(name, value);
        });
    return parameters;
  }

  /**
   * Whether the password may travel in clear text inside the protocol: only inside TLS that
   * authenticated the server, or to the local machine. Over TLS in REQUIRE mode the server is not
   * authenticated, so whoever sits in the middle would receive the password.
   */
  static boolean cleartextAllowed(TargetTls.Mode tls, boolean encrypted, InetAddress remote) {
    return (encrypted && tls == TargetTls.Mode.VERIFY_FULL) || remote.isLoopbackAddress();
  }

  /** The md5 method's answer: "md5" + hex(md5(hex(md5(password + user)) + salt)). */
  static String md5Response(byte[] password, String user, byte[] salt) {
    try {
      MessageDigest md5 = MessageDigest.getInstance("MD5");
      md5.update(password);
      md5.update(user.getBytes(StandardCharsets.UTF_8));
      byte[] inner = HexFormat.of().formatHex(md5.digest()).getBytes(StandardCharsets.US_ASCII);
      md5.update(inner);
      md5.update(salt);
      return "md5" + HexFormat.of().formatHex(md5.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("MD5 unavailable", e);
    }
  }

  private static Duration positive(Duration d, String name) {
    Objects.requireNonNull(d, name + " == null");
    if (d.isNegative() || d.isZero() || d.toMillis() > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(name + " not in (0, " + Integer.MAX_VALUE + " ms]: " + d);
    }
    return d;
  }

  private static void closeQuietly(Socket socket) {
    try {
      socket.close();
    } catch (IOException e) {
      // already unusable
    }
  }

  /** The startup conversation of one connection: a small state machine, one thread. */
  private final class Startup {
    private final PostgresTarget target;
    private final Socket socket;
    private final Optional<TlsStreams> tls;
    private final FrameReader reader;
    private final MessageWriter writer;
    private final Map<String, String> parameterStatus = new LinkedHashMap<>();
    private Optional<BackendKeyData> backendKey = Optional.empty();
    private ScramClient scram;
    private boolean authenticated;

    Startup(PostgresTarget target, Socket socket, Optional<TlsStreams> tls, FrameReader reader, MessageWriter writer) {
      this.target = target;
      this.socket = socket;
      this.tls = tls;
      this.reader = reader;
      this.writer = writer;
    }

    BackendConnection run() throws IOException {
      while (true) {
        Frame frame =
            reader
                .read(MAX_STARTUP_MESSAGE)
                .orElseThrow(() -> new EOFException("target closed the connection during startup"));
        BackendMessage message = BackendCodec.decode(frame);
        switch (message) {
          case ErrorResponse error -> throw refused(error);
          case NoticeResponse notice ->
              log.debug("target {} notice during startup: {}", target.address(), notice.message());
          case NegotiateProtocolVersion negotiate ->
              // We ask for 3.0 without _pq_ options, which every protocol-3 server speaks.
              log.debug("target {} supports protocol 3.{} at most", target.address(), negotiate.newestMinor());
          case AuthenticationOk ok -> authenticationOk();
          case AuthenticationCleartextPassword request -> cleartext();
          case AuthenticationMD5Password request -> md5(request.salt());
          case AuthenticationSASL request -> saslStart(request);
          case AuthenticationSASLContinue request -> saslContinue(request.data());
          case AuthenticationSASLFinal request -> saslFinal(request.data());
          case AuthenticationUnsupported request -> throw unsupported(request.code());
          case BackendKeyData key -> {
            requireAuthenticated("BackendKeyData");
            backendKey = Optional.of(key);
          }
          case ParameterStatus status -> {
            requireAuthenticated("ParameterStatus");
            parameterStatus.put(status.name(), status.value());
          }
          case ReadyForQuery ready -> {
            requireAuthenticated("ReadyForQuery");
            log.debug("connected to target {} as {}", target.address(), target.user());
            return new BackendConnection(socket, tls, reader, writer, backendKey, parameterStatus);
          }
          default -> throw violation("unexpected " + message.getClass().getSimpleName() + " during startup");
        }
      }
    }

    private void authenticationOk() {
      requireNotAuthenticated("AuthenticationOk");
      if (scram != null && !scram.serverVerified()) {
        // Accepting here would let a server that does not know the verifier impersonate the target.
        throw new PostgresGatewayException(
            "28000",
            "target " + target.address() + " sent AuthenticationOk before proving its SCRAM server signature: refused");
      }
      authenticated = true;
    }

    private void cleartext() throws IOException {
      requireNotAuthenticated("AuthenticationCleartextPassword");
      if (!cleartextAllowed(target.tls().mode(), tls.isPresent(), socket.getInetAddress())) {
        throw new PostgresGatewayException(
            "28000",
            "target "
                + target.address()
                + " asks for the password in clear text, which is allowed only over TLS in"
                + " VERIFY_FULL mode or to a loopback address; configure scram-sha-256 for role "
                + target.user()
                + " in the target's pg_hba.conf, or verify the target with TLS");
      }
      String password = target.password().reveal();
      if (password.indexOf('\0') >= 0) {
        throw new PostgresGatewayException("28000", "the target password contains a NUL character and cannot be sent");
      }
      writer.write(PasswordMessage.cleartext(password));
      writer.flush();
    }

    private void md5(byte[] salt) throws IOException {
      requireNotAuthenticated("AuthenticationMD5Password");
      String response = md5Response(target.password().revealBytes(), target.user(), salt);
      writer.write(PasswordMessage.cleartext(response));
      writer.flush();
    }

    private void saslStart(AuthenticationSASL request) throws IOException {
      requireNotAuthenticated("AuthenticationSASL");
      if (scram != null) throw violation("second AuthenticationSASL in one startup");
      boolean offersPlus = request.mechanisms().contains(ScramClient.SCRAM_SHA_256_PLUS);
      Optional<byte[]> binding = tls.isPresent() && offersPlus ? channelBinding() : Optional.empty();
      if (binding.isEmpty() && !request.mechanisms().contains(ScramClient.SCRAM_SHA_256)) {
        throw new PostgresGatewayException(
            "28000",
            "target " + target.address() + " offers SASL mechanisms " + request.mechanisms()
                + ", none of which Gatehouse supports (SCRAM-SHA-256, SCRAM-SHA-256-PLUS over TLS)");
      }
      // "y" only when the server did not offer PLUS over TLS: if it then claims to support binding,
      // someone removed the offer. When it offered PLUS but we could not bind, "n" is the truth.
      boolean tlsWithoutPlus = tls.isPresent() && !offersPlus;
      scram = new ScramClient(target.password().revealBytes(), binding, tlsWithoutPlus, random);
      log.debug("authenticating to target {} with {}", target.address(), scram.mechanism());
      writer.write(new SASLInitialResponse(scram.mechanism(), scram.clientFirstMessage()));
      writer.flush();
    }

    private void saslContinue(byte[] data) throws IOException {
      if (scram == null) throw violation("AuthenticationSASLContinue without AuthenticationSASL");
      writer.write(new SASLResponse(scram.clientFinalMessage(data)));
      writer.flush();
    }

    private void saslFinal(byte[] data) {
      if (scram == null) throw violation("AuthenticationSASLFinal without AuthenticationSASL");
      scram.verifyServerFinal(data);
    }

    private Optional<byte[]> channelBinding() {
      try {
        Certificate[] chain = tls.orElseThrow().session().getPeerCertificates();
        if (chain.length > 0 && chain[0] instanceof X509Certificate certificate) {
          Optional<byte[]> hash = TargetTls.tlsServerEndPoint(certificate);
          if (hash.isEmpty()) {
            log.debug("target {} certificate algorithm {} allows no channel binding", target.address(), certificate.getSigAlgName());
          }
          return hash;
        }
      } catch (SSLPeerUnverifiedException e) {
        log.debug("target {} presented no certificate: no channel binding", target.address());
      }
      return Optional.empty();
    }

    private PostgresGatewayException refused(ErrorResponse error) {
      String sqlstate = error.sqlstate().matches("[0-9A-Z]{5}") ? error.sqlstate() : "08001";
      String message = scrub(error.message());
      return new PostgresGatewayException(
          sqlstate, "target " + target.address() + " refused the connection: " + message);
    }

    /** Servers never echo the password, but a hostile one could: never pass it on. */
    private String scrub(String text) {
      String password = target.password().reveal();
      String cut = text.length() > 1000 ? text.substring(0, 1000) : text;
      return password.length() >= 3 ? cut.replace(password, "[redacted]") : cut;
    }

    private PostgresGatewayException unsupported(int code) {
      String method =
          switch (code) {
            case 2 -> "Kerberos V5";
            case 7, 8 -> "GSSAPI";
            case 9 -> "SSPI";
            default -> "method " + code;
          };
      return new PostgresGatewayException(
          "28000",
          "target " + target.address() + " asks for " + method + " authentication, which Gatehouse does not support;"
              + " configure scram-sha-256 for role " + target.user() + " in the target's pg_hba.conf");
    }

    private void requireAuthenticated(String what) {
      if (!authenticated) throw violation(what + " before AuthenticationOk");
    }

    private void requireNotAuthenticated(String what) {
      if (authenticated) throw violation(what + " after AuthenticationOk");
    }

    private PostgresGatewayException violation(String message) {
      return new PostgresGatewayException("08P01", "target " + target.address() + " broke the protocol: " + message);
    }
  }
}
