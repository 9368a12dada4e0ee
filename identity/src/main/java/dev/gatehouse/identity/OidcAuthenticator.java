package dev.gatehouse.identity;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSVerifier;
import com.nimbusds.jose.crypto.factories.DefaultJWSVerifierFactory;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKMatcher;
import com.nimbusds.jose.jwk.JWKSelector;
import com.nimbusds.jose.jwk.KeyConverter;
import com.nimbusds.jose.util.DefaultResourceRetriever;
import com.nimbusds.jwt.EncryptedJWT;
import com.nimbusds.jwt.JWT;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.JWTParser;
import com.nimbusds.jwt.PlainJWT;
import com.nimbusds.jwt.SignedJWT;
import dev.gatehouse.core.AuthenticationException;
import dev.gatehouse.core.Authenticator;
import dev.gatehouse.core.Principal;
import dev.gatehouse.core.Secret;
import java.io.IOException;
import java.security.Key;
import java.security.PublicKey;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import javax.net.ssl.SSLSocketFactory;

/**
 * Verifies OIDC/JWT tokens from the configured {@link TrustedIssuer}s and turns them into {@link
 * Principal}s.
 *
 * <p>The order of checks, each failure a refusal with a message safe to show the caller (it never
 * contains the token):
 *
 * <ol>
 *   <li>strip whitespace and a {@code Bearer } prefix (people paste tokens); refuse more than {@link
 *       #MAX_TOKEN_LENGTH} bytes before parsing anything;
 *   <li>refuse unsigned ({@code alg: none}) and encrypted tokens;
 *   <li>read the <em>unverified</em> {@code iss} only to choose the configured issuer (several
 *       configured issuers may share one {@code iss} and are then told apart by {@code aud}); from
 *       here on only that issuer's settings and keys are used;
 *   <li>the header's algorithm must be in that issuer's allow-list (never HMAC, so a public key
 *       cannot be abused as a shared secret); a {@code crit} header naming a parameter Gatehouse
 *       does not process is refused (RFC 7515 section 4.1.11);
 *   <li>the signature must verify with a key from that issuer's JWKS whose type, curve, {@code use}
 *       and {@code alg} fit the header; an unknown {@code kid} refreshes the key set once
 *       (rate-limited);
 *   <li>{@code exp} is required, {@code nbf} and {@code iat} are checked, all with the issuer's skew;
 *       each must be a number of seconds from 1970 to the end of year 9999;
 *   <li>required claims, then subject, display name, groups and claim mappings.
 * </ol>
 *
 * <p>Thread-safe; one instance serves every listener. {@link #authenticate} blocks only while an
 * issuer's discovery document or keys are fetched, bounded by the configured timeouts. {@link
 * #close()} releases the background refresh threads.
 */
public final class OidcAuthenticator implements Authenticator, AutoCloseable {
  /** Longest accepted token, in bytes after trimming; longer input is refused before parsing. */
  public static final int MAX_TOKEN_LENGTH = 16 * 1024;

  /**
   * The {@code crit} header parameters the signature verifiers process: only {@code b64} (RFC
   * 7797), handled by Nimbus. Any other one must refuse the token (RFC 7515 section 4.1.11).
   */
  private static final Set<String> PROCESSED_CRITICAL_PARAMETERS = Set.of("b64");

  /** 9999-12-31T23:59:59Z: the latest NumericDate accepted, far beyond any real token's lifetime. */
  private static final long LATEST_NUMERIC_DATE = 253_402_300_799L;

  /**
   * Network and cache settings shared by all issuers.
   *
   * @param connectTimeout TCP connect timeout towards a provider
   * @param readTimeout read timeout towards a provider (discovery and JWKS)
   * @param keyCacheLifetime how long a fetched key set is used before it is fetched again
   * @param keyRefreshInterval at most two key-set fetches per issuer happen within this interval,
   *     whatever tokens arrive
   * @param discoveryRetryInterval after a failed discovery, logins fail fast for this long
   * @param socketFactory TLS towards providers with a private CA; empty = the JDK's trust store
   * @param clock the time tokens are checked against
   */
  public record Options(
      Duration connectTimeout,
      Duration readTimeout,
      Duration keyCacheLifetime,
      Duration keyRefreshInterval,
      Duration discoveryRetryInterval,
      Optional<SSLSocketFactory> socketFactory,
      Clock clock) {
    public Options {
      Objects.requireNonNull(connectTimeout, "connectTimeout == null");
      Objects.requireNonNull(readTimeout, "readTimeout == null");
      Objects.requireNonNull(keyCacheLifetime, "keyCacheLifetime == null");
      Objects.requireNonNull(keyRefreshInterval, "keyRefreshInterval == null");
      Objects.requireNonNull(discoveryRetryInterval, "discoveryRetryInterval == null");
      Objects.requireNonNull(socketFactory, "socketFactory == null");
      Objects.requireNonNull(clock, "clock == null");
      if (connectTimeout.isNegative() || connectTimeout.isZero()) throw new IdentityException("connectTimeout <= 0");
      if (readTimeout.isNegative() || readTimeout.isZero()) throw new IdentityException("readTimeout <= 0");
      if (keyCacheLifetime.compareTo(Duration.ofMinutes(1)) < 0) throw new IdentityException("keyCacheLifetime < 1 minute");
      if (keyRefreshInterval.isNegative()) throw new IdentityException("keyRefreshInterval < 0");
      if (discoveryRetryInterval.isNegative()) throw new IdentityException("discoveryRetryInterval < 0");
    }

    /** 2 s connect, 3 s read, keys cached 5 minutes, at most 2 fetches per 30 s, 5 s fail-fast after a failed discovery. */
    public static Options defaults() {
      return new Options(Duration.ofSeconds(2), Duration.ofSeconds(3), Duration.ofMinutes(5),
          Duration.ofSeconds(30), Duration.ofSeconds(5), Optional.empty(), Clock.systemUTC());
    }

    public Options withTimeouts(Duration connect, Duration read) {
      return new Options(connect, read, keyCacheLifetime, keyRefreshInterval, discoveryRetryInterval, socketFactory, clock);
    }

    public Options withClock(Clock value) {
      return new Options(connectTimeout, readTimeout, keyCacheLifetime, keyRefreshInterval, discoveryRetryInterval, socketFactory, value);
    }

    public Options withSocketFactory(SSLSocketFactory factory) {
      return new Options(connectTimeout, readTimeout, keyCacheLifetime, keyRefreshInterval, discoveryRetryInterval,
          Optional.of(factory), clock);
    }
  }

  private record Candidate(TrustedIssuer config, IssuerKeys keys) {}

  private final Map<String, List<Candidate>> byIssuer;
  private final List<IssuerKeys> allKeys = new ArrayList<>();
  private final ExecutorService refreshExecutor = Executors.newVirtualThreadPerTaskExecutor();
  private final Clock clock;

  /** With {@link Options#defaults()}. */
  public OidcAuthenticator(List<TrustedIssuer> issuers) {
    this(issuers, Options.defaults());
  }

  /**
   * @throws IdentityException when {@code issuers} is empty, two share a name, or two share an
   *     {@code iss} with overlapping audiences (their tokens could not be told apart)
   */
  public OidcAuthenticator(List<TrustedIssuer> issuers, Options options) {
    Objects.requireNonNull(options, "options == null");
    if (issuers.isEmpty()) throw new IdentityException("no trusted issuer is configured");
    this.clock = options.clock();
    DefaultResourceRetriever retriever = new DefaultResourceRetriever(
        (int) options.connectTimeout().toMillis(), (int) options.readTimeout().toMillis(),
        512 * 1024, false, options.socketFactory().orElse(null));
    Set<String> names = new HashSet<>();
    Map<String, List<Candidate>> grouped = new LinkedHashMap<>();
    for (TrustedIssuer issuer : issuers) {
      if (!names.add(issuer.name())) throw new IdentityException("trusted issuer name '" + issuer.name() + "' is used twice");
      List<Candidate> sameIss = grouped.computeIfAbsent(issuer.issuer().toString(), k -> new ArrayList<>());
      for (Candidate other : sameIss) {
        Set<String> shared = new TreeSet<>(other.config().audiences());
        shared.retainAll(issuer.audiences());
        if (!shared.isEmpty()) {
          throw new IdentityException("trusted issuers '" + other.config().name() + "' and '" + issuer.name()
              + "' have the same issuer " + issuer.issuer() + " and share audiences " + shared
              + "; their tokens could not be told apart");
        }
      }
      IssuerKeys keys = new IssuerKeys(issuer, retriever, options, refreshExecutor);
      allKeys.add(keys);
      sameIss.add(new Candidate(issuer, keys));
    }
    grouped.replaceAll((k, v) -> List.copyOf(v));
    this.byIssuer = Map.copyOf(grouped);
  }

  @Override
  public Principal authenticate(Secret token) {
    Objects.requireNonNull(token, "token == null");
    SignedJWT jwt = parse(token);
    JWTClaimsSet unverified = claims(jwt);
    Candidate candidate = select(unverified);
    TrustedIssuer issuer = candidate.config();
    JWSHeader header = jwt.getHeader();
    String algorithm = header.getAlgorithm().getName();
    if (!issuer.algorithms().contains(algorithm)) {
      throw new AuthenticationException("algorithm " + printable(algorithm) + " not accepted for issuer '"
          + issuer.name() + "' (accepted: " + String.join(", ", new TreeSet<>(issuer.algorithms())) + ")");
    }
    checkCriticalParameters(header);
    verifySignature(jwt, candidate);
    // The claims are trusted from here on: the signature covered them.
    return principal(issuer, unverified, jwt.getPayload().toJSONObject());
  }

  /**
   * Refused here rather than left to the verifier, which would refuse the same token with "token
   * signature is not valid" and so send people looking for a key problem.
   */
  private static void checkCriticalParameters(JWSHeader header) {
    Set<String> critical = header.getCriticalParams();
    if (critical == null) return;
    Set<String> unknown = new TreeSet<>(critical);
    unknown.removeAll(PROCESSED_CRITICAL_PARAMETERS);
    if (!unknown.isEmpty()) {
      throw new AuthenticationException("token header has critical parameters Gatehouse does not understand: "
          + printable(String.join(", ", unknown)));
    }
  }

  private static SignedJWT parse(Secret secret) {
    if (secret.length() > MAX_TOKEN_LENGTH + 1024) {
      throw new AuthenticationException("token longer than " + MAX_TOKEN_LENGTH + " bytes refused");
    }
    String token = secret.reveal().strip();
    if (token.regionMatches(true, 0, "Bearer ", 0, 7)) token = token.substring(7).strip();
    if (token.isEmpty()) throw new AuthenticationException("no token given (expected an OIDC token as the password)");
    if (token.length() > MAX_TOKEN_LENGTH) {
      throw new AuthenticationException("token longer than " + MAX_TOKEN_LENGTH + " bytes refused");
    }
    JWT jwt;
    try {
      jwt = JWTParser.parse(token);
    } catch (ParseException e) {
      throw new AuthenticationException("token is not a JWT (expected an OIDC ID or access token)");
    }
    return switch (jwt) {
      case SignedJWT signed -> signed;
      case PlainJWT plain -> throw new AuthenticationException("unsigned token (alg none) refused");
      case EncryptedJWT encrypted -> throw new AuthenticationException("encrypted tokens are not accepted; present a signed token");
      default -> throw new AuthenticationException("token is not a signed JWT");
    };
  }

  private static JWTClaimsSet claims(SignedJWT jwt) {
    try {
      return jwt.getJWTClaimsSet();
    } catch (ParseException e) {
      throw new AuthenticationException("token claims are malformed (" + e.getMessage() + ")");
    }
  }

  private Candidate select(JWTClaimsSet unverified) {
    String iss = unverified.getIssuer();
    if (iss == null) throw new AuthenticationException("token has no issuer (iss)");
    List<Candidate> candidates = byIssuer.get(iss);
    if (candidates == null) throw new AuthenticationException("issuer not trusted: " + printable(iss));
    List<String> audience = Optional.ofNullable(unverified.getAudience()).orElse(List.of());
    for (Candidate candidate : candidates) {
      for (String aud : audience) {
        if (candidate.config().audiences().contains(aud)) return candidate;
      }
    }
    Set<String> accepted = new TreeSet<>();
    candidates.forEach(c -> accepted.addAll(c.config().audiences()));
    throw new AuthenticationException("audience not accepted: the token is for "
        + printable(audience.toString()) + ", Gatehouse accepts " + accepted + " from this issuer");
  }

  private static void verifySignature(SignedJWT jwt, Candidate candidate) {
    JWSHeader header = jwt.getHeader();
    String keyDescription = header.getKeyID() == null
        ? "for " + header.getAlgorithm().getName()
        : "with kid '" + printable(header.getKeyID()) + "'";
    List<JWK> keys = candidate.keys().select(new JWKSelector(JWKMatcher.forJWSHeader(header)), keyDescription);
    if (keys.isEmpty()) {
      throw new AuthenticationException("no signing key " + keyDescription + " at identity provider '"
          + candidate.config().name() + "'");
    }
    DefaultJWSVerifierFactory factory = new DefaultJWSVerifierFactory();
    for (Key key : KeyConverter.toJavaKeys(keys)) {
      if (!(key instanceof PublicKey publicKey)) continue;
      try {
        JWSVerifier verifier = factory.createJWSVerifier(header, publicKey);
        if (jwt.verify(verifier)) return;
      } catch (JOSEException | IllegalStateException e) {
        // a key that does not fit this algorithm: try the next one
      }
    }
    throw new AuthenticationException("token signature is not valid for identity provider '" + candidate.config().name() + "'");
  }

  /**
   * @param verified the claims as Nimbus parsed them
   * @param payload the same claims as plain JSON values, for the times (see {@link #numericDate})
   */
  private Principal principal(TrustedIssuer issuer, JWTClaimsSet verified, Map<String, Object> payload) {
    Instant now = clock.instant();
    Duration skew = issuer.clockSkew();
    Instant exp = numericDate(payload, "exp")
        .orElseThrow(() -> new AuthenticationException("token has no expiry (exp); tokens without one are not accepted"));
    Optional<Instant> nbf = numericDate(payload, "nbf");
    Optional<Instant> iat = numericDate(payload, "iat");
    if (now.isAfter(exp.plus(skew))) {
      throw new AuthenticationException("token expired at " + exp);
    }
    if (nbf.isPresent() && now.plus(skew).isBefore(nbf.get())) {
      throw new AuthenticationException("token not valid before " + nbf.get());
    }
    if (iat.isPresent() && now.plus(skew).isBefore(iat.get())) {
      throw new AuthenticationException("token issued in the future (iat " + iat.get() + "); check the clocks");
    }
    Map<String, Object> claims = verified.getClaims();
    for (var required : issuer.requiredClaims().entrySet()) {
      if (!ClaimPath.hasValue(claims, required.getKey(), required.getValue())) {
        throw new AuthenticationException("claim '" + required.getKey() + "' must be '" + required.getValue()
            + "' for issuer '" + issuer.name() + "'");
      }
    }
    String subject = issuer.subjectTemplate().render(claims);
    String displayName = ClaimPath.scalar(claims, issuer.displayNameClaim()).filter(s -> !s.isBlank()).orElse(subject);
    Set<String> groups = new LinkedHashSet<>(groups(claims, issuer));
    for (ClaimMapping mapping : issuer.groupMappings()) {
      if (mapping.matches(claims)) groups.add(mapping.group());
    }
    return new Principal(subject, displayName, groups, issuer.kind(), issuer.name(), ClaimValues.freeze(claims), exp);
  }

  /**
   * A NumericDate claim (RFC 7519 section 2) read from the JSON number itself, not from Nimbus's
   * {@code Date}: Nimbus multiplies the number's {@code long} value by 1000, which wraps around for
   * huge values ({@code exp: 1e20} became 1969-12-31T23:59:59Z, and a huge {@code nbf} was not
   * checked at all). Out of range is refused, never clamped. Fractions of a second are dropped, as
   * Nimbus does.
   */
  private static Optional<Instant> numericDate(Map<String, Object> payload, String claim) {
    Object value = payload.get(claim);
    if (value == null) return Optional.empty();
    if (!(value instanceof Number number)) {
      throw new AuthenticationException("token " + claim + " claim is not a number of seconds");
    }
    double seconds = number.doubleValue();
    if (!(seconds >= 0 && seconds <= LATEST_NUMERIC_DATE)) {
      throw new AuthenticationException("token " + claim
          + " claim is out of range (expected seconds since 1970, at most the end of year 9999)");
    }
    return Optional.of(Instant.ofEpochSecond((long) seconds));
  }

  /**
   * Groups from the configured claim: a list of strings or one string. Any other shape refuses the
   * token: dropping groups silently could bypass a deny rule written for one of them.
   */
  private static List<String> groups(Map<String, Object> claims, TrustedIssuer issuer) {
    Optional<Object> value = ClaimPath.find(claims, issuer.groupsClaim());
    if (value.isEmpty()) return List.of();
    return switch (value.get()) {
      case String single -> List.of(single);
      case Collection<?> list -> {
        List<String> groups = new ArrayList<>();
        for (Object element : list) {
          if (!(element instanceof String group)) {
            throw new AuthenticationException("claim '" + issuer.groupsClaim() + "' is not a list of strings");
          }
          groups.add(group);
        }
        yield groups;
      }
      default -> throw new AuthenticationException("claim '" + issuer.groupsClaim() + "' is not a list of strings");
    };
  }

  /** Attacker-chosen text shown in a message: bounded and free of control characters (log injection). */
  static String printable(String text) {
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < text.length() && out.length() < 120; i++) {
      char c = text.charAt(i);
      out.append(Character.isISOControl(c) || Character.getType(c) == Character.FORMAT ? '?' : c);
    }
    if (text.length() > 120) out.append('…');
    return out.toString();
  }

  @Override
  public void close() {
    for (IssuerKeys keys : allKeys) {
      try {
        keys.close();
      } catch (IOException e) {
        // closing caches releases memory only; nothing to report
      }
    }
    refreshExecutor.shutdownNow();
  }
}
