package dev.gatehouse.postgres;

import dev.gatehouse.core.Checkpoint;
import dev.gatehouse.core.Session;
import dev.gatehouse.postgres.sql.SqlClassifier;
import dev.gatehouse.postgres.wire.BackendKeyData;
import dev.gatehouse.postgres.wire.ErrorResponse;
import dev.gatehouse.postgres.wire.FrameReader;
import dev.gatehouse.postgres.wire.MessageWriter;
import java.io.IOException;
import java.net.Socket;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * One admitted client connection relayed to its target: two platform threads (see {@link
 * #run()}), {@link FrontendRelay} (client→target, the only writer of the target socket; the
 * connection's startup thread) and {@link BackendRelay} (target→client, the only writer of the
 * client socket), sharing a {@link SessionState}.
 *
 * <p>Ending: whoever first notices the end (a thread of the session, the expiry watcher, the
 * gateway shutting down) records why with {@link #end}, and wakes the target thread by aborting
 * the target socket. The target thread then writes the FATAL message to the client, if the end
 * deserves one, because it alone writes to the client. When both threads are done the session is
 * cleaned up exactly once: outstanding executions complete as aborted, the cancel key is
 * forgotten, and {@link Checkpoint#close} runs.
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
  final Socket clientSocket;
  final FrameReader clientReader;
  final WatchedStreams.ClientInput clientInput;
  final MessageWriter clientWriter;
  final WatchedStreams.ClientOutput clientOutput;
  final BackendConnection backend;
  /** A portal bound (and decided) but never executed ends with nothing run: completed with no rows. */
  final SessionState state = new SessionState(this::portalEndedUnexecuted);
  /** How results are masked for this session's principal on this resource. */
  final SessionMasking masking;

  private final CancelKeys cancelKeys;
  private final BackendKeyData mintedKey;
  private final Clock clock;
  private final Consumer<ProxySession> onFinished;
  private final AtomicReference<Ending> ending = new AtomicReference<>();
  private final AtomicInteger running = new AtomicInteger(2);
  private volatile Thread watcher;

  ProxySession(
      Session session,
      Checkpoint checkpoint,
      SqlClassifier classifier,
      PostgresListenerConfig config,
      Socket clientSocket,
      FrameReader clientReader,
      WatchedStreams.ClientInput clientInput,
      MessageWriter clientWriter,
      WatchedStreams.ClientOutput clientOutput,
      BackendConnection backend,
      CancelKeys cancelKeys,
      BackendKeyData mintedKey,
      Clock clock,
      Consumer<ProxySession> onFinished,
      SessionMasking masking) {
    this.session = session;
    this.checkpoint = checkpoint;
    this.classifier = classifier;
    this.config = config;
    this.clientSocket = clientSocket;
    this.clientReader = clientReader;
    this.clientInput = clientInput;
    this.clientWriter = clientWriter;
    this.clientOutput = clientOutput;
    this.backend = backend;
    this.cancelKeys = cancelKeys;
    this.mintedKey = mintedKey;
    this.clock = clock;
    this.onFinished = onFinished;
    this.masking = masking;
  }

  /**
   * Runs the session: client→target on the calling thread (the connection's startup thread, a
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
  void run() {
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
    state.shutdown();
    backend.abort();
  }

  Optional<Ending> ending() {
    return Optional.ofNullable(ending.get());
  }

  void closeClient() {
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
    execution.completeOk(checkpoint, Optional.of(0L));
  }

  private void finished() {
    if (running.decrementAndGet() != 0) return;
    Ending end = ending.get();
    String reason = end == null ? "connection closed" : end.reason();
    for (Expected left : state.close()) {
      switch (left) {
        case Expected.ExecuteDone x -> x.execution().ifPresent(e -> e.completeAborted(checkpoint));
        case Expected.BindDone b -> b.decided().ifPresent(e -> e.completeAborted(checkpoint));
        case Expected.QueryDone q -> q.remaining().forEach(e -> e.completeAborted(checkpoint));
        case Expected.FunctionCallDone f -> f.execution().ifPresent(e -> e.completeAborted(checkpoint));
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
