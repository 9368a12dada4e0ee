package dev.gatehouse.server;

import dev.gatehouse.audit.AuditConfig;
import dev.gatehouse.audit.AuditLog;
import dev.gatehouse.audit.Durability;
import dev.gatehouse.core.Checkpoint;
import dev.gatehouse.core.Principal;
import dev.gatehouse.core.Resource;
import dev.gatehouse.core.ResourceType;
import dev.gatehouse.core.SessionLimits;
import dev.gatehouse.identity.ClaimMapping;
import dev.gatehouse.identity.OidcAuthenticator;
import dev.gatehouse.identity.TrustedIssuer;
import dev.gatehouse.policy.PolicyEngine;
import dev.gatehouse.policy.PolicyLoader;
import dev.gatehouse.policy.PolicyWatcher;
import dev.gatehouse.policy.ReloadingPolicy;
import dev.gatehouse.postgres.BackendConnector;
import dev.gatehouse.postgres.CancelOutcome;
import dev.gatehouse.postgres.PeerNode;
import dev.gatehouse.postgres.PostgresGateway;
import dev.gatehouse.postgres.PostgresListenerConfig;
import dev.gatehouse.postgres.PostgresTarget;
import dev.gatehouse.postgres.TargetInspector;
import dev.gatehouse.postgres.TargetTls;
import dev.gatehouse.postgres.sql.CachingClassifier;
import dev.gatehouse.postgres.sql.SqlClassifier;
import dev.gatehouse.store.JdbcStore;
import dev.gatehouse.store.StoreConfig;
import dev.gatehouse.tls.CertificateAuthority;
import dev.gatehouse.tls.ServerTls;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.net.ssl.SSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The composition root: turns a validated configuration into running objects, in dependency order,
 * and stops them in reverse. The only class that knows every module.
 *
 * <p>Start order: data directory → audit store → audit log (fails start when the store is
 * unusable) → identity → policy (+ watcher) → targets (inspected) → Checkpoint → PostgreSQL
 * listener → control plane. Anything that fails stops what was already started.
 */
public final class Gatehouse implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Gatehouse.class);

  private final Deque<AutoCloseable> started = new ArrayDeque<>();
  private final ConfigLoader.Loaded loaded;
  private Optional<Path> caCertificate = Optional.empty();
  private PostgresGateway postgres;
  private ControlPlane controlPlane;
  private AuditLog audit;
  private Checkpoint checkpoint;
  private ReloadingPolicy policy;

  private Gatehouse(ConfigLoader.Loaded loaded) {
    this.loaded = loaded;
  }

  /** Starts everything the configuration describes; on failure nothing is left running. */
  public static Gatehouse start(ConfigLoader.Loaded loaded, Clock clock) {
    Gatehouse g = new Gatehouse(loaded);
    try {
      g.startAll(clock);
      return g;
    } catch (RuntimeException | IOException e) {
      g.close();
      if (e instanceof RuntimeException r) throw r;
      throw new ConfigException(loaded.file().toString(), "", "cannot start: " + e.getMessage());
    }
  }

  private void startAll(Clock clock) throws IOException {
    GatehouseConfig config = loaded.config();
    String file = loaded.file().toString();
    Files.createDirectories(loaded.dataDir());

    JdbcStore store = JdbcStore.open(storeConfig(loaded));
    started.push(store);
    var auditConfig = config.audit();
    Path keyFile = signingKey(loaded);
    audit = AuditLog.start(store.audit(),
        AuditConfig.defaults("node-" + config.node().id(), keyFile)
            .withJournal(journalDir(loaded))
            .withCheckpoints(auditConfig.checkpointEvery(), auditConfig.checkpointInterval()),
        clock);
    started.push(audit);

    OidcAuthenticator authenticator = new OidcAuthenticator(issuers(config), OidcAuthenticator.Options.defaults()
        .withTimeouts(config.identity().connectTimeout(), config.identity().readTimeout()));
    started.push(authenticator);

    // A rule pinned to an issuer the configuration does not trust is refused, at start and at reload.
    List<String> issuerNames = config.identity().issuerNames();
    policy = new ReloadingPolicy(new PolicyLoader(clock, (principal, resource, at) -> false).withIssuers(issuerNames),
        config.policy().files().stream().map(loaded::resolve).toList(), clock);
    if (!config.policy().files().isEmpty()) started.push(PolicyWatcher.start(policy, Duration.ofMillis(300)));
    if (config.policy().files().isEmpty()) {
      log.warn("no policy files configured: every connection and statement is denied");
    }
    warnUnpinned(policy.current(), issuerNames);
    policy.addListener((previous, current) -> warnUnpinned(current, issuerNames));
    List<String> undefinedMasks = loaded.masking().undefined(policy.current().maskNames());
    if (!undefinedMasks.isEmpty()) {
      throw new ConfigException(file, "policy.files",
          "the policy applies masking rules that masking.rules does not define: " + String.join(", ", undefinedMasks));
    }

    Map<String, Resource> resources = new LinkedHashMap<>();
    Map<String, PostgresTarget> targets = new LinkedHashMap<>();
    for (var r : config.resources()) {
      resources.put(r.name(), new Resource(r.name(), ResourceType.POSTGRES, r.host() + ":" + r.port(), r.tags()));
      targets.put(r.name(), new PostgresTarget(r.host(), r.port(), r.database(), r.user(),
          loaded.resourcePasswords().get(r.name()), targetTls(r.tls()), r.acceptPrivilegedRole()));
    }
    BackendConnector connector = new BackendConnector();
    InspectedTargets inspected = new InspectedTargets(targets, new TargetInspector(connector));
    inspected.inspectAll(file);

    PrometheusMeterRegistry metrics = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    new JvmMemoryMetrics().bindTo(metrics);
    // Events journaled but not yet in the store (the indexer's lag), and outcomes that could not be recorded.
    Gauge.builder("gatehouse_audit_unindexed_events", audit, AuditLog::unindexed)
        .description("Audit events in the journal not yet in the store (the indexer's lag)").register(metrics);
    Gauge.builder("gatehouse_audit_lost_events", audit, AuditLog::lostEvents)
        .description("Audit events that could not be recorded since the start (each recorded as EVENTS_LOST)").register(metrics);
    new JvmThreadMetrics().bindTo(metrics);
    JvmGcMetrics gc = new JvmGcMetrics();
    gc.bindTo(metrics);
    started.push(gc);
    var sessions = config.sessions();
    checkpoint = new Checkpoint(authenticator, name -> Optional.ofNullable(resources.get(name)), policy, audit,
        new SessionLimits(sessions.maxPerUser(), sessions.maxPerResource(), sessions.tokenGrace()),
        clock, List.of(new MetricsListener(metrics)));

    var pg = config.listeners().postgres();
    if (pg.enabled()) {
      CachingClassifier classifier = new CachingClassifier(SqlClassifier.load());
      log.info("PostgreSQL statements are classified by {}", classifier.name());
      Gauge.builder("gatehouse_classifier_cached_texts", classifier, CachingClassifier::size)
          .description("Statement texts whose classification is cached").register(metrics);
      FunctionCounter.builder("gatehouse_classifier_template_hits", classifier, CachingClassifier::templateHits)
          .description("Statements classified from a cached template of their text with other literals").register(metrics);
      List<PeerNode> peers = config.node().peers().stream()
          .map(p -> new PeerNode(p.id(), p.host(), p.port(), targetTls(p.tls()))).toList();
      postgres = new PostgresGateway(
          new PostgresListenerConfig(pg.bind(), pg.port(), listenerTls(pg.tls()),
              pg.tls().mode() != GatehouseConfig.TlsMode.OFF, new HashSet<>(pg.proxyProtocolFrom()),
              pg.startupTimeout(), pg.maxMessageBytes(), 10_000, config.node().id(), pg.maxStartups())
              .withMaxStartupsPerSource(pg.maxStartupsPerSource())
              .withNode(config.node().id(), peers),
          checkpoint, inspected, classifier, connector, clock, loaded.masking(),
          config.masking().catalogTtl());
      if (!loaded.masking().ruleNames().isEmpty()) {
        log.info("masking rules {} are in force where policy applies them", loaded.masking().ruleNames());
      }
      postgres.start();
      started.push(postgres);
      if (!peers.isEmpty()) {
        log.info("node {}: cancel requests for keys of other nodes are passed on to {}", config.node().id(),
            peers.stream().map(p -> "node " + p.id() + " at " + p.address() + " (TLS " + p.tls().mode() + ")").toList());
      }
      for (CancelOutcome outcome : CancelOutcome.values()) {
        FunctionCounter.builder("gatehouse_cancel_requests", postgres, g -> g.cancelRequests(outcome))
            .tags(List.of(Tag.of("outcome", outcome.tag())))
            .description("PostgreSQL cancel requests, by outcome").register(metrics);
      }
      log.info("PostgreSQL listener on {}:{} (TLS {})", pg.bind(), postgres.port(), pg.tls().mode().name().toLowerCase());
    }

    // Issue #3: open sessions are re-checked against a new policy; those it no longer admits end.
    policy.addListener((previous, current) -> {
      for (Checkpoint.Revocation r : checkpoint.recheck()) {
        String reason = "the policy changed and no longer allows this session (rule " + r.decision().rule() + ")";
        if (postgres != null && postgres.terminate(r.session().id(), reason)) {
          log.info("session {} of {} ended: {}", r.session().id(), r.session().principal().displayName(), reason);
        }
      }
    });

    var cp = config.listeners().controlPlane();
    controlPlane = new ControlPlane(cp.bind(), cp.port(), metrics, List.of(
        new ControlPlane.ReadinessCheck("audit", audit::problem),
        // A rejected change leaves the previous policy in force: the node serves on, and says so
        // (r40a F10: 503 here took every node out of its load balancer over one typo).
        new ControlPlane.ReadinessCheck("policy", () -> policy.status().lastError()
            .map(e -> "the last policy change was rejected, the previous policy stays in force: " + e), false),
        new ControlPlane.ReadinessCheck("postgres", () -> postgres == null || postgres.port() > 0
            ? Optional.empty() : Optional.of("listener not bound"))));
    controlPlane.start();
    started.push(controlPlane);
    log.info("control plane on {}:{}", cp.bind(), controlPlane.port());
  }

  /**
   * Waits until every audit event recorded so far is in the store, which readers (audit commands,
   * tests) see; events are durable in the journal before that.
   */
  public void flushAudit() {
    if (audit != null) audit.flush();
  }

  /** Where the audit journal lives: {@code audit-journal} in the data directory. */
  public static Path journalDir(ConfigLoader.Loaded loaded) {
    return loaded.dataDir().resolve("audit-journal");
  }

  public static StoreConfig storeConfig(ConfigLoader.Loaded loaded) {
    var audit = loaded.config().audit();
    StoreConfig store = audit.store().isEmpty()
        ? StoreConfig.sqlite(loaded.dataDir().resolve("gatehouse.db"))
        : StoreConfig.of(sqliteRelative(loaded, audit.store()),
            audit.user().isEmpty() ? Optional.empty() : Optional.of(audit.user()), loaded.auditPassword());
    return store.withDurability(audit.durability().equals("machine") ? Durability.MACHINE : Durability.PROCESS);
  }

  /** Where the audit signing key lives for this configuration. */
  public static Path signingKey(ConfigLoader.Loaded loaded) {
    String key = loaded.config().audit().signingKey();
    return key.isEmpty() ? loaded.dataDir().resolve("audit-signing.key") : loaded.resolve(key);
  }

  /** A relative SQLite path is relative to the configuration file, like every other path. */
  private static String sqliteRelative(ConfigLoader.Loaded loaded, String url) {
    String prefix = "jdbc:sqlite:";
    if (!url.startsWith(prefix)) return url;
    String path = url.substring(prefix.length());
    if (path.startsWith("/") || path.startsWith(":memory:") || path.startsWith("file:")) return url;
    return prefix + loaded.resolve(path);
  }

  private Optional<SSLContext> listenerTls(GatehouseConfig.ListenerTlsConfig tls) {
    return switch (tls.mode()) {
      case OFF -> Optional.empty();
      case FILES -> Optional.of(ServerTls.load(loaded.resolve(tls.certificate()), loaded.resolve(tls.key())).context());
      case AUTO -> {
        var prepared = CertificateAuthority.prepare(loaded.dataDir().resolve("tls"), tls.hostnames());
        caCertificate = Optional.of(prepared.caCertificate());
        yield Optional.of(prepared.serverTls().context());
      }
    };
  }

  private TargetTls targetTls(GatehouseConfig.TargetTlsConfig tls) {
    TargetTls.Mode mode = switch (tls.mode()) {
      case "disable" -> TargetTls.Mode.DISABLE;
      case "require" -> TargetTls.Mode.REQUIRE;
      default -> TargetTls.Mode.VERIFY_FULL;
    };
    return new TargetTls(mode,
        tls.ca().isEmpty() ? Optional.empty() : Optional.of(loaded.resolve(tls.ca())),
        tls.serverName().isEmpty() ? Optional.empty() : Optional.of(tls.serverName()));
  }

  /**
   * Warns of rules that name users, groups or claims without their issuers while several issuers
   * are trusted: a token from any of them with the same names matches (docs/policy.md, subjects).
   */
  static void warnUnpinned(PolicyEngine engine, List<String> issuers) {
    engine.unpinnedWarning(issuers).ifPresent(w -> log.warn("policy {}: {}", engine.version(), w));
  }

  static List<TrustedIssuer> issuers(GatehouseConfig config) {
    return config.identity().issuers().stream().map(is -> {
      TrustedIssuer.Builder b = TrustedIssuer.builder(is.name(), URI.create(is.issuer()));
      is.audiences().forEach(b::audience);
      if (!is.jwksUri().isEmpty()) b.jwksUri(URI.create(is.jwksUri()));
      b.algorithms(new HashSet<>(is.algorithms()))
          .kind(is.kind().equals("machine") ? Principal.Kind.MACHINE : Principal.Kind.HUMAN)
          .subjectClaim(is.subject())
          .displayNameClaim(is.displayName())
          .groupsClaim(is.groupsClaim())
          .clockSkew(is.clockSkew());
      is.groupMappings().forEach(m -> b.groupMapping(ClaimMapping.of(m.claim(), m.equals(), m.group())));
      is.requiredClaims().forEach(b::requiredClaim);
      return b.build();
    }).toList();
  }

  public int postgresPort() {
    return postgres == null ? -1 : postgres.port();
  }

  public int controlPlanePort() {
    return controlPlane.port();
  }

  /** The CA clients should trust, when the listener generated its own certificate. */
  public Optional<Path> caCertificate() {
    return caCertificate;
  }

  public Checkpoint checkpoint() {
    return checkpoint;
  }

  public ReloadingPolicy policy() {
    return policy;
  }

  /** Stops listeners first (no new work), then drains the audit log, then closes the store. */
  @Override
  public void close() {
    while (!started.isEmpty()) {
      AutoCloseable c = started.pop();
      try {
        c.close();
      } catch (Exception e) {
        log.warn("error while stopping {}: {}", c.getClass().getSimpleName(), e.getMessage());
      }
    }
  }
}
