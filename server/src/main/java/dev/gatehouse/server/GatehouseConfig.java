package dev.gatehouse.server;

import dev.gatehouse.masking.MaskingRules;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * The whole of {@code gatehouse.yaml}, bound by {@link ConfigLoader}. Every key is declared here
 * once, with its default; docs/configuration.md describes each. Fields absent from the file take the
 * defaults in the compact constructors (Jackson hands absent values over as null; nothing here is
 * null after construction). Secrets are {@link SecretRef}s: references, never values.
 */
public record GatehouseConfig(
    NodeConfig node,
    ListenersConfig listeners,
    IdentityConfig identity,
    SessionsConfig sessions,
    List<ResourceConfig> resources,
    PolicyConfig policy,
    AuditConfig audit,
    MaskingConfig masking) {

  /** Without a masking section. */
  public GatehouseConfig(NodeConfig node, ListenersConfig listeners, IdentityConfig identity, SessionsConfig sessions,
      List<ResourceConfig> resources, PolicyConfig policy, AuditConfig audit) {
    this(node, listeners, identity, sessions, resources, policy, audit, null);
  }

  public GatehouseConfig {
    node = node == null ? new NodeConfig(null, null) : node;
    listeners = listeners == null ? new ListenersConfig(null, null) : listeners;
    identity = identity == null ? new IdentityConfig(null) : identity;
    sessions = sessions == null ? new SessionsConfig(null, null, null) : sessions;
    resources = resources == null ? List.of() : List.copyOf(resources);
    policy = policy == null ? new PolicyConfig(null) : policy;
    audit = audit == null ? new AuditConfig(null, null, null, null, null, null, null) : audit;
    masking = masking == null ? new MaskingConfig(null, null, null) : masking;
  }

  /**
   * @param id 0..255: goes into cancel keys and audit chain ids, unique per node of a cluster
   * @param peers the cluster's other nodes, to which cancel requests for their keys are passed on
   */
  public record NodeConfig(Integer id, String dataDir, List<PeerConfig> peers) {
    public NodeConfig(Integer id, String dataDir) {
      this(id, dataDir, null);
    }

    public NodeConfig {
      id = id == null ? 0 : id;
      dataDir = dataDir == null ? "data" : dataDir;
      peers = peers == null ? List.of() : List.copyOf(peers);
    }
  }

  /**
   * Another node of the cluster, as this one reaches its PostgreSQL listener.
   *
   * @param tls as towards a target; {@code disable} only towards a loopback address
   */
  public record PeerConfig(Integer id, String host, Integer port, TargetTlsConfig tls) {
    public PeerConfig {
      id = id == null ? -1 : id;
      host = host == null ? "" : host;
      port = port == null ? 15432 : port;
      tls = tls == null ? new TargetTlsConfig(null, null, null) : tls;
    }
  }

  public record ListenersConfig(PostgresListenerConfig postgres, ControlPlaneConfig controlPlane) {
    public ListenersConfig {
      postgres = postgres == null ? new PostgresListenerConfig(null, null, null, null, null, null, null, null, null) : postgres;
      controlPlane = controlPlane == null ? new ControlPlaneConfig(null, null) : controlPlane;
    }
  }

  public record PostgresListenerConfig(
      Boolean enabled,
      String bind,
      Integer port,
      ListenerTlsConfig tls,
      List<String> proxyProtocolFrom,
      Duration startupTimeout,
      Integer maxMessageBytes,
      Integer maxStartups,
      Integer maxStartupsPerSource) {
    public PostgresListenerConfig {
      enabled = enabled == null || enabled;
      bind = bind == null ? "127.0.0.1" : bind;
      port = port == null ? 15432 : port;
      tls = tls == null ? new ListenerTlsConfig(null, null, null, null) : tls;
      proxyProtocolFrom = proxyProtocolFrom == null ? List.of() : List.copyOf(proxyProtocolFrom);
      startupTimeout = startupTimeout == null ? Duration.ofSeconds(10) : startupTimeout;
      maxMessageBytes = maxMessageBytes == null ? 64 << 20 : maxMessageBytes;
      maxStartups = maxStartups == null ? dev.gatehouse.postgres.PostgresListenerConfig.DEFAULT_MAX_STARTUPS : maxStartups;
      maxStartupsPerSource = maxStartupsPerSource == null
          ? Math.min(maxStartups, dev.gatehouse.postgres.PostgresListenerConfig.DEFAULT_MAX_STARTUPS_PER_SOURCE)
          : maxStartupsPerSource;
    }
  }

  public enum TlsMode {
    /** Generate a CA and a server certificate into the data directory on first start, reuse after. */
    AUTO,
    /** Use the certificate and key files given. */
    FILES,
    /** No TLS: allowed only on a listener bound to loopback. */
    OFF
  }

  public record ListenerTlsConfig(TlsMode mode, String certificate, String key, List<String> hostnames) {
    public ListenerTlsConfig {
      mode = mode == null ? TlsMode.AUTO : mode;
      certificate = certificate == null ? "" : certificate;
      key = key == null ? "" : key;
      hostnames = hostnames == null ? List.of() : List.copyOf(hostnames);
    }
  }

  public record ControlPlaneConfig(String bind, Integer port) {
    public ControlPlaneConfig {
      bind = bind == null ? "127.0.0.1" : bind;
      port = port == null ? 8080 : port;
    }
  }

  /**
   * @param issuers the trusted token issuers
   * @param connectTimeout TCP connect timeout towards an issuer (discovery, keys); default 2s
   * @param readTimeout read timeout towards an issuer; default 3s. After a failed discovery, tokens
   *     of that issuer are refused at once for 5 s instead of each connection waiting again.
   */
  public record IdentityConfig(List<IssuerConfig> issuers, Duration connectTimeout, Duration readTimeout) {
    public IdentityConfig(List<IssuerConfig> issuers) {
      this(issuers, null, null);
    }

    public IdentityConfig {
      issuers = issuers == null ? List.of() : List.copyOf(issuers);
      connectTimeout = connectTimeout == null ? Duration.ofSeconds(2) : connectTimeout;
      readTimeout = readTimeout == null ? Duration.ofSeconds(3) : readTimeout;
    }

    /** The trusted issuers' names: what a policy's {@code subjects.issuers} may name. */
    public List<String> issuerNames() {
      return issuers.stream().map(IssuerConfig::name).toList();
    }
  }

  /**
   * One trusted token issuer: a human identity provider, or a machine one (CI, Kubernetes).
   *
   * @param subject the claim (or a template of claims, {@code "{repository}@{ref}"}) naming the principal
   */
  public record IssuerConfig(
      String name,
      String issuer,
      List<String> audiences,
      String jwksUri,
      List<String> algorithms,
      String kind,
      String subject,
      String displayName,
      String groupsClaim,
      List<GroupMappingConfig> groupMappings,
      Map<String, String> requiredClaims,
      Duration clockSkew) {
    public IssuerConfig {
      name = name == null ? "" : name;
      issuer = issuer == null ? "" : issuer;
      audiences = audiences == null ? List.of() : List.copyOf(audiences);
      jwksUri = jwksUri == null ? "" : jwksUri;
      algorithms = algorithms == null ? List.of("RS256", "ES256") : List.copyOf(algorithms);
      kind = kind == null ? "human" : kind;
      subject = subject == null ? "sub" : subject;
      displayName = displayName == null ? "email" : displayName;
      groupsClaim = groupsClaim == null ? "groups" : groupsClaim;
      groupMappings = groupMappings == null ? List.of() : List.copyOf(groupMappings);
      requiredClaims = requiredClaims == null ? Map.of() : Map.copyOf(requiredClaims);
      clockSkew = clockSkew == null ? Duration.ofSeconds(60) : clockSkew;
    }
  }

  /** Adds {@code group} to principals whose {@code claim} equals {@code equals}. */
  public record GroupMappingConfig(String claim, String equals, String group) {}

  public record SessionsConfig(Integer maxPerUser, Integer maxPerResource, Duration tokenGrace) {
    public SessionsConfig {
      maxPerUser = maxPerUser == null ? 50 : maxPerUser;
      maxPerResource = maxPerResource == null ? 500 : maxPerResource;
      tokenGrace = tokenGrace == null ? Duration.ZERO : tokenGrace;
    }
  }

  /** A target. {@code type: postgres} needs host, port, database, user and password. */
  public record ResourceConfig(
      String name,
      String type,
      String host,
      Integer port,
      String database,
      String user,
      SecretRef password,
      TargetTlsConfig tls,
      Map<String, String> tags,
      Boolean acceptPrivilegedRole) {
    public ResourceConfig {
      name = name == null ? "" : name;
      type = type == null ? "" : type;
      host = host == null ? "" : host;
      port = port == null ? 5432 : port;
      database = database == null ? "" : database;
      user = user == null ? "" : user;
      tls = tls == null ? new TargetTlsConfig(null, null, null) : tls;
      tags = tags == null ? Map.of() : Map.copyOf(tags);
      acceptPrivilegedRole = acceptPrivilegedRole != null && acceptPrivilegedRole;
    }
  }

  /** @param mode {@code verify-full} (default), {@code require} (encrypt, no verification) or {@code disable} */
  public record TargetTlsConfig(String mode, String ca, String serverName) {
    public TargetTlsConfig {
      mode = mode == null ? "verify-full" : mode;
      ca = ca == null ? "" : ca;
      serverName = serverName == null ? "" : serverName;
    }
  }

  public record PolicyConfig(List<String> files) {
    public PolicyConfig {
      files = files == null ? List.of() : List.copyOf(files);
    }
  }

  /**
   * @param store a JDBC URL: {@code jdbc:sqlite:...} (default, in the data directory) or {@code jdbc:postgresql://...}
   * @param durability {@code process} (default: survives kill -9) or {@code machine} (fsync per batch)
   * @param signingKey the Ed25519 key that signs chain checkpoints; keep it outside the store
   */
  public record AuditConfig(
      String store,
      String user,
      SecretRef password,
      String durability,
      String signingKey,
      Integer checkpointEvery,
      Duration checkpointInterval) {
    public AuditConfig {
      store = store == null ? "" : store;
      user = user == null ? "" : user;
      durability = durability == null ? "process" : durability;
      signingKey = signingKey == null ? "" : signingKey;
      checkpointEvery = checkpointEvery == null ? 10_000 : checkpointEvery;
      checkpointInterval = checkpointInterval == null ? Duration.ofSeconds(1) : checkpointInterval;
    }
  }

  /**
   * Inline masking (docs/masking.md): the rules policy's {@code mask: [...]} lists name, and the key
   * of keyed hashing.
   *
   * @param hashKey the master key of {@code hash} styles, at least 32 bytes: a secret reference
   *     ({@code ${env:NAME}}, {@code ${file:path}}); required only when a rule hashes
   * @param catalogTtl how long a column origin learnt from a resource's catalog is trusted without
   *     DDL through Gatehouse (default 60s)
   * @param rules the masking rules, each with the resources it applies to and its detectors
   */
  public record MaskingConfig(SecretRef hashKey, Duration catalogTtl, List<MaskingRules.Rule> rules) {
    public MaskingConfig {
      catalogTtl = catalogTtl == null ? Duration.ofSeconds(60) : catalogTtl;
      rules = rules == null ? List.of() : List.copyOf(rules);
    }

    public MaskingRules toRules() {
      return new MaskingRules(rules);
    }
  }
}
