package dev.gatehouse.postgres;

import dev.gatehouse.core.Checkpoint;
import dev.gatehouse.core.Session;
import dev.gatehouse.postgres.sql.SqlClassifier;
import dev.gatehouse.postgres.wire.BackendKeyData;
import dev.gatehouse.postgres.wire.NotificationResponse;
import dev.gatehouse.postgres.wire.ErrorResponse;
import dev.gatehouse.postgres.wire.FrameReader;
import dev.gatehouse.postgres.wire.MessageWriter;
import java.io.IOException;
import java.net.Socket;
import java.nio.channels.SocketChannel;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * One admitted client connection relayed to its target by {@link FrontendRelay} (client→target,
 * the only writer of the target socket) and {@link BackendRelay} (target→client, the only writer
 * of the client socket), sharing a {@link SessionState}. A session runs on the {@link RelayLoop},
 * plaintext or TLS: each direction's handler runs when its socket has bytes (see {@link #run()});
 * with the loop configured off, on two platform threads, one per direction.
 *
 * <p>Ending: whoever first notices the end (a direction of the session, the expiry watcher, the
 * gateway shutting down) records why with {@link #end}, and wakes the target→client direction (by
 * aborting the target socket, and on the loop by running its handler). That direction then writes
 * the FATAL message to the client, if the end deserves one, because it alone writes to the client.
 * When both directions are done the session is cleaned up exactly once: outstanding executions
 * complete (as {@code UNKNOWN}, or {@code ABORTED} when the target ended the session), the cancel
 * key is forgotten, and {@link Checkpoint#close} runs.
 *
 * <p>Work in flight: closing the target connection does not stop PostgreSQL, which runs what it
 * has read and commits it (it notices a closed connection only when it next reads or writes). So
 * a session that ends while answers are outstanding also sends the target a CancelRequest for its
 * backend ({@link #cancelAtTarget}): the running statement fails, its transaction is rolled back
 * when the backend then finds the connection closed.
 *
 * <p>Thread-safe where it has to be: {@link #end} may be called from any thread.
 */
final class ProxySession {
  private static final Logger log = LoggerFactory.getLogger(ProxySession.class);
  /** How long a client that does not read gets to take its FATAL message before its socket is closed. */
  private static final Duration CLOSE_GRACE = Duration.ofSeconds(5);

  /** Why the session ended, and what the client is told (nothing when it left or was already told). */
  record Ending(String reason, Optional<ErrorResponse> toClient) {}

  final Session session;
  final Checkpoint checkpoint;
  final SqlClassifier classifier;
  final PostgresListenerConfig config;
  /** TLS with the client, when the client is on TLS: {@link #clientReader} and {@link #clientWriter} are over it. */
  private final Optional<TlsStreams> clientTls;
  /** The client's TCP connection. */
  private final Socket clientSocket;
  // Replaced by streams over the channels when the event loop relays the session (before it starts).
  FrameReader clientReader;
  WatchedStreams.ClientInput clientInput;
  MessageWriter clientWriter;
  WatchedStreams.ClientOutput clientOutput;
  final BackendConnection backend;
  /** Sends the cancel of the backend's work when the session ends with work outstanding. */
  private final BackendConnector connector;
  private final PostgresTarget target;

  /** The role this session signs in to its target as (the resource's {@code user}). */
  String loginRole() {
    return target.user();
  }
  /** A portal bound (and decided) but never executed ends with nothing run: completed with no rows. */
  final SessionState state;
  /** How results are masked for this session's principal on this resource. */
  final SessionMasking masking;

  private final CancelKeys cancelKeys;
  private final BackendKeyData mintedKey;
  private final Clock clock;
  private final Consumer<ProxySession> onFinished;
  private final AtomicReference<Ending> ending = new AtomicReference<>();
  private final AtomicInteger running = new AtomicInteger(2);
  private final AtomicBoolean cancelSent = new AtomicBoolean();
  /** The target ended the session with a FATAL error: what it had not answered was rolled back. */
  private volatile boolean targetEnded;
  private volatile Thread watcher;
  /** The event loop that relays plaintext sessions; absent: every session runs on threads. */
  private final Optional<RelayLoop> loop;
  /** The channels' handlers in event-loop mode, poked when the session ends. */
  private volatile RelayLoop.Pump clientPump;
  private volatile RelayLoop.Pump backendPump;

  ProxySession(
      Session session,
      Checkpoint checkpoint,
      SqlClassifier classifier,
      PostgresListenerConfig config,
      Optional<TlsStreams> clientTls,
      Socket clientSocket,
      FrameReader clientReader,
      WatchedStreams.ClientInput clientInput,
      MessageWriter clientWriter,
      WatchedStreams.ClientOutput clientOutput,
      BackendConnection backend,
      BackendConnector connector,
      PostgresTarget target,
      CancelKeys cancelKeys,
      BackendKeyData mintedKey,
      Clock clock,
      Consumer<ProxySession> onFinished,
      SessionMasking masking,
      Optional<RelayLoop> loop) {
    this.session = session;
    this.state = new SessionState(this::portalEndedUnexecuted,
        session.principal().subject() + "\u0000" + session.principal().issuer());
    this.checkpoint = checkpoint;
    this.classifier = classifier;
    this.config = config;
    this.clientTls = clientTls;
    this.clientSocket = clientSocket;
    this.clientReader = clientReader;
    this.clientInput = clientInput;
    this.clientWriter = clientWriter;
    this.clientOutput = clientOutput;
    this.backend = backend;
    this.connector = connector;
    this.target = target;
    this.cancelKeys = cancelKeys;
    this.mintedKey = mintedKey;
    this.clock = clock;
    this.onFinished = onFinished;
    this.masking = masking;
    this.loop = loop;
  }

  /**
   * Runs the session: on the event loop when there is one ({@link #startOnLoop}; returns at once,
   * true), else on threads ({@link #runOnThreads}; returns when the session ended, false).
   * Plaintext and TLS alike: both connections are channels' sockets.
   *
   * @return whether the session goes on after this call (the caller must leave its sockets open)
   */
  boolean run() {
    Optional<SocketChannel> clientChannel = Optional.ofNullable(clientSocket.getChannel());
    Optional<SocketChannel> backendChannel = backend.channel();
    if (loop.isPresent() && clientChannel.isPresent() && backendChannel.isPresent()) {
      startOnLoop(loop.get(), clientChannel.get(), backendChannel.get());
      return true;
    }
    runOnThreads();
    return false;
  }

  /**
   * Event-loop mode: both channels become non-blocking and are registered with one group of the
   * loop, which runs {@link FrontendRelay#ready} when the client has bytes and {@link
   * BackendRelay#ready} when the target has. Either returns false when its direction is over. A
   * connection on TLS keeps its {@link TlsStreams}, which from now on read and write the channel;
   * its handler runs again at once when TLS holds plaintext it did not take ({@link
   * TlsStreams#pending()}), as no byte on the socket would wake it.
   */
  private void startOnLoop(RelayLoop relayLoop, SocketChannel clientChannel, SocketChannel backendChannel) {
    String id = session.id().value();
    ChannelStreams.Input clientIn;
    ChannelStreams.Input backendIn;
    BackendRelay back;
    try {
      // The target first: a session ended meanwhile (end() aborts the target) fails here, while the
      // client's stream still blocks and can be told why.
      backendIn = backend.useChannel();
      byte[] ahead = clientReader.takeBuffered();
      clientChannel.configureBlocking(false);
      if (clientTls.isPresent()) {
        clientIn = new ChannelStreams.Input(clientChannel, new byte[0]);
        clientTls.get().transport(clientIn, new ChannelStreams.Output(clientChannel), ahead);
        clientInput = new WatchedStreams.ClientInput(clientTls.get().input(), clock, Optional.empty(), Optional.empty());
        clientOutput = new WatchedStreams.ClientOutput(clientTls.get().output());
      } else {
        clientIn = new ChannelStreams.Input(clientChannel, ahead);
        clientInput = new WatchedStreams.ClientInput(clientIn, clock, Optional.empty(), Optional.empty());
        clientOutput = new WatchedStreams.ClientOutput(new ChannelStreams.Output(clientChannel));
      }
      clientReader = new FrameReader(clientInput);
      clientWriter = new MessageWriter(clientOutput);
      back = new BackendRelay(this); // writes through the new client stream
      back.start();
    } catch (IOException | RuntimeException e) {
      // As a relay thread would: the session ends, and the client hears why if it can.
      end("connection to resource lost", Optional.of(Replies.resourceLost(session.resource().name())));
      try {
        Optional<ErrorResponse> why = ending.get().toClient();
        if (why.isPresent() && clientSocket.getChannel().isBlocking()) {
          clientWriter.write(why.get());
          clientWriter.flush();
        }
      } catch (IOException | RuntimeException ignored) {
        // the client is gone too
      }
      finished(); // neither direction ever ran: both are done
      finished();
      return;
    }
    FrontendRelay front = new FrontendRelay(this);
    watcher = Thread.ofVirtual().name("pg-expiry-" + id).start(this::watchDeadline);
    RelayLoop.Group group = relayLoop.group();
    // The client's side first in a batch: its statements give the target work (RelayLoop).
    ChannelStreams.Input clientRaw = clientIn;
    clientPump = group.register(clientChannel, new LoopHandler(() -> direction(id, () -> front.ready(clientRaw)),
        () -> clientTls.isPresent() && clientTls.get().pending()), true);
    backendPump = group.register(backendChannel, new LoopHandler(() -> direction(id, () -> back.ready(backendIn)),
        backend::pending));
    if (ending.get() != null) poke(); // ended while registering: the pokes in end() may have found no pump
  }

  /** A direction's handler on the loop: its run, and whether TLS holds input for it (see {@link RelayLoop.Handler#pending}). */
  private record LoopHandler(BooleanSupplier run, BooleanSupplier holdsInput) implements RelayLoop.Handler {
    @Override
    public boolean ready() {
      return run.getAsBoolean();
    }

    @Override
    public boolean pending() {
      return holdsInput.getAsBoolean();
    }
  }

  /** One run of a direction's handler on the loop, with the session's id in the logs. */
  private boolean direction(String id, BooleanSupplier handler) {
    boolean kept = RelayLoop.logSession(id); // a loop thread keeps it until its batch ends
    try {
      if (handler.getAsBoolean()) return true;
      finished();
      return false;
    } finally {
      if (!kept) MDC.remove("session");
    }
  }

  private void poke() {
    RelayLoop.Pump c = clientPump;
    RelayLoop.Pump b = backendPump;
    if (c != null) c.poke();
    if (b != null) b.poke();
  }

  /**
   * Thread mode (the event loop configured off): client→target on the calling thread (the connection's startup thread, a
   * platform thread), target→client on one more platform thread; returns when both ended. Platform
   * threads because each direction blocks in a read for every statement and for every batch of rows
   * a result streams: a platform thread is woken by the kernel directly, where a virtual thread goes
   * through the poller and the scheduler each time. Their stacks cost no heap.
   *
   * <p>Measured (bench/README.md, session 3): virtual threads for both directions cut the gateway's
   * CPU per pgbench transaction (prepared, 16 clients) by about 18%, but raised its CPU per relayed
   * row of a large result by about 65% (bench/masking.sh); mixing the kinds was worse than either.
   * Rows streaming through masking (issue #4's targets) keep platform threads.
   */
  private void runOnThreads() {
    String id = session.id().value();
    Thread backendThread = Thread.ofPlatform().daemon().name("pg-backend-" + id).start(() -> {
      MDC.put("session", id);
      try {
        new BackendRelay(this).run();
      } finally {
        finished();
        MDC.remove("session");
      }
    });
    watcher = Thread.ofVirtual().name("pg-expiry-" + id).start(this::watchDeadline);
    try {
      new FrontendRelay(this).run();
    } finally {
      finished();
    }
    try {
      backendThread.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Records why the session ends (the first reason wins) and wakes the target→client thread, which
   * tells the client and closes. Safe from any thread; idempotent.
   */
  void end(String reason, Optional<ErrorResponse> toClient) {
    claimEnding(reason, toClient);
    if (state.shutdown()) cancelAtTarget();
    backend.abort();
    poke();
  }

  /**
   * The target sent a FATAL error: it ends the session itself, having rolled back what it had not
   * answered. Called by the target→client direction before it sees the connection close.
   */
  void targetEnded() {
    targetEnded = true;
  }

  /**
   * Asks the target, once per session, to cancel the backend's work ({@link
   * BackendConnector#cancelAbandoned}: in the background, never waited for). Nothing to do when
   * the target ended the session itself, or never gave a key.
   */
  private void cancelAtTarget() {
    if (targetEnded || !cancelSent.compareAndSet(false, true)) return;
    Optional<BackendKeyData> key = backend.backendKey();
    if (key.isEmpty()) {
      log.warn("session ended with statements outstanding, which cannot be cancelled: the target gave no cancel key");
      return;
    }
    log.info("session ended with statements outstanding at the target: cancelling them");
    connector.cancelAbandoned(target, key.get(), "pg-cancel-" + session.id().value());
  }

  /**
   * Records why the session ends, if no reason is recorded yet, without ending anything: for a
   * reason that is known before the step that ends the session (the client's Terminate, forwarded
   * before the target's connection closes), so that the target's side, which sees its connection
   * close, does not record itself as the cause first. {@link #end} must follow.
   */
  void claimEnding(String reason, Optional<ErrorResponse> toClient) {
    if (ending.compareAndSet(null, new Ending(reason, toClient))) {
      log.info("session ending: {}", reason);
      // A client that stopped reading would keep the target thread blocked in a write forever.
      Thread.ofVirtual().name("pg-close-" + session.id()).start(() -> {
        try {
          Thread.sleep(CLOSE_GRACE);
        } catch (InterruptedException e) {
          return;
        }
        if (running.get() > 0) closeClient();
      });
    }
  }

  /**
   * A NotificationResponse as the client should see it: the target's process id of this session
   * replaced by the one Gatehouse gave the client (drivers compare the two to skip their own
   * notifications: pgjdbc's getBackendPID).
   */
  NotificationResponse asTheClientSees(NotificationResponse n) {
    Optional<BackendKeyData> target = backend.backendKey();
    if (target.isEmpty() || n.processId() != target.get().processId()) return n;
    return new NotificationResponse(mintedKey.processId(), n.channel(), n.payload());
  }

  /**
   * Why a session ends whose client connection failed: the TLS failure when TLS was what failed (a
   * refused renegotiation, a record that does not decrypt), so an operator can tell it from a
   * network drop. The engine's messages name protocol faults, never keys or data.
   */
  static String clientLost(IOException failure) {
    return failure instanceof javax.net.ssl.SSLException tls
        ? "client connection lost: TLS failed: " + tls.getMessage()
        : "client connection lost";
  }

  Optional<Ending> ending() {
    return Optional.ofNullable(ending.get());
  }

  void closeClient() {
    // close_notify only when it cannot wait: a writer blocked on a client that stopped reading
    // must not keep the session open (red-team round 9: sessions outlived their tokens); closing
    // the TCP connection fails that write.
    clientTls.ifPresent(TlsStreams::closeQuietly);
    try {
      clientSocket.close();
    } catch (IOException e) {
      // closing is all we wanted
    }
  }

  private void watchDeadline() {
    try {
      Duration left = Duration.between(clock.instant(), session.deadline());
      if (!left.isNegative()) Thread.sleep(left.plusMillis(1));
    } catch (InterruptedException e) {
      return; // the session ended first
    }
    if (running.get() > 0) end("session expired", Optional.of(Replies.sessionExpired()));
  }

  private void portalEndedUnexecuted(Execution execution) {
    execution.portalEnded(checkpoint);
  }

  private void finished() {
    if (running.decrementAndGet() != 0) return;
    Ending end = ending.get();
    String reason = end == null ? "connection closed" : end.reason();
    // Forwarded and never answered: rolled back if the target ended the session with an error, or
    // if it was still reading COPY data the client had not ended (nothing after it ran, and the
    // COPY cannot have completed); otherwise cancelled (end()), but it may have completed first,
    // and no answer says so.
    Consumer<Execution> aborted = e -> e.completeAborted(checkpoint);
    Consumer<Execution> unanswered = targetEnded || state.copyingIn() ? aborted : e -> e.completeUnknown(checkpoint);
    // The newest of them never left Gatehouse's buffer for the target: they did not run.
    int neverSent = state.neverSent();
    List<Expected> outstanding = state.close();
    if (!outstanding.isEmpty()) cancelAtTarget(); // if no end() came first
    for (int i = 0; i < outstanding.size(); i++) {
      Consumer<Execution> settle = i >= outstanding.size() - neverSent ? aborted : unanswered;
      switch (outstanding.get(i)) {
        case Expected.ExecuteDone x -> x.execution().ifPresent(settle);
        case Expected.BindDone b -> b.decided().ifPresent(settle);
        case Expected.QueryDone q -> q.remaining().forEach(settle);
        case Expected.FunctionCallDone f -> f.execution().ifPresent(settle);
        default -> { }
      }
    }
    cancelKeys.remove(mintedKey);
    Thread w = watcher;
    if (w != null) w.interrupt();
    backend.abort();
    closeClient();
    try {
      checkpoint.close(session, reason);
    } catch (RuntimeException e) {
      log.warn("closing the session in the checkpoint failed: {}", e.toString());
    }
    log.info("session closed: {} ({} s)", reason,
        Duration.between(session.start(), Instant.now(clock)).toSeconds());
    onFinished.accept(this);
  }

  Clock clock() {
    return clock;
  }
}
