package dev.gatehouse.postgres;

import dev.gatehouse.core.Admission;
import dev.gatehouse.core.Checkpoint;
import dev.gatehouse.core.ClientInfo;
import dev.gatehouse.core.ResourceType;
import dev.gatehouse.core.Secret;
import dev.gatehouse.core.Session;
import dev.gatehouse.postgres.sql.SqlClassifier;
import dev.gatehouse.postgres.wire.AuthenticationCleartextPassword;
import dev.gatehouse.postgres.wire.AuthenticationOk;
import dev.gatehouse.postgres.wire.BackendKeyData;
import dev.gatehouse.postgres.wire.CancelRequest;
import dev.gatehouse.postgres.wire.ErrorResponse;
import dev.gatehouse.postgres.wire.Frame;
import dev.gatehouse.postgres.wire.FrameReader;
import dev.gatehouse.postgres.wire.FrontendCodec;
import dev.gatehouse.postgres.wire.FrontendMessage;
import dev.gatehouse.postgres.wire.GSSENCRequest;
import dev.gatehouse.postgres.wire.MessageWriter;
import dev.gatehouse.postgres.wire.NegotiateProtocolVersion;
import dev.gatehouse.postgres.wire.ParameterStatus;
import dev.gatehouse.postgres.wire.PasswordMessage;
import dev.gatehouse.postgres.wire.ProtocolException;
import dev.gatehouse.postgres.wire.ProtocolVersion;
import dev.gatehouse.postgres.wire.ReadyForQuery;
import dev.gatehouse.postgres.wire.SSLRequest;
import dev.gatehouse.postgres.wire.StartupMessage;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Instant;
import java.util.Arrays;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.function.Consumer;
import java.util.function.Function;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLEngine;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;
import org.slf4j.event.Level;

/**
 * The start of one client connection, from accept to the hand-over to a {@link ProxySession}
 * (PostgreSQL protocol documentation, "Start-up" and "SSL Session Encryption"):
 *
 * <ol>
 *   <li>PROXY protocol v2 header, only from a configured load balancer;
 *   <li>encryption: SSLRequest answered 'S' and TLS when configured, else 'N'; bytes that arrive
 *       after SSLRequest before the handshake end the connection (CVE-2021-23214); a second
 *       SSLRequest is refused; GSSENCRequest is answered 'N'; direct TLS ({@code
 *       sslnegotiation=direct}, libpq 17: the connection starts with a TLS ClientHello) is
 *       accepted when TLS is configured and the client negotiates ALPN {@code postgresql};
 *   <li>CancelRequest: forwarded to the session's backend when the key is one this node minted,
 *       passed on to the node that minted it when that is a configured peer, answered with silence
 *       either way;
 *   <li>StartupMessage: protocol 3.0 (3.x above 0 gets NegotiateProtocolVersion 3.0), parameters
 *       through {@link StartupParameters};
 *   <li>AuthenticationCleartextPassword: the password is the token, checked by {@link
 *       Checkpoint#admit};
 *   <li>the backend connection, then AuthenticationOk, the backend's ParameterStatus values, a
 *       BackendKeyData minted by Gatehouse, ReadyForQuery.
 * </ol>
 *
 * <p>Everything up to the end of authentication must happen within the startup timeout, however
 * slowly the client sends. Each refusal is a FATAL ErrorResponse in PostgreSQL's terms.
 *
 * <p>One instance per connection, used by the connection's startup thread only (a platform thread).
 */
final class ClientStartup {
  private static final Logger log = LoggerFactory.getLogger(ClientStartup.class);
  /** Tokens are JWTs of several KiB; a password message longer than this is not one. */
  static final int MAX_PASSWORD_LENGTH = 16 * 1024;
  private static final int TLS_HANDSHAKE_RECORD = 0x16;
  private static final String ALPN = "postgresql";
  private static final SecureRandom RANDOM = new SecureRandom();
  /** SQLSTATE 22023 invalid_parameter_value: what PostgreSQL says of a startup parameter's bad value. */
  private static final String INVALID_PARAMETER_VALUE = "22023";

  private final Gateway gateway;
  /**
   * Lines about clients that have not signed in (broken or slow startups, refusals, cancel requests
   * with unknown keys): at most 20 a second, so that a flood of connections is no flood of lines.
   */
  static final LogBudget UNAUTHENTICATED_LOG = new LogBudget(20);

  private final Socket socket;

  /** What the startup needs from the gateway, and where it registers the session it starts. */
  record Gateway(
      PostgresListenerConfig config,
      Checkpoint checkpoint,
      Function<String, Optional<PostgresTarget>> targets,
      SqlClassifier classifier,
      BackendConnector connector,
      CancelKeys cancelKeys,
      Clock clock,
      Consumer<ProxySession> opened,
      Consumer<ProxySession> closed,
      java.util.function.BiFunction<Session, PostgresTarget, SessionMasking> masking,
      Optional<RelayLoop> loop,
      Consumer<CancelOutcome> cancelled,
      StartupSources sources) {}

  /** TLS with the client, once negotiated; the reader and writer below are over it then. */
  private Optional<TlsStreams> tls = Optional.empty();
  private WatchedStreams.ClientInput input;
  private FrameReader reader;
  private WatchedStreams.ClientOutput output;
  private MessageWriter writer;
  private boolean encrypted;
  private String clientAddress = "?";
  /** The end of the startup phase; reads past it time out. */
  private Optional<Instant> deadline = Optional.empty();
  /** Shuts the client socket's input at the deadline (see {@link Deadlines}). */
  private Optional<Deadlines.Watch> watch = Optional.empty();

  private final Runnable startupDone;
  /** Gives back the startup slot of the client a PROXY header named (nothing otherwise). */
  private Runnable sourceSlot = () -> { };
  /** The session was handed to the event loop, which owns the sockets from then on. */
  private boolean relayed;

  /** @param startupDone called once the connection is a session (the gateway then tracks the session) */
  ClientStartup(Gateway gateway, Socket socket, Runnable startupDone) {
    this.gateway = gateway;
    this.socket = socket;
    this.startupDone = startupDone;
  }

  /** Runs the connection to its end (startup, then the relayed session). Never throws. */
  void run() {
    try {
      socket.setTcpNoDelay(true);
      socket.setKeepAlive(true);
      Instant until = gateway.clock().instant().plus(gateway.config().startupTimeout());
      watch = Optional.of(Deadlines.after(gateway.config().startupTimeout(), this::shutInput));
      useStreams(socket.getInputStream(), socket.getOutputStream(), Optional.of(until));
      InetSocketAddress peer = (InetSocketAddress) socket.getRemoteSocketAddress();
      clientAddress = format(peer);
      if (gateway.config().proxyProtocolFrom().contains(peer.getAddress().getHostAddress())) {
        // The header is read straight from the socket (exactly its length), before any buffering.
        InetSocketAddress client = ProxyProtocol.readClientAddress(input, peer);
        clientAddress = format(client);
        // The load balancer's slot was not counted against its address; the client's is counted here.
        if (client != peer) sourceSlot = gateway.sources().take(client.getAddress()).orElseThrow(() ->
            new PostgresGatewayException("53300", "too many connections from your address are starting up at once; try again"));
      }
      Optional<Handoff> handoff = startup();
      // On the event loop the session goes on after this thread is done: its sockets stay open.
      if (handoff.isPresent()) relayed = handoff.get().run();
    } catch (SocketTimeoutException e) {
      logUnauthenticated(Level.INFO, "client {} did not complete startup within {}", clientAddress,
          gateway.config().startupTimeout());
      refuse(Replies.protocolViolation("timeout: startup was not completed within "
          + gateway.config().startupTimeout().toSeconds() + " s"));
    } catch (ProtocolException e) {
      logUnauthenticated(Level.INFO, "client {} broke the protocol during startup: {}", clientAddress, e.getMessage());
      refuse(Replies.fatal(e.sqlstate(), e.getMessage()));
    } catch (PostgresGatewayException e) {
      logUnauthenticated(Level.INFO, "client {} refused during startup: {}", clientAddress, e.getMessage());
      refuse(Replies.fatal(e.sqlstate(), e.getMessage()));
    } catch (IOException e) {
      log.debug("client {} connection failed during startup: {}", clientAddress, e.toString());
    } catch (RuntimeException e) {
      log.error("internal error during startup of a client connection", e);
      refuse(Replies.fatal("XX000", "internal error in Gatehouse"));
    } finally {
      sourceSlot.run();
      watch.ifPresent(Deadlines.Watch::disarm);
      if (!relayed) close();
      MDC.remove("session");
    }
  }

  /** At the startup deadline: a blocked read of the client returns, and is reported as a timeout. */
  private void shutInput() {
    try {
      socket.shutdownInput();
    } catch (IOException e) {
      // closed already: nothing is blocked on it
    }
  }

  /** The admitted session, ready to relay. */
  private record Handoff(ProxySession session) {
    /** @return whether the session goes on (on the event loop) after this call */
    boolean run() {
      return session.run();
    }
  }

  private Optional<Handoff> startup() throws IOException {
    PostgresListenerConfig config = gateway.config();
    boolean sslRequested = false;
    boolean gssRequested = false;
    OptionalInt first = reader.peek();
    if (first.isEmpty()) return Optional.empty();
    // A PROXY header where none is trusted: its first byte (\r for version 2, P for version 1)
    // would read as a startup packet of hundreds of megabytes; say what it is instead.
    if (first.getAsInt() == '\r' || first.getAsInt() == 'P') {
      throw ProtocolException.violation("a PROXY protocol header came from " + clientAddress + ", which is not listed in"
          + " listeners.postgres.proxyProtocolFrom (and only version 2 headers are read)");
    }
    if (first.getAsInt() == TLS_HANDSHAKE_RECORD) {
      if (!directTls()) return Optional.empty();
    }
    StartupMessage startup = null;
    while (startup == null) {
      Optional<Frame> frame = reader.readStartup(config.maxStartupLength());
      if (frame.isEmpty()) return Optional.empty();
      FrontendMessage message = FrontendCodec.decode(frame.get());
      switch (message) {
        case SSLRequest ssl -> {
          if (sslRequested || encrypted) {
            throw ProtocolException.violation("SSLRequest repeated: encryption was already negotiated");
          }
          sslRequested = true;
          if (config.tls().isEmpty()) {
            answerByte('N');
            continue;
          }
          if (reader.hasBufferedBytes()) {
            // CVE-2021-23214: whatever was sent before the handshake was not protected by it.
            throw ProtocolException.violation("received unencrypted data after SSL request");
          }
          answerByte('S');
          startTls(null);
        }
        case GSSENCRequest gss -> {
          if (gssRequested || encrypted) {
            throw ProtocolException.violation("GSSENCRequest repeated or after encryption was negotiated");
          }
          gssRequested = true;
          answerByte('N');
        }
        case CancelRequest cancel -> {
          cancel(cancel);
          return Optional.empty();
        }
        case StartupMessage s -> startup = s;
        default -> throw ProtocolException.violation("expected a startup packet");
      }
    }
    if (config.requireTls() && !encrypted) {
      throw new PostgresGatewayException("28000",
          "this Gatehouse listener accepts only TLS connections: connect with sslmode=require or verify-full");
    }
    StartupParameters parameters;
    try {
      parameters = StartupParameters.check(startup.parameters());
    } finally {
      if (ProtocolVersion.minor(startup.protocolVersion()) > 0 || hasProtocolOptions(startup)) {
        // Answered before anything else, as PostgreSQL does; we speak 3.0 and no _pq_ option.
        writer.write(new NegotiateProtocolVersion(0, startup.parameters().keySet().stream()
            .filter(n -> n.startsWith("_pq_.")).toList()));
      }
    }
    writer.write(AuthenticationCleartextPassword.INSTANCE);
    writer.flush();
    Optional<Frame> answer = reader.read(MAX_PASSWORD_LENGTH);
    if (answer.isEmpty()) {
      // psql asks the user for a password only now: it closes and reconnects with one.
      return Optional.empty();
    }
    if (answer.get().type() != PasswordMessage.TYPE) {
      throw ProtocolException.violation("expected a password message");
    }
    Secret token = Secret.of(((PasswordMessage) FrontendCodec.decode(answer.get())).password());
    if (token.isEmpty()) {
      throw new PostgresGatewayException("28P01", "empty password: pass your access token as the password");
    }
    return admit(token, parameters);
  }

  private Optional<Handoff> admit(Secret token, StartupParameters parameters) throws IOException {
    ClientInfo client = new ClientInfo(clientAddress, parameters.user(), parameters.application());
    Admission admission = gateway.checkpoint().admit(token, parameters.database(), ResourceType.POSTGRES, client);
    Session session = switch (admission) {
      case Admission.Refused refused -> {
        logUnauthenticated(Level.INFO, "client {} refused for resource \"{}\": {}", clientAddress,
            StartupParameters.sanitizeName(parameters.database()), refused.detail());
        refuse(Replies.admissionRefused(refused));
        yield null;
      }
      case Admission.Admitted admitted -> admitted.session();
    };
    if (session == null) return Optional.empty();
    MDC.put("session", session.id().value());
    String resource = session.resource().name();
    Optional<PostgresTarget> target = gateway.targets().apply(resource);
    if (target.isEmpty()) {
      // Not configured, refused when inspected (a privileged role), or not inspectable now (down,
      // or its TLS settings do not match the server's): the lines before say which (r40a F11: this
      // said "no target configured" for a target whose TLS mode the server could not meet).
      log.error("resource \"{}\" has no usable PostgreSQL target now (not configured, refused, or not inspectable;"
          + " the lines before say why)", resource);
      refuse(Replies.cannotConnect(resource));
      gateway.checkpoint().close(session, "the resource's target is not available (see the gateway's log)");
      return Optional.empty();
    }
    BackendConnection backend;
    try {
      backend = gateway.connector().connect(target.get(), parameters.backend());
    } catch (PostgresGatewayException e) {
      Optional<String> chosen = refusedClientValue(e, parameters);
      if (chosen.isPresent()) {
        // A value the client chose (a TimeZone the target does not know): the client's mistake, not
        // an outage of the resource, and one any client can repeat, so within the log budget.
        String name = chosen.get();
        logUnauthenticated(Level.INFO, "resource \"{}\" refused the value of startup parameter {} that client {} chose: {}",
            resource, name, clientAddress, e.getMessage());
        // The value passed StartupParameters' checks: short, printable ASCII.
        refuse(Replies.fatal(INVALID_PARAMETER_VALUE, "invalid value for parameter \"" + name + "\": \""
            + parameters.backend().get(name) + "\" (resource \"" + resource
            + "\" does not accept it)"));
        gateway.checkpoint().close(session, "the resource refused the client's value of startup parameter " + name);
        return Optional.empty();
      }
      log.warn("could not connect to resource \"{}\" at {}: {} ({})", resource, target.get().address(),
          e.getMessage(), e.sqlstate());
      refuse(Replies.cannotConnect(resource));
      gateway.checkpoint().close(session, "could not connect to the resource (" + e.sqlstate() + ")");
      return Optional.empty();
    }
    try {
      return Optional.of(handOver(session, target.get(), backend));
    } catch (IOException | RuntimeException e) {
      backend.abort();
      gateway.checkpoint().close(session, "client connection lost during startup");
      throw e;
    }
  }

  private Handoff handOver(Session session, PostgresTarget target, BackendConnection backend) throws IOException {
    Map<String, String> reported = backend.parameterStatus();
    if (!"UTF8".equalsIgnoreCase(reported.getOrDefault("client_encoding", ""))
        || !"on".equalsIgnoreCase(reported.getOrDefault("standard_conforming_strings", ""))) {
      throw new PostgresGatewayException("08006", "resource \"" + session.resource().name()
          + "\" did not accept client_encoding UTF8 and standard_conforming_strings on");
    }
    BackendKeyData minted = backend.backendKey()
        .map(key -> gateway.cancelKeys().mint(target, key))
        .orElseGet(ClientStartup::unregisteredKey);
    ProxySession proxy = new ProxySession(session, gateway.checkpoint(), gateway.classifier(), gateway.config(),
        tls, socket, reader, input, writer, output, backend, gateway.connector(), target, gateway.cancelKeys(), minted, gateway.clock(),
        gateway.closed(), gateway.masking().apply(session, target), gateway.loop());
    // Tracked before the client hears it is in, so a gateway shutdown cannot miss it.
    gateway.opened().accept(proxy);
    startupDone.run();
    sourceSlot.run();
    try {
      writer.write(AuthenticationOk.INSTANCE);
      for (Map.Entry<String, String> p : reported.entrySet()) {
        writer.write(new ParameterStatus(p.getKey(), p.getValue()));
      }
      writer.write(minted);
      writer.write(ReadyForQuery.IDLE_INSTANCE);
      writer.flush();
      input.disarm();
    } catch (IOException e) {
      // Running the ended session is what cleans it up (checkpoint, cancel key, gateway).
      proxy.end("client connection lost during startup", Optional.empty());
      return new Handoff(proxy);
    }
    // The target's process id: what pg_stat_activity and pg_locks show a DBA, who sees every
    // session as Gatehouse's role (round 12: nothing mapped a backend to a person).
    log.info("session opened for {} to resource \"{}\" from {}; target backend process {}", session.principal().displayName(),
        session.resource().name(), clientAddress,
        backend.backendKey().map(k -> String.valueOf(k.processId())).orElse("unknown"));
    return new Handoff(proxy);
  }

  /**
   * A cancel request: acted on when this node minted the key; passed on (once) to the node that
   * did when that is a configured peer; dropped otherwise. The client hears nothing either way, as
   * from PostgreSQL, and no log line carries the key's secret.
   */
  private void cancel(CancelRequest request) {
    gateway.cancelled().accept(cancelOutcome(request));
  }

  private CancelOutcome cancelOutcome(CancelRequest request) {
    int node = CancelKeys.nodeOf(request.processId());
    int self = gateway.config().nodeId();
    if (node != self) {
      if (request.relayed()) {
        // Under the peer code for another node: a Gatehouse node whose node.peers is wrong sent it,
        // or anyone did (the code is no credential), so the line names no peer. Passing it on again
        // could bounce it between misconfigured nodes for ever.
        logUnauthenticated(Level.WARN, "a cancel request from {} came under Gatehouse's peer request code for node {},"
            + " but this is node {}: ignored (if {} is a Gatehouse node, its node.peers is wrong)",
            clientAddress, node, self, clientAddress);
        return CancelOutcome.MISROUTED;
      }
      PeerNode peer = gateway.config().peers().get(node);
      if (peer == null) {
        logUnauthenticated(Level.INFO, "cancel request from {} for a key of node {}, which is not among this node's"
            + " peers: ignored", clientAddress, node);
        return CancelOutcome.UNKNOWN_NODE;
      }
      Optional<String> failure = gateway.connector().forwardCancel(peer, request.processId(), request.secretKey());
      if (failure.isPresent()) {
        logUnauthenticated(Level.WARN, "could not pass a cancel request on to node {} at {}: {}", node, peer.address(),
            failure.get());
        return CancelOutcome.PASS_ON_FAILED;
      }
      logUnauthenticated(Level.INFO, "cancel request from {} passed on to node {} at {}", clientAddress, node,
          peer.address());
      return CancelOutcome.PASSED_ON;
    }
    Optional<CancelKeys.Entry> entry = gateway.cancelKeys().find(request.processId(), request.secretKey());
    if (entry.isEmpty()) {
      logUnauthenticated(Level.INFO, "cancel request from {} with an unknown key: ignored", clientAddress);
      return CancelOutcome.UNKNOWN_KEY;
    }
    BackendKeyData key = entry.get().backendKey();
    gateway.connector().cancel(entry.get().target(), key.processId(), key.secretKey());
    return CancelOutcome.LOCAL;
  }

  /** Direct TLS: the first byte was a TLS handshake record. */
  private boolean directTls() throws IOException {
    if (gateway.config().tls().isEmpty()) {
      logUnauthenticated(Level.INFO, "client {} started TLS directly but this listener has no TLS", clientAddress);
      return false;
    }
    startTls(reader.takeBuffered());
    if (!tls.orElseThrow().applicationProtocol().equals(Optional.of(ALPN))) {
      // PostgreSQL requires ALPN "postgresql" on direct TLS, so a TLS client of another protocol
      // cannot be talked into sending its data here; the client hears why, over the TLS it started.
      throw ProtocolException.violation(
          "received direct TLS connection without the ALPN protocol \"postgresql\" (sslnegotiation=direct needs libpq 17 or later)");
    }
    return true;
  }

  /**
   * Runs the server side of the TLS handshake on the connection; {@code consumed} were read already.
   * An {@link SSLEngine} over the socket's streams rather than an {@code SSLSocket}: the event loop
   * can take the session's TLS over with its channel ({@link TlsStreams}).
   */
  private void startTls(byte[] consumed) throws IOException {
    SSLContext context = gateway.config().tls().orElseThrow();
    SSLEngine engine = context.createSSLEngine();
    engine.setUseClientMode(false);
    SSLParameters parameters = engine.getSSLParameters();
    parameters.setProtocols(new String[] {"TLSv1.3", "TLSv1.2"});
    parameters.setApplicationProtocols(new String[] {ALPN});
    engine.setSSLParameters(parameters);
    input.armTimeout();
    // The socket's own streams below TLS: the deadline is the plaintext input's (its watch shuts
    // the socket's input, which ends a handshake that is still waiting).
    TlsStreams started = TlsStreams.accept(engine, socket.getInputStream(), socket.getOutputStream(),
        consumed == null ? new byte[0] : consumed);
    tls = Optional.of(started);
    encrypted = true;
    useStreams(started.input(), started.output(), deadline);
  }

  private void useStreams(InputStream in, OutputStream out, Optional<Instant> until) {
    deadline = until;
    input = new WatchedStreams.ClientInput(in, gateway.clock(), until, watch);
    reader = new FrameReader(input);
    output = new WatchedStreams.ClientOutput(out);
    writer = new MessageWriter(output);
  }

  private void answerByte(char answer) throws IOException {
    writer.flush();
    output.write(answer);
    output.flush();
  }

  /** Sends a FATAL error if the connection can still carry one. Never throws. */
  private void refuse(ErrorResponse error) {
    if (writer == null || output == null || output.failed()) return;
    try {
      writer.write(error);
      writer.flush();
    } catch (IOException | RuntimeException e) {
      // the client is gone
    }
  }

  private void close() {
    try {
      socket.close();
    } catch (IOException e) {
      // nothing left to do
    }
  }

  /**
   * The startup parameter whose client-chosen value the target refused, when that is what {@code
   * failure} is: SQLSTATE 22023 naming, in quotes as PostgreSQL does in any language, one of the
   * parameters the client chose (not those Gatehouse fixes, which every target accepts).
   */
  private static Optional<String> refusedClientValue(PostgresGatewayException failure, StartupParameters parameters) {
    if (!failure.sqlstate().equals(INVALID_PARAMETER_VALUE)) return Optional.empty();
    String message = failure.getMessage();
    return parameters.backend().keySet().stream()
        .filter(name -> !name.equals("client_encoding") && !name.equals("standard_conforming_strings"))
        .filter(name -> message.contains("\"" + name + "\""))
        .findFirst();
  }

  /**
   * Logs a line about a client that has not signed in (every cancel request is one), within {@link
   * #UNAUTHENTICATED_LOG}: dropped when over the budget, else with the count of lines left out.
   */
  private static void logUnauthenticated(Level level, String format, Object... arguments) {
    String more = UNAUTHENTICATED_LOG.admit();
    if (more == null) return;
    Object[] all = Arrays.copyOf(arguments, arguments.length + 1);
    all[arguments.length] = more;
    log.atLevel(level).log(format + "{}", all);
  }

  private static boolean hasProtocolOptions(StartupMessage startup) {
    return startup.parameters().keySet().stream().anyMatch(n -> n.startsWith("_pq_."));
  }

  /** A key for a backend that sent none: it maps to nothing, so a cancel with it does nothing. */
  private static BackendKeyData unregisteredKey() {
    byte[] secret = new byte[4];
    RANDOM.nextBytes(secret);
    return new BackendKeyData(RANDOM.nextInt() & 0x7fffffff, secret);
  }

  private static String format(InetSocketAddress address) {
    String host = address.getAddress() != null ? address.getAddress().getHostAddress() : address.getHostString();
    return PostgresTarget.address(host, address.getPort());
  }
}
