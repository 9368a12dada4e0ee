package dev.gatehouse.testkit;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.PlainHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.PlainJWT;
import com.nimbusds.jwt.SignedJWT;
import java.net.InetAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import no.nav.security.mock.oauth2.MockOAuth2Server;
import no.nav.security.mock.oauth2.OAuth2Config;
import no.nav.security.mock.oauth2.token.KeyProvider;
import no.nav.security.mock.oauth2.token.OAuth2TokenProvider;

/**
 * A real OpenID Connect provider served over HTTP on loopback (mock-oauth2-server): discovery at
 * {@code <issuer>/.well-known/openid-configuration}, a JWKS endpoint and a token endpoint for any
 * number of issuers, each named by an {@code issuerId} path segment and each with its own RS256 key.
 *
 * <p>Besides ordinary tokens it can {@linkplain #rotateKey rotate an issuer's key} (the JWKS then
 * publishes only the new key) and mint {@linkplain #forgedToken forged tokens} that a verifier must
 * refuse. Keys are generated per fixture; nothing is read from disk. For tests and demos only.
 *
 * <p>Lifecycle: {@link #start()} binds a free port on 127.0.0.1; {@link #close()} stops it.
 * Thread-safe.
 */
public final class OidcFixture implements AutoCloseable {
  private static final Pattern ISSUER_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

  /** Ways a token can be wrong in its signature, each of which a verifier must refuse. */
  public enum Forgery {
    /** {@code alg: none}, no signature at all. */
    ALG_NONE,
    /** Signed with a key the issuer never published (its {@code kid} is unknown to the JWKS). */
    UNKNOWN_KEY,
    /**
     * HS256 with the issuer's public RSA key (its PEM text) as the HMAC secret, carrying the
     * issuer's real {@code kid}: the algorithm-confusion attack.
     */
    HMAC_WITH_PUBLIC_KEY
  }

  private final MockOAuth2Server server;
  private final RotatingKeys keys;

  private OidcFixture(MockOAuth2Server server, RotatingKeys keys) {
    this.server = server;
    this.keys = keys;
  }

  /** Starts a provider on a free loopback port. The caller closes it. */
  public static OidcFixture start() {
    RotatingKeys keys = new RotatingKeys();
    MockOAuth2Server server = new MockOAuth2Server(new OAuth2Config(false, null, null, false, new OAuth2TokenProvider(keys)));
    try {
      server.start(InetAddress.getLoopbackAddress(), 0);
    } catch (RuntimeException e) {
      throw new TestkitException("could not start the OIDC provider: " + e.getMessage(), e);
    }
    return new OidcFixture(server, keys);
  }

  /** The issuer URL (the {@code iss} claim and the base of discovery), e.g. {@code http://127.0.0.1:41234/corp}. */
  public URI issuer(String issuerId) {
    checkIssuerId(issuerId);
    return loopback(server.issuerUrl(issuerId));
  }

  /** The discovery document's URL for an issuer. */
  public URI discovery(String issuerId) {
    checkIssuerId(issuerId);
    return loopback(server.wellKnownUrl(issuerId));
  }

  /** The JWKS URL for an issuer. */
  public URI jwks(String issuerId) {
    checkIssuerId(issuerId);
    return loopback(server.jwksUrl(issuerId));
  }

  /**
   * A token signed by the issuer's current key, as the issuer's token endpoint would issue it.
   *
   * @param claims extra claims ({@code groups}, {@code email}, ...); {@code nbf}, {@code iat} or
   *     {@code exp} given here (as epoch seconds) replace the computed ones
   * @param ttl lifetime from now; negative for an already expired token
   * @return the compact serialization (the value a client sends as its password)
   */
  public String token(String issuerId, String subject, String audience, Map<String, Object> claims, Duration ttl) {
    checkIssuerId(issuerId);
    JWTClaimsSet set = claims(issuerId, subject, audience, claims, ttl);
    return sign(set, keys.signingKey(issuerId));
  }

  /** A token with the right issuer, audience and lifetime whose signature is forged as named. */
  public String forgedToken(
      Forgery forgery, String issuerId, String subject, String audience, Map<String, Object> claims, Duration ttl) {
    Objects.requireNonNull(forgery, "forgery == null");
    checkIssuerId(issuerId);
    JWTClaimsSet set = claims(issuerId, subject, audience, claims, ttl);
    try {
      return switch (forgery) {
        case ALG_NONE -> new PlainJWT(new PlainHeader.Builder().type(JOSEObjectType.JWT).build(), set).serialize();
        case UNKNOWN_KEY -> sign(set, generateKey());
        case HMAC_WITH_PUBLIC_KEY -> {
          RSAKey published = keys.signingKey(issuerId).toPublicJWK();
          String pem = "-----BEGIN PUBLIC KEY-----\n"
              + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
                  .encodeToString(published.toRSAPublicKey().getEncoded())
              + "\n-----END PUBLIC KEY-----\n";
          SignedJWT jwt = new SignedJWT(
              new JWSHeader.Builder(JWSAlgorithm.HS256).keyID(published.getKeyID()).type(JOSEObjectType.JWT).build(), set);
          jwt.sign(new MACSigner(pem.getBytes(StandardCharsets.US_ASCII)));
          yield jwt.serialize();
        }
      };
    } catch (JOSEException e) {
      throw new TestkitException("could not forge a " + forgery + " token: " + e.getMessage(), e);
    }
  }

  /**
   * Replaces the issuer's signing key by a new one with a new {@code kid}. From now on tokens are
   * signed with the new key and the JWKS publishes only it, so tokens signed before no longer
   * verify (as after a provider's rotation once the old key is retired).
   *
   * @return the new key's {@code kid}
   */
  public String rotateKey(String issuerId) {
    checkIssuerId(issuerId);
    return keys.rotate(issuerId);
  }

  /** The {@code kid} the issuer signs with now. */
  public String currentKeyId(String issuerId) {
    checkIssuerId(issuerId);
    return keys.signingKey(issuerId).getKeyID();
  }

  @Override
  public void close() {
    try {
      server.shutdown();
    } catch (RuntimeException e) {
      throw new TestkitException("could not stop the OIDC provider: " + e.getMessage(), e);
    }
  }

  @Override
  public String toString() {
    return "OidcFixture[" + server.baseUrl() + "]";
  }

  private JWTClaimsSet claims(String issuerId, String subject, String audience, Map<String, Object> claims, Duration ttl) {
    Objects.requireNonNull(subject, "subject == null");
    Objects.requireNonNull(audience, "audience == null");
    Objects.requireNonNull(claims, "claims == null");
    Objects.requireNonNull(ttl, "ttl == null");
    Instant now = Instant.now();
    JWTClaimsSet.Builder b = new JWTClaimsSet.Builder()
        .issuer(issuer(issuerId).toString())
        .subject(subject)
        .audience(audience)
        .issueTime(Date.from(now))
        .notBeforeTime(Date.from(now))
        .expirationTime(Date.from(now.plus(ttl)))
        .jwtID(UUID.randomUUID().toString());
    claims.forEach((name, value) -> b.claim(name, switch (name) {
      // Registered time claims are numbers of seconds; nimbus wants Dates for them.
      case "nbf", "iat", "exp" -> value instanceof Number n ? new Date(n.longValue() * 1000)
          : value instanceof Instant i ? Date.from(i) : value;
      default -> value;
    }));
    return b.build();
  }

  private static String sign(JWTClaimsSet set, RSAKey key) {
    SignedJWT jwt = new SignedJWT(
        new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(key.getKeyID()).type(JOSEObjectType.JWT).build(), set);
    try {
      jwt.sign(new RSASSASigner(key));
    } catch (JOSEException e) {
      throw new TestkitException("could not sign a token: " + e.getMessage(), e);
    }
    return jwt.serialize();
  }

  private static RSAKey generateKey() {
    try {
      return new RSAKeyGenerator(2048).keyUse(KeyUse.SIGNATURE).algorithm(JWSAlgorithm.RS256)
          .keyID(UUID.randomUUID().toString()).generate();
    } catch (JOSEException e) {
      throw new TestkitException("could not generate an RSA key: " + e.getMessage(), e);
    }
  }

  /**
   * The mock names itself {@code localhost}, which some clients resolve to ::1 where nothing
   * listens; the IP literal it is bound to is unambiguous. It derives the issuer of discovery
   * documents and token-endpoint tokens from the request's Host, so fetching these URLs keeps
   * everything on the same name.
   */
  private static URI loopback(okhttp3.HttpUrl url) {
    return URI.create(url.newBuilder().host("127.0.0.1").build().toString());
  }

  private static void checkIssuerId(String issuerId) {
    Objects.requireNonNull(issuerId, "issuerId == null");
    if (!ISSUER_ID.matcher(issuerId).matches()) {
      throw new IllegalArgumentException("issuerId \"" + issuerId + "\" does not match " + ISSUER_ID.pattern());
    }
  }

  /**
   * One current RSA key per issuer, generated on first use and replaced on rotation. The mock
   * server asks {@link #signingKey} both to sign what its token endpoint issues and to build the
   * issuer's JWKS, so both always agree.
   */
  private static final class RotatingKeys extends KeyProvider {
    private final Map<String, RSAKey> current = new ConcurrentHashMap<>();

    RotatingKeys() {
      super(java.util.List.of(), JWSAlgorithm.RS256.getName());
    }

    @Override
    public RSAKey signingKey(String issuerId) {
      return current.computeIfAbsent(issuerId, id -> generateKey());
    }

    String rotate(String issuerId) {
      RSAKey next = generateKey();
      current.put(issuerId, next);
      return next.getKeyID();
    }
  }
}
