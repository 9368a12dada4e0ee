package dev.gatehouse.identity;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.util.JSONObjectUtils;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An in-process OpenID Connect provider <strong>FOR DEMOS ONLY</strong>. It issues a signed token
 * for any registered user to anyone who can reach its port, with no password: it exists so that
 * {@code gatehouse demo} and tests can show real OIDC verification (discovery, JWKS, signature,
 * audience, expiry) without an external identity provider. Never trust it in a real deployment.
 *
 * <p>It listens on {@code 127.0.0.1} only, over plain HTTP, and serves:
 *
 * <ul>
 *   <li>{@code GET /.well-known/openid-configuration}: the discovery document;
 *   <li>{@code GET /jwks}: its public key (EC P-256, generated in memory at start, lost at stop);
 *   <li>{@code POST /token} with form fields {@code subject} (a {@linkplain #register registered}
 *       user) and {@code audience}: a JSON token response, for scripts and the demo.
 * </ul>
 *
 * <p>Thread-safe. {@link #close()} stops the server.
 */
public final class DevelopmentIssuer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(DevelopmentIssuer.class);
  private static final String DEMO_ONLY = "[development identity provider, FOR DEMOS ONLY]";
  private static final Duration TOKEN_ENDPOINT_TTL = Duration.ofHours(1);
  private static final int MAX_FORM_BYTES = 4096;

  /** A user the token endpoint issues tokens for. */
  public record DemoUser(String subject, String displayName, Set<String> groups) {
    public DemoUser {
      Objects.requireNonNull(subject, "subject == null");
      Objects.requireNonNull(displayName, "displayName == null");
      groups = Set.copyOf(groups);
      if (subject.isBlank()) throw new IllegalArgumentException("subject is blank");
    }
  }

  private final HttpServer server;
  private final ExecutorService executor;
  private final ECKey key;
  private final ECDSASigner signer;
  private final URI issuer;
  private final Clock clock;
  private final Map<String, DemoUser> users = new ConcurrentHashMap<>();

  private DevelopmentIssuer(HttpServer server, ExecutorService executor, ECKey key, Clock clock) throws JOSEException {
    this.server = server;
    this.executor = executor;
    this.key = key;
    this.signer = new ECDSASigner(key);
    this.clock = clock;
    this.issuer = URI.create("http://127.0.0.1:" + server.getAddress().getPort());
  }

  /**
   * Starts the provider on {@code 127.0.0.1:port} ({@code 0} = any free port).
   *
   * @throws IdentityException when the port cannot be bound
   */
  public static DevelopmentIssuer start(int port) {
    return start(port, Clock.systemUTC());
  }

  /** {@link #start(int)} with the clock tokens are dated by. */
  public static DevelopmentIssuer start(int port, Clock clock) {
    if (port < 0 || port > 65535) throw new IllegalArgumentException("port out of range: " + port);
    ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    HttpServer server = null;
    try {
      ECKey key = new ECKeyGenerator(Curve.P_256)
          .keyID("dev-" + UUID.randomUUID())
          .keyUse(KeyUse.SIGNATURE)
          .algorithm(JWSAlgorithm.ES256)
          .generate();
      server = HttpServer.create(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), port), 16);
      server.setExecutor(executor);
      DevelopmentIssuer issuer = new DevelopmentIssuer(server, executor, key, clock);
      server.createContext("/.well-known/openid-configuration", issuer::discovery);
      server.createContext("/jwks", issuer::jwks);
      server.createContext("/token", issuer::token);
      server.createContext("/", exchange -> respond(exchange, 404, Map.of("error", "not_found")));
      server.start();
      log.warn("{} started at {}: it issues tokens without passwords; never trust it outside a demo", DEMO_ONLY, issuer.issuer);
      return issuer;
    } catch (IOException | JOSEException e) {
      if (server != null) server.stop(0);
      executor.shutdownNow();
      throw new IdentityException("development identity provider (demo only): cannot listen on 127.0.0.1:" + port
          + ": " + e.getMessage(), e);
    }
  }

  /** The issuer URL, {@code http://127.0.0.1:<port>}, which is also the tokens' {@code iss}. */
  public URI issuer() {
    return issuer;
  }

  /** Where the public key is served. */
  public URI jwksUri() {
    return URI.create(issuer + "/jwks");
  }

  /** Registers (or replaces) a user the {@code /token} endpoint will issue tokens for. */
  public void register(DemoUser user) {
    users.put(user.subject(), user);
  }

  /**
   * A trusted-issuer configuration that accepts this provider's tokens for {@code audience}, found
   * through discovery over HTTP like any real provider: groups from {@code groups}, display name
   * from {@code name}.
   */
  public TrustedIssuer trustedIssuer(String name, String audience) {
    return TrustedIssuer.builder(name, issuer)
        .audience(audience)
        .algorithms(Set.of("ES256"))
        .displayNameClaim("name")
        .groupsClaim("groups")
        .build();
  }

  /**
   * A signed token (ES256) for {@code subject}, carrying {@code name}, {@code
   * preferred_username}, {@code groups} and {@code aud = audience}, valid for {@code ttl}.
   */
  public String mint(String subject, String displayName, Set<String> groups, String audience, Duration ttl) {
    Objects.requireNonNull(subject, "subject == null");
    Objects.requireNonNull(displayName, "displayName == null");
    Objects.requireNonNull(audience, "audience == null");
    if (ttl.isNegative() || ttl.isZero()) throw new IllegalArgumentException("ttl <= 0");
    Instant now = clock.instant();
    JWTClaimsSet claims = new JWTClaimsSet.Builder()
        .issuer(issuer.toString())
        .subject(subject)
        .audience(audience)
        .issueTime(Date.from(now))
        .notBeforeTime(Date.from(now))
        .expirationTime(Date.from(now.plus(ttl)))
        .jwtID(UUID.randomUUID().toString())
        .claim("name", displayName)
        .claim("preferred_username", displayName)
        .claim("groups", new ArrayList<>(groups))
        .build();
    SignedJWT jwt = new SignedJWT(
        new JWSHeader.Builder(JWSAlgorithm.ES256).keyID(key.getKeyID()).type(JOSEObjectType.JWT).build(), claims);
    try {
      jwt.sign(signer);
    } catch (JOSEException e) {
      throw new IdentityException("development identity provider (demo only): cannot sign a token: " + e.getMessage(), e);
    }
    log.info("{} issued a token for '{}' (audience {}, valid {})", DEMO_ONLY, subject, audience, ttl);
    return jwt.serialize();
  }

  private void discovery(HttpExchange exchange) throws IOException {
    if (!"GET".equals(exchange.getRequestMethod())) {
      respond(exchange, 405, Map.of("error", "method_not_allowed"));
      return;
    }
    Map<String, Object> document = new LinkedHashMap<>();
    document.put("issuer", issuer.toString());
    document.put("jwks_uri", jwksUri().toString());
    document.put("token_endpoint", issuer + "/token");
    document.put("response_types_supported", List.of("id_token"));
    document.put("subject_types_supported", List.of("public"));
    document.put("id_token_signing_alg_values_supported", List.of("ES256"));
    document.put("grant_types_supported", List.of("urn:gatehouse:demo"));
    document.put("service_documentation", "development identity provider, FOR DEMOS ONLY");
    respond(exchange, 200, document);
  }

  private void jwks(HttpExchange exchange) throws IOException {
    if (!"GET".equals(exchange.getRequestMethod())) {
      respond(exchange, 405, Map.of("error", "method_not_allowed"));
      return;
    }
    respond(exchange, 200, new JWKSet(key.toPublicJWK()).toJSONObject(true));
  }

  private void token(HttpExchange exchange) throws IOException {
    if (!"POST".equals(exchange.getRequestMethod())) {
      respond(exchange, 405, Map.of("error", "invalid_request", "error_description", "use POST"));
      return;
    }
    byte[] body;
    try (InputStream in = exchange.getRequestBody()) {
      body = in.readNBytes(MAX_FORM_BYTES + 1);
    }
    if (body.length > MAX_FORM_BYTES) {
      respond(exchange, 413, Map.of("error", "invalid_request", "error_description", "form too large"));
      return;
    }
    Map<String, String> form = parseForm(new String(body, StandardCharsets.UTF_8));
    String subject = form.getOrDefault("subject", "");
    String audience = form.getOrDefault("audience", "");
    DemoUser user = users.get(subject);
    if (user == null || audience.isBlank()) {
      respond(exchange, 400, Map.of("error", "invalid_request", "error_description",
          "give subject (a registered demo user) and audience"));
      return;
    }
    String token = mint(user.subject(), user.displayName(), user.groups(), audience, TOKEN_ENDPOINT_TTL);
    Map<String, Object> response = new LinkedHashMap<>();
    response.put("access_token", token);
    response.put("id_token", token);
    response.put("token_type", "Bearer");
    response.put("expires_in", TOKEN_ENDPOINT_TTL.toSeconds());
    respond(exchange, 200, response);
  }

  private static Map<String, String> parseForm(String body) {
    Map<String, String> form = new HashMap<>();
    for (String pair : body.split("&")) {
      int eq = pair.indexOf('=');
      if (eq <= 0) continue;
      try {
        form.putIfAbsent(URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8),
            URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
      } catch (IllegalArgumentException e) {
        // a malformed escape: the field is ignored and the request refused for lack of it
      }
    }
    return form;
  }

  private static void respond(HttpExchange exchange, int status, Map<String, ?> json) throws IOException {
    byte[] body = JSONObjectUtils.toJSONString(json).getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", "application/json");
    exchange.getResponseHeaders().set("Cache-Control", "no-store");
    exchange.sendResponseHeaders(status, body.length);
    try (var out = exchange.getResponseBody()) {
      out.write(body);
    }
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
    log.warn("{} at {} stopped", DEMO_ONLY, issuer);
  }
}
