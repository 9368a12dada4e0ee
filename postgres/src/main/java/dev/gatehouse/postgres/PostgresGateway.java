package dev.gatehouse.postgres;

import dev.gatehouse.core.Checkpoint;
import dev.gatehouse.core.Classification;
import dev.gatehouse.core.CommandFlag;
import dev.gatehouse.core.Session;
import dev.gatehouse.core.SessionId;
import dev.gatehouse.masking.Masking;
import dev.gatehouse.postgres.sql.SqlClassifier;
import dev.gatehouse.postgres.wire.MessageWriter;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.channels.ServerSocketChannel;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The PostgreSQL listener: clients connect here with their token as the password and the resource
 * name as the database, and reach the resource's target through Gatehouse with every statement
 * decided by the {@link Checkpoint}. The entry point the {@code server} module wires.
 *
 * <p>A platform thread per connection for startup (at most {@link PostgresListenerConfig#maxStartups()}
 * at once), with blocking sockets and no socket timeouts (startup deadlines are {@link Deadlines});
 * then an admitted session, plaintext or TLS, is relayed by the event loop ({@link RelayLoop}; by
 * default; see {@link ProxySession#run()}). {@link #start()} binds and
 * starts accepting; {@link #close()} stops accepting and ends every session with a FATAL message,
 * closing it in the Checkpoint (audited).
 *
 * <p>Thread-safe. Lifecycle: constructed, started once, closed once (close is idempotent).
 */
public final class PostgresGateway implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(PostgresGateway.class);
  /** How long {@link #close()} waits for sessions to say goodbye. */
  private static final Duration SHUTDOWN_WAIT = Duration.ofSeconds(10);

  private final PostgresListenerConfig config;
  private final ClientStartup.Gateway parts;
  private final Set<Socket> starting = ConcurrentHashMap.newKeySet();
  /** Connections in startup by source, capped at {@link PostgresListenerConfig#maxStartupsPerSource()}. */
  private final StartupSources sources;
  private final Set<ProxySession> sessions = ConcurrentHashMap.newKeySet();
  private final AtomicLong connections = new AtomicLong();
  private final Masking masking;
  private final BackendConnector connector;
  private final Clock clock;
  private final Duration catalogTtl;
  /** Column provenance per resource, on Gatehouse's own backend connection; opened on first use. */
  private final Map<String, ColumnCatalog> catalogs = new ConcurrentHashMap<>();
  private volatile ServerSocket server;
  private volatile Thread acceptor;
  /** Relays the sessions, plaintext and TLS; absent when configured off (sessions run on threads then). */
  private final Optional<RelayLoop> loop;
  private volatile boolean closed;
  /** CancelRequests received, by {@link CancelOutcome#ordinal()}. */
  private final LongAdder[] cancels =
      java.util.stream.Stream.generate(LongAdder::new).limit(CancelOutcome.values().length).toArray(LongAdder[]::new);

  /**
   * @param config how to listen
   * @param checkpoint admits connections and decides every statement
   * @param targets the PostgreSQL target of each resource name (empty: no such target)
   * @param classifier splits and classifies SQL (share one {@link dev.gatehouse.postgres.sql.CachingClassifier})
   * @param connector opens authenticated backend connections and forwards cancel requests
   */
  public PostgresGateway(
      PostgresListenerConfig config,
      Checkpoint checkpoint,
      Function<String, Optional<PostgresTarget>> targets,
      SqlClassifier classifier,
      BackendConnector connector) {
    this(config, checkpoint, targets, classifier, connector, Clock.systemUTC());
  }

  /** As above, with the clock that session deadlines are measured by (tests). */
  public PostgresGateway(
      PostgresListenerConfig config,
      Checkpoint checkpoint,
      Function<String, Optional<PostgresTarget>> targets,
      SqlClassifier classifier,
      BackendConnector connector,
      Clock clock) {
    this(config, checkpoint, targets, classifier, connector, clock, Masking.none(), ColumnCatalog.DEFAULT_TTL);
  }

  /**
   * As above, masking results: each allowed statement's obligations name the masking rules (of
   * {@code masking}) that apply to it; column origins are looked up in each resource's catalog over
   * a connection of Gatehouse's own (see docs/masking.md, "PostgreSQL").
   *
   * @param catalogTtl how long a column origin is trusted without DDL through Gatehouse
   */
  public PostgresGateway(
      PostgresListenerConfig config,
      Checkpoint checkpoint,
      Function<String, Optional<PostgresTarget>> targets,
      SqlClassifier classifier,
      BackendConnector connector,
      Clock clock,
      Masking masking,
      Duration catalogTtl) {
    if (catalogTtl.isNegative() || catalogTtl.isZero()) throw new IllegalArgumentException("catalogTtl <= 0");
    this.catalogTtl = catalogTtl;
    this.masking = Objects.requireNonNull(masking, "masking == null");
    this.connector = Objects.requireNonNull(connector, "connector == null");
    this.clock = Objects.requireNonNull(clock, "clock == null");
    this.config = Objects.requireNonNull(config, "config == null");
    this.loop = relayLoop();
    this.sources = new StartupSources(config.maxStartupsPerSource());
    this.parts = new ClientStartup.Gateway(
        config,
        Objects.requireNonNull(checkpoint, "checkpoint == null"),
        Objects.requireNonNull(targets, "targets == null"),
        Objects.requireNonNull(classifier, "classifier == null"),
        Objects.requireNonNull(connector, "connector == null"),
        new CancelKeys(config.nodeId()),
        Objects.requireNonNull(clock, "clock == null"),
        this::opened,
        sessions::remove,
        this::sessionMasking,
        loop,
        outcome -> cancels[outcome.ordinal()].increment(),
        sources);
  }

  /**
   * The event loop, with one selector per core, unless the system property {@code
   * gatehouse.postgres.relay} is {@code threads} (every session then runs on two threads, as TLS
   * sessions did before session 31); {@code gatehouse.postgres.loop-threads} sets another number of selectors, {@code
   * gatehouse.postgres.loop-stall-ms} another time after which the watchdog takes a busy loop
   * thread to be waiting.
   */
  private static Optional<RelayLoop> relayLoop() {
    if ("threads".equals(System.getProperty("gatehouse.postgres.relay"))) return Optional.empty();
    int groups = Integer.getInteger("gatehouse.postgres.loop-threads", Runtime.getRuntime().availableProcessors());
    long stallMillis = Long.getLong("gatehouse.postgres.loop-stall-ms", TimeUnit.NANOSECONDS.toMillis(RelayLoop.STALL));
    return Optional.of(new RelayLoop("pg-loop", Math.max(1, groups), TimeUnit.MILLISECONDS.toNanos(Math.max(1, stallMillis))));
  }

  /**
   * Binds the listener and starts accepting connections.
   *
   * @throws PostgresGatewayException when the address cannot be bound
   * @throws IllegalStateException when already started or closed
   */
  public synchronized void start() {
    if (server != null || closed) throw new IllegalStateException("start() called twice or after close()");
    try {
      // A channel's socket: the event loop can take over the sessions' sockets after startup.
      ServerSocket socket = ServerSocketChannel.open().socket();
      socket.setReuseAddress(true);
      socket.bind(new InetSocketAddress(InetAddress.getByName(config.bindHost()), config.port()), 1024);
      server = socket;
    } catch (IOException e) {
      throw new PostgresGatewayException("08000",
          "cannot listen on " + config.bindHost() + ":" + config.port() + ": " + e.getMessage(), e);
    }
    acceptor = Thread.ofPlatform().daemon().name("pg-accept-" + port()).start(this::acceptLoop);
    log.info("PostgreSQL listener on {}:{} ({})", config.bindHost(), port(),
        config.tls().isPresent() ? (config.requireTls() ? "TLS required" : "TLS available") : "plaintext, loopback only");
  }

  /** The port actually bound (the ephemeral one when configured with 0). */
  public int port() {
    ServerSocket s = server;
    if (s == null) throw new IllegalStateException("not started");
    return s.getLocalPort();
  }

  /** How often the event loop's watchdog took over from a handler that waited unannounced (tests). */
  long loopStalls() {
    return loop.map(RelayLoop::stalls).orElse(0L);
  }

  /** Connections in startup from the source of {@code address} (tests). */
  int startingFrom(InetAddress address) {
    return sources.starting(address);
  }

  /** How many CancelRequests this listener received that ended so (a counter, for metrics). */
  public long cancelRequests(CancelOutcome outcome) {
    return cancels[outcome.ordinal()].sum();
  }

  /** Live relayed sessions on this listener. */
  public int sessionCount() {
    return sessions.size();
  }

  /**
   * Ends one live session (after a policy change, or by an operator): the client gets FATAL 57P01
   * with the reason, and the Checkpoint closes the session. Returns false when no such session
   * runs on this listener.
   */
  public boolean terminate(SessionId id, String reason) {
    for (ProxySession session : sessions) {
      if (session.session.id().equals(id)) {
        session.end(reason, Optional.of(Replies.terminated(reason)));
        return true;
      }
    }
    return false;
  }

  /**
   * Stops accepting, ends every session (the client is told Gatehouse is shutting down, the
   * Checkpoint closes the session) and waits a bounded time for them to finish. Idempotent.
   */
  @Override
  public void close() {
    synchronized (this) {
      if (closed) return;
      closed = true;
    }
    ServerSocket s = server;
    if (s != null) {
      try {
        s.close();
      } catch (IOException e) {
        // the acceptor stops either way
      }
    }
    for (Socket socket : starting) {
      try {
        socket.close();
      } catch (IOException e) {
        // a connection in startup has no session yet; closing it is enough
      }
    }
    for (ProxySession session : sessions) {
      session.end("gateway shutdown", Optional.of(Replies.shuttingDown()));
    }
    Instant until = Instant.now().plus(SHUTDOWN_WAIT);
    while (!sessions.isEmpty() && Instant.now().isBefore(until)) {
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    Thread a = acceptor;
    if (a != null) {
      try {
        a.join(SHUTDOWN_WAIT.toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    for (ColumnCatalog catalog : catalogs.values()) catalog.close();
    loop.ifPresent(RelayLoop::close);
    log.info("PostgreSQL listener on {}:{} closed", config.bindHost(), s == null ? config.port() : s.getLocalPort());
  }

  /**
   * What a session knows of its resource's catalog: where columns come from (when masking rules
   * are configured), and which built-in names someone's functions may shadow (always).
   */
  private SessionMasking sessionMasking(Session session, PostgresTarget target) {
    String resource = session.resource().name();
    ColumnCatalog catalog = catalogs.computeIfAbsent(resource, r -> new ColumnCatalog(
        // A catalog query waits for no lock and runs no longer than a few seconds: the catalog's
        // one connection serves every session of the resource, and a lookup that fails fails closed.
        // No JIT: the look for hidden code is one query of many UNIONs whose estimated cost passes
        // jit_above_cost, and compiling it took 1-5 s of the 7 ms it runs, every catalogTtl, while
        // every session of the resource waited for its answer (bench/README.md, session 22).
        () -> connector.connect(target, Map.of("application_name", "gatehouse-catalog",
            "lock_timeout", "1000", "statement_timeout", "5000", "jit", "off")),
        catalogTtl, clock, this::callsOpaqueCode));
    return new SessionMasking(masking, Optional.of(catalog), resource, session.principal());
  }

  /** Whether SQL (a view's definition) calls what may read any table, or cannot be classified. */
  private boolean callsOpaqueCode(String sql) {
    Classification c = parts.classifier().analyze(sql).combined();
    return c.has(CommandFlag.OPAQUE_CODE) || c.has(CommandFlag.UNCLASSIFIED);
  }

  private void opened(ProxySession session) {
    sessions.add(session);
    // A session that completed its startup while close() ran must not outlive the gateway.
    if (closed) session.end("gateway shutdown", Optional.of(Replies.shuttingDown()));
    // Nor one a changed policy revoked while it connected to its target (terminate found nothing
    // then): registered before this check, so a revocation after it finds the session there.
    if (parts.checkpoint().revoked(session.session.id())) {
      String reason = "the policy changed and no longer allows this session";
      session.end(reason, Optional.of(Replies.terminated(reason)));
    }
  }

  private void acceptLoop() {
    ServerSocket s = server;
    while (!closed) {
      Socket socket;
      try {
        socket = s.accept();
      } catch (IOException e) {
        if (!closed) log.warn("accepting a connection failed: {}", e.toString());
        if (s.isClosed()) return;
        continue;
      }
      starting.add(socket);
      if (closed) {
        closeQuietly(socket);
        starting.remove(socket);
        continue;
      }
      if (starting.size() > config.maxStartups()) {
        refuseStartup(socket, "too many connections are starting up at once; try again",
            config.maxStartups() + " connections are starting up already (listeners.postgres.maxStartups)");
        starting.remove(socket);
        continue;
      }
      // A trusted load balancer's connections are counted by the client its PROXY header names, once read.
      InetAddress from = socket.getInetAddress();
      Optional<Runnable> slot = config.proxyProtocolFrom().contains(from.getHostAddress())
          ? Optional.of(() -> { })
          : sources.take(from);
      if (slot.isEmpty()) {
        refuseStartup(socket, "too many connections from your address are starting up at once; try again",
            config.maxStartupsPerSource() + " connections from " + from.getHostAddress()
                + " are starting up already (listeners.postgres.maxStartupsPerSource)");
        starting.remove(socket);
        continue;
      }
      long n = connections.incrementAndGet();
      // A platform thread: a read by a virtual thread leaves the socket non-blocking for the whole
      // session (see Deadlines), and the session's relay threads would pay for it on every read.
      Thread.ofPlatform().daemon().name("pg-client-" + n).start(() -> {
        try {
          new ClientStartup(parts, socket, () -> {
            starting.remove(socket);
            slot.get().run();
          }).run();
        } finally {
          starting.remove(socket);
          slot.get().run();
        }
      });
    }
  }

  /**
   * More connections are starting up than {@link PostgresListenerConfig#maxStartups()}, or than
   * {@link PostgresListenerConfig#maxStartupsPerSource()} from this one's source: it is told so and
   * closed at once (each startup holds a platform thread until it is done or its startup timeout passes).
   */
  private void refuseStartup(Socket socket, String message, String why) {
    String more = ClientStartup.UNAUTHENTICATED_LOG.admit();
    if (more != null) log.warn("refusing a connection: {}{}", why, more);
    try {
      MessageWriter w = new MessageWriter(socket.getOutputStream());
      w.write(Replies.fatal("53300", message));
      w.flush();
    } catch (IOException e) {
      // the client left already
    } finally {
      closeQuietly(socket);
    }
  }

  private static void closeQuietly(Socket socket) {
    try {
      socket.close();
    } catch (IOException e) {
      // nothing to do
    }
  }
}
