package dev.gatehouse.server;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.gatehouse.core.Secret;
import dev.gatehouse.masking.Masking;
import dev.gatehouse.masking.MaskingException;
import dev.gatehouse.masking.MaskingRules;
import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.yaml.snakeyaml.LoaderOptions;

/**
 * Reads and validates {@code gatehouse.yaml}. Every problem is a {@link ConfigException} naming the
 * file, the key and what is wrong (with line and column when the YAML itself is at fault); nothing
 * half-valid is returned. Secret references are resolved here, once.
 *
 * <p>Relative paths in the file are resolved against the file's directory.
 */
public final class ConfigLoader {
  private static final Set<String> ALGORITHMS =
      Set.of("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA");
  private static final Pattern DURATION = Pattern.compile("(\\d+)\\s*(ms|s|m|h|d)");

  private final Function<String, String> env;
  /** For commands that read, not serve ({@link #forReading}). */
  private final boolean readOnly;

  public ConfigLoader(Function<String, String> env) {
    this(env, false);
  }

  private ConfigLoader(Function<String, String> env, boolean readOnly) {
    this.env = env;
    this.readOnly = readOnly;
  }

  /**
   * A loader for the commands that read the gateway's configuration without serving ({@code gatehouse
   * audit tail|search|verify}, {@code policy test}): it resolves only what reading the audit log
   * takes (the store's password), so that an operator's shell, an auditor or a CI job needs neither
   * the targets' passwords nor the masking key, nor the policy and TLS files (r40a F9: every one had
   * to resolve). Its {@link Loaded} holds no resource passwords and no compiled masking (the
   * configuration's masking rules are there as written): never start a gateway with it.
   */
  public static ConfigLoader forReading(Function<String, String> env) {
    return new ConfigLoader(env, true);
  }

  /** A validated configuration with its secrets resolved and its paths made absolute. */
  public record Loaded(
      GatehouseConfig config,
      Path file,
      Path dataDir,
      Map<String, Secret> resourcePasswords,
      Optional<Secret> auditPassword,
      Masking masking) {
    /** Without masking rules. */
    public Loaded(GatehouseConfig config, Path file, Path dataDir, Map<String, Secret> resourcePasswords,
        Optional<Secret> auditPassword) {
      this(config, file, dataDir, resourcePasswords, auditPassword, Masking.none());
    }

    public Path resolve(String path) {
      return file.toAbsolutePath().getParent().resolve(path).normalize();
    }
  }

  public Loaded load(Path file) {
    String name = file.toString();
    if (!Files.isRegularFile(file)) throw new ConfigException(name, "", "no such file");
    GatehouseConfig config;
    try {
      config = mapper().readValue(file.toFile(), GatehouseConfig.class);
    } catch (JsonProcessingException e) {
      java.util.Optional<dev.gatehouse.policy.YamlSyntax.Problem> syntax = dev.gatehouse.policy.YamlSyntax.of(e);
      if (syntax.isPresent()) {
        throw new ConfigException(name, "", "not valid YAML (line " + syntax.get().line() + ", column "
            + syntax.get().column() + "): " + syntax.get().message());
      }
      if (e instanceof JsonMappingException m) throw new ConfigException(name, path(m), problem(m, file));
      throw new ConfigException(name, "", "not valid YAML" + at(e.getLocation()) + ": " + e.getOriginalMessage());
    } catch (IOException e) {
      throw new ConfigException(name, "", "cannot read: " + e.getMessage());
    }
    if (config == null) config = new GatehouseConfig(null, null, null, null, null, null, null);
    return validate(config, file);
  }

  /** Validates a configuration built in code (the demo) as if it had been read from {@code file}. */
  public Loaded validate(GatehouseConfig config, Path file) {
    String name = file.toString();
    Path base = file.toAbsolutePath().getParent();
    var node = config.node();
    if (node.id() < 0 || node.id() > 255) throw new ConfigException(name, "node.id", "must be 0..255, was " + node.id());
    Path dataDir = base.resolve(node.dataDir()).normalize();
    Set<Integer> peerIds = new HashSet<>();
    for (int i = 0; i < node.peers().size(); i++) {
      var peer = node.peers().get(i);
      String key = "node.peers[" + i + "]";
      if (peer == null) throw new ConfigException(name, key, "is empty");
      if (peer.id() < 0 || peer.id() > 255) {
        throw new ConfigException(name, key + ".id", peer.id() == -1 ? "is required (the peer's node.id)" : "must be 0..255, was " + peer.id());
      }
      if (peer.id().equals(node.id())) throw new ConfigException(name, key + ".id", "is this node's own id " + node.id());
      if (!peerIds.add(peer.id())) throw new ConfigException(name, key + ".id", "duplicate peer id " + peer.id());
      if (peer.host().isBlank()) throw new ConfigException(name, key + ".host", "is required");
      if (peer.port() < 1 || peer.port() > 65535) throw new ConfigException(name, key + ".port", "must be 1..65535, was " + peer.port());
      targetTls(name, key + ".tls", peer.tls(), readOnly ? null : base);
      if (peer.tls().mode().equals("disable") && !loopback(peer.host())) {
        throw new ConfigException(name, key + ".tls.mode",
            "disable is allowed only towards a loopback address (host is " + peer.host() + "): cancel keys are secrets");
      }
    }

    var pg = config.listeners().postgres();
    port(name, "listeners.postgres.port", pg.port());
    if (pg.enabled() && pg.tls().mode() == GatehouseConfig.TlsMode.OFF && !loopback(pg.bind())) {
      throw new ConfigException(name, "listeners.postgres.tls.mode",
          "off is allowed only on a listener bound to loopback (bind is " + pg.bind() + "): tokens travel as passwords");
    }
    if (pg.tls().mode() == GatehouseConfig.TlsMode.FILES && !readOnly) {
      existing(name, "listeners.postgres.tls.certificate", pg.tls().certificate(), base);
      existing(name, "listeners.postgres.tls.key", pg.tls().key(), base);
    }
    for (int i = 0; i < pg.proxyProtocolFrom().size(); i++) {
      address(name, "listeners.postgres.proxyProtocolFrom[" + i + "]", pg.proxyProtocolFrom().get(i));
    }
    if (pg.startupTimeout().isNegative() || pg.startupTimeout().isZero()) {
      throw new ConfigException(name, "listeners.postgres.startupTimeout", "must be positive");
    }
    if (pg.maxMessageBytes() < 1 << 16) {
      throw new ConfigException(name, "listeners.postgres.maxMessageBytes", "must be at least 65536");
    }
    if (pg.maxStartups() < 1 || pg.maxStartups() > dev.gatehouse.postgres.PostgresListenerConfig.MAX_MAX_STARTUPS) {
      throw new ConfigException(name, "listeners.postgres.maxStartups",
          "must be between 1 and " + dev.gatehouse.postgres.PostgresListenerConfig.MAX_MAX_STARTUPS
              + " (each connection in startup holds a thread)");
    }
    if (pg.maxStartupsPerSource() < 1 || pg.maxStartupsPerSource() > pg.maxStartups()) {
      throw new ConfigException(name, "listeners.postgres.maxStartupsPerSource",
          "must be between 1 and listeners.postgres.maxStartups (" + pg.maxStartups() + ")");
    }
    port(name, "listeners.controlPlane.port", config.listeners().controlPlane().port());

    for (var t : java.util.Map.of("identity.connectTimeout", config.identity().connectTimeout(),
        "identity.readTimeout", config.identity().readTimeout()).entrySet()) {
      if (t.getValue().isNegative() || t.getValue().isZero() || t.getValue().compareTo(java.time.Duration.ofMinutes(1)) > 0) {
        throw new ConfigException(name, t.getKey(), "must be between 1ms and 1m (connections wait this long for an unreachable issuer)");
      }
    }
    Set<String> issuerNames = new HashSet<>();
    List<GatehouseConfig.IssuerConfig> issuers = config.identity().issuers();
    for (int i = 0; i < issuers.size(); i++) {
      var is = issuers.get(i);
      String key = "identity.issuers[" + i + "]";
      if (is.name().isBlank()) throw new ConfigException(name, key + ".name", "is required");
      if (!issuerNames.add(is.name())) throw new ConfigException(name, key + ".name", "duplicate issuer name " + is.name());
      issuerUrl(name, key + ".issuer", is.issuer());
      if (!is.jwksUri().isEmpty()) issuerUrl(name, key + ".jwksUri", is.jwksUri());
      if (is.audiences().isEmpty()) {
        throw new ConfigException(name, key + ".audiences", "at least one audience is required: tokens minted for other services must not work here");
      }
      for (String alg : is.algorithms()) {
        if (!ALGORITHMS.contains(alg)) {
          throw new ConfigException(name, key + ".algorithms", "unsupported algorithm " + alg + " (allowed: " + String.join(", ", ALGORITHMS.stream().sorted().toList()) + "; none and HS* are never accepted)");
        }
      }
      if (!is.kind().equals("human") && !is.kind().equals("machine")) {
        throw new ConfigException(name, key + ".kind", "must be human or machine, was " + is.kind());
      }
      if (is.clockSkew().isNegative() || is.clockSkew().compareTo(Duration.ofMinutes(5)) > 0) {
        throw new ConfigException(name, key + ".clockSkew", "must be between 0s and 5m");
      }
    }
    var sessions = config.sessions();
    if (sessions.maxPerUser() < 0) throw new ConfigException(name, "sessions.maxPerUser", "must be >= 0 (0 = unlimited)");
    if (sessions.maxPerResource() < 0) throw new ConfigException(name, "sessions.maxPerResource", "must be >= 0 (0 = unlimited)");
    if (sessions.tokenGrace().isNegative()) throw new ConfigException(name, "sessions.tokenGrace", "must not be negative");

    Map<String, Secret> passwords = new LinkedHashMap<>();
    List<GatehouseConfig.ResourceConfig> resources = config.resources();
    for (int i = 0; i < resources.size(); i++) {
      var r = resources.get(i);
      String key = "resources[" + i + "]";
      if (!r.name().matches("[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")) {
        throw new ConfigException(name, key + ".name", "must be 1-63 letters, digits, '.', '_' or '-', was \"" + r.name() + "\"");
      }
      if (passwords.containsKey(r.name())) throw new ConfigException(name, key + ".name", "duplicate resource name " + r.name());
      if (!r.type().equals("postgres")) throw new ConfigException(name, key + ".type", "unsupported type \"" + r.type() + "\" (supported: postgres)");
      if (r.host().isBlank()) throw new ConfigException(name, key + ".host", "is required");
      port(name, key + ".port", r.port());
      if (r.database().isBlank()) throw new ConfigException(name, key + ".database", "is required");
      if (r.user().isBlank()) throw new ConfigException(name, key + ".user", "is required");
      targetTls(name, key + ".tls", r.tls(), readOnly ? null : base);
      if (!readOnly) passwords.put(r.name(), secret(name, key + ".password", r.password(), base));
    }
    for (int i = 0; i < config.policy().files().size() && !readOnly; i++) {
      existing(name, "policy.files[" + i + "]", config.policy().files().get(i), base);
    }
    var audit = config.audit();
    if (!audit.store().isEmpty() && !audit.store().startsWith("jdbc:sqlite:") && !audit.store().startsWith("jdbc:postgresql:")) {
      throw new ConfigException(name, "audit.store", "must be a jdbc:sqlite: or jdbc:postgresql: URL");
    }
    if (!audit.durability().equals("process") && !audit.durability().equals("machine")) {
      throw new ConfigException(name, "audit.durability", "must be process or machine, was " + audit.durability());
    }
    if (audit.checkpointEvery() < 1) throw new ConfigException(name, "audit.checkpointEvery", "must be at least 1");
    Optional<Secret> auditPassword = audit.password() == null
        ? Optional.empty()
        : Optional.of(secret(name, "audit.password", audit.password(), base));
    Masking masking = readOnly ? Masking.none() : masking(name, config.masking(), base);
    return new Loaded(config, file, dataDir, Map.copyOf(passwords), auditPassword, masking);
  }

  /** Compiles the masking section; every problem is reported with its key. */
  private Masking masking(String file, GatehouseConfig.MaskingConfig config, Path base) {
    if (config.catalogTtl().isNegative() || config.catalogTtl().isZero()) {
      throw new ConfigException(file, "masking.catalogTtl", "must be positive");
    }
    if (config.rules().isEmpty()) return Masking.none();
    java.util.List<MaskingRules.Rule> rules = new java.util.ArrayList<>();
    for (MaskingRules.Rule r : config.rules()) {
      if (r == null) throw new ConfigException(file, "masking.rules", "a rule is empty");
      // YAML 1.1 reads a bare `off` as false; `strict: off` is what people write.
      String strict = r.strict().equals("false") ? "off" : r.strict();
      rules.add(new MaskingRules.Rule(r.name(), r.description(), r.resources(), r.columns(), r.style(), r.detect(),
          r.detectIn(), strict, r.confine()));
    }
    Optional<Secret> key = config.hashKey() == null
        ? Optional.empty() : Optional.of(secret(file, "masking.hashKey", config.hashKey(), base));
    try {
      return Masking.compile(new MaskingRules(rules), key);
    } catch (MaskingException e) {
      throw new ConfigException(file, "masking", e.getMessage());
    }
  }

  private Secret secret(String file, String key, SecretRef ref, Path base) {
    if (ref == null) throw new ConfigException(file, key, "is required (a reference such as ${env:NAME} or ${file:/path})");
    try {
      return ref.resolve(env, base);
    } catch (IllegalArgumentException e) {
      throw new ConfigException(file, key, e.getMessage());
    }
  }

  /** Checks a target's TLS settings, and that its CA file exists unless {@code base} is null (audit reading). */
  private static void targetTls(String file, String key, GatehouseConfig.TargetTlsConfig tls, Path base) {
    if (!Set.of("verify-full", "require", "disable").contains(tls.mode())) {
      throw new ConfigException(file, key + ".mode", "must be verify-full, require or disable, was " + tls.mode());
    }
    if (!tls.ca().isEmpty() && base != null) existing(file, key + ".ca", tls.ca(), base);
  }

  private static void port(String file, String key, int port) {
    if (port < 0 || port > 65535) throw new ConfigException(file, key, "must be 0..65535, was " + port);
  }

  private static void existing(String file, String key, String path, Path base) {
    if (path.isBlank()) throw new ConfigException(file, key, "is required");
    if (!Files.isReadable(base.resolve(path))) throw new ConfigException(file, key, "cannot read " + base.resolve(path).normalize());
  }

  private static void address(String file, String key, String value) {
    if (!value.matches("[0-9A-Fa-f:.]+")) throw new ConfigException(file, key, "must be an IP address, was \"" + value + "\"");
    try {
      InetAddress.getByName(value);
    } catch (UnknownHostException e) {
      throw new ConfigException(file, key, "not an IP address: " + value);
    }
  }

  private static void issuerUrl(String file, String key, String value) {
    URI uri;
    try {
      uri = URI.create(value);
    } catch (IllegalArgumentException e) {
      throw new ConfigException(file, key, "not a URL: " + value);
    }
    if (uri.getHost() == null) throw new ConfigException(file, key, "must be an absolute https URL, was \"" + value + "\"");
    if (!"https".equals(uri.getScheme()) && !("http".equals(uri.getScheme()) && loopback(uri.getHost()))) {
      throw new ConfigException(file, key, "must use https (plain http only for a provider on loopback), was " + value);
    }
  }

  static boolean loopback(String host) {
    String h = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    if (h.equals("localhost")) return true;
    if (!h.matches("[0-9A-Fa-f:.]+")) return false;
    try {
      return InetAddress.getByName(h).isLoopbackAddress();
    } catch (UnknownHostException e) {
      return false;
    }
  }

  static ObjectMapper mapper() {
    LoaderOptions options = new LoaderOptions();
    options.setMaxAliasesForCollections(20);
    options.setNestingDepthLimit(40);
    options.setCodePointLimit(1 << 20);
    options.setAllowDuplicateKeys(false);
    YAMLFactory yaml = YAMLFactory.builder().loaderOptions(options).build();
    SimpleModule module = new SimpleModule("gatehouse-config");
    module.addDeserializer(Duration.class, new DurationDeserializer());
    module.addDeserializer(SecretRef.class, new JsonDeserializer<>() {
      @Override
      public SecretRef deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
        return new SecretRef(p.getValueAsString(""));
      }
    });
    // YAML 1.1 reads a bare `off` as false; `tls: {mode: off}` is what people write.
    module.addDeserializer(GatehouseConfig.TlsMode.class, new JsonDeserializer<>() {
      @Override
      public GatehouseConfig.TlsMode deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
        if (p.currentToken() == com.fasterxml.jackson.core.JsonToken.VALUE_FALSE) return GatehouseConfig.TlsMode.OFF;
        String text = p.getValueAsString("");
        for (GatehouseConfig.TlsMode mode : GatehouseConfig.TlsMode.values()) {
          if (mode.name().equalsIgnoreCase(text)) return mode;
        }
        throw JsonMappingException.from(p, "must be auto, files or off, was \"" + text + "\"");
      }
    });
    return JsonMapper.builder(yaml)
        .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
        .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
        .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
        .enable(MapperFeature.ACCEPT_CASE_INSENSITIVE_ENUMS)
        .addModule(module)
        .build();
  }

  /** Durations as {@code 250ms}, {@code 10s}, {@code 5m}, {@code 1h}, {@code 2d} or ISO-8601 ({@code PT10S}). */
  static Duration parseDuration(String text) {
    String t = text.strip().toLowerCase(Locale.ROOT);
    Matcher m = DURATION.matcher(t);
    if (m.matches()) {
      long n = Long.parseLong(m.group(1));
      return switch (m.group(2)) {
        case "ms" -> Duration.ofMillis(n);
        case "s" -> Duration.ofSeconds(n);
        case "m" -> Duration.ofMinutes(n);
        case "h" -> Duration.ofHours(n);
        default -> Duration.ofDays(n);
      };
    }
    try {
      return Duration.parse(text.strip());
    } catch (DateTimeParseException e) {
      throw new IllegalArgumentException("not a duration: \"" + text + "\" (write e.g. 250ms, 10s, 5m, 1h)");
    }
  }

  private static final class DurationDeserializer extends JsonDeserializer<Duration> {
    @Override
    public Duration deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
      try {
        return parseDuration(p.getValueAsString(""));
      } catch (IllegalArgumentException e) {
        throw JsonMappingException.from(p, e.getMessage());
      }
    }
  }

  private static String path(JsonMappingException e) {
    StringBuilder sb = new StringBuilder();
    for (JsonMappingException.Reference ref : e.getPath()) {
      if (ref.getFieldName() != null) {
        if (!sb.isEmpty()) sb.append('.');
        sb.append(ref.getFieldName());
      } else if (ref.getIndex() >= 0) {
        sb.append('[').append(ref.getIndex()).append(']');
      }
    }
    return sb.toString();
  }

  private static String problem(JsonMappingException e, Path file) {
    String msg = e.getOriginalMessage();
    if (e instanceof com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException u) {
      msg = "unknown key \"" + u.getPropertyName() + "\"";
    } else if (e instanceof com.fasterxml.jackson.databind.exc.InvalidFormatException f) {
      msg = "invalid value " + f.getValue() + (f.getTargetType() != null && f.getTargetType().isEnum()
          ? " (expected one of " + java.util.Arrays.toString(f.getTargetType().getEnumConstants()).toLowerCase(Locale.ROOT) + ")"
          : "");
    } else if (msg != null) {
      int cut = msg.indexOf("\n");
      if (cut > 0) msg = msg.substring(0, cut);
    }
    return msg + at(keyLocation(e, file));
  }

  /**
   * The YAML parser reports where it stopped, often the line after the offending key; report the
   * last line at or before that which declares the key.
   */
  private static JsonLocation keyLocation(JsonMappingException e, Path file) {
    JsonLocation reported = e.getLocation();
    List<JsonMappingException.Reference> path = e.getPath();
    if (reported == null || path.isEmpty() || path.get(path.size() - 1).getFieldName() == null) return reported;
    Pattern key = Pattern.compile("^[\\s-]*\"?" + Pattern.quote(path.get(path.size() - 1).getFieldName()) + "\"?\\s*:");
    try {
      List<String> lines = Files.readAllLines(file);
      for (int i = Math.min(reported.getLineNr(), lines.size()); i >= 1; i--) {
        Matcher m = key.matcher(lines.get(i - 1));
        if (m.find()) return new JsonLocation(null, -1, i, lines.get(i - 1).indexOf(path.get(path.size() - 1).getFieldName()) + 1);
      }
    } catch (IOException | RuntimeException ignored) {
      // Fall back to what the parser said.
    }
    return reported;
  }

  private static String at(JsonLocation location) {
    if (location == null || location.getLineNr() < 1) return "";
    return " (line " + location.getLineNr() + ", column " + location.getColumnNr() + ")";
  }
}
