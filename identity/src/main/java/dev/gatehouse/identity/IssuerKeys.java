package dev.gatehouse.identity;

import com.nimbusds.jose.KeySourceException;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSelector;
import com.nimbusds.jose.jwk.source.JWKSource;
import com.nimbusds.jose.jwk.source.JWKSourceBuilder;
import com.nimbusds.jose.jwk.source.RateLimitReachedException;
import com.nimbusds.jose.proc.SecurityContext;
import com.nimbusds.jose.util.JSONObjectUtils;
import com.nimbusds.jose.util.ResourceRetriever;
import dev.gatehouse.core.AuthenticationException;
import java.io.Closeable;
import java.io.IOException;
import java.net.MalformedURLException;
import java.net.URI;
import java.net.URL;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The signing keys of one trusted issuer: found lazily (OIDC discovery unless a JWKS URL is
 * configured), then cached, refreshed ahead of expiry and on an unknown {@code kid}, with refreshes
 * rate-limited so that tokens with random key ids cannot make Gatehouse hammer the provider.
 *
 * <p>A failed discovery is remembered for {@code retryAfter}: logins during an outage fail fast
 * with the same message instead of queueing behind timeouts.
 *
 * <p>Thread-safe. Discovery runs under a {@link ReentrantLock} (not a monitor, so a virtual thread
 * waiting on the network does not pin its carrier).
 */
final class IssuerKeys implements Closeable {
  private static final Logger log = LoggerFactory.getLogger(IssuerKeys.class);

  private final TrustedIssuer issuer;
  private final ResourceRetriever retriever;
  private final OidcAuthenticator.Options options;
  private final ExecutorService refreshExecutor;
  private final ReentrantLock lock = new ReentrantLock();
  private volatile JWKSource<SecurityContext> source;
  private Instant failedAt = Instant.MIN;
  private String failure = "";

  IssuerKeys(TrustedIssuer issuer, ResourceRetriever retriever, OidcAuthenticator.Options options, ExecutorService refreshExecutor) {
    this.issuer = issuer;
    this.retriever = retriever;
    this.options = options;
    this.refreshExecutor = refreshExecutor;
  }

  /**
   * The keys matching {@code selector}, refreshing once when none match.
   *
   * @throws AuthenticationException when the provider cannot be reached or a refresh was refused by
   *     the rate limit (the message says which)
   */
  List<JWK> select(JWKSelector selector, String keyDescription) {
    JWKSource<SecurityContext> keys = source();
    try {
      return keys.get(selector, null);
    } catch (RateLimitReachedException e) {
      throw new AuthenticationException("no signing key " + keyDescription + " at identity provider '"
          + issuer.name() + "' (its key set was refreshed moments ago; try again shortly)");
    } catch (KeySourceException e) {
      throw new AuthenticationException("identity provider '" + issuer.name() + "' unreachable: cannot fetch its keys ("
          + rootMessage(e) + ")", e);
    }
  }

  private JWKSource<SecurityContext> source() {
    JWKSource<SecurityContext> current = source;
    if (current != null) return current;
    lock.lock();
    try {
      if (source != null) return source;
      Clock clock = options.clock();
      if (Duration.between(failedAt, clock.instant()).compareTo(options.discoveryRetryInterval()) < 0) {
        throw new AuthenticationException(failure);
      }
      try {
        URI jwks = issuer.jwksUri().orElseGet(this::discover);
        source = build(jwks);
        log.info("identity provider '{}': signing keys from {}", issuer.name(), jwks);
        return source;
      } catch (AuthenticationException e) {
        failedAt = clock.instant();
        failure = e.getMessage();
        log.warn("identity provider '{}': {}", issuer.name(), e.getMessage());
        throw e;
      }
    } finally {
      lock.unlock();
    }
  }

  /** OpenID Connect Discovery 1.0: fetch the document, check it is this issuer's, take {@code jwks_uri}. */
  private URI discover() {
    URI location = issuer.discoveryUri();
    Map<String, Object> document;
    try {
      String content = retriever.retrieveResource(location.toURL()).getContent();
      document = JSONObjectUtils.parse(content);
    } catch (IOException e) {
      throw new AuthenticationException("identity provider '" + issuer.name() + "' unreachable: discovery at "
          + location + " failed (" + rootMessage(e) + ")", e);
    } catch (ParseException e) {
      throw new AuthenticationException("identity provider '" + issuer.name() + "': discovery document at "
          + location + " is not valid JSON", e);
    }
    Object declared = document.get("issuer");
    // Section 4.3: the document must name exactly the issuer it was fetched for, or keys of another
    // issuer could be passed off as this one's.
    if (!issuer.issuer().toString().equals(declared)) {
      throw new AuthenticationException("identity provider '" + issuer.name() + "': discovery document at "
          + location + " names issuer " + declared + ", not " + issuer.issuer());
    }
    if (!(document.get("jwks_uri") instanceof String jwks)) {
      throw new AuthenticationException("identity provider '" + issuer.name() + "': discovery document at "
          + location + " has no jwks_uri");
    }
    URI uri;
    try {
      uri = URI.create(jwks);
      TrustedIssuer.checkUrl("jwks_uri", uri);
    } catch (IllegalArgumentException | IdentityException e) {
      throw new AuthenticationException("identity provider '" + issuer.name() + "': discovery document at "
          + location + " has an unusable jwks_uri: " + e.getMessage());
    }
    return uri;
  }

  private JWKSource<SecurityContext> build(URI jwks) {
    URL url;
    try {
      url = jwks.toURL();
    } catch (MalformedURLException e) {
      throw new AuthenticationException("identity provider '" + issuer.name() + "': jwks_uri " + jwks + " is not a URL");
    }
    long refreshTimeout = options.connectTimeout().plus(options.readTimeout()).toMillis();
    return JWKSourceBuilder.<SecurityContext>create(url, retriever)
        .cache(options.keyCacheLifetime().toMillis(), refreshTimeout)
        // Refresh ahead on the shared executor (virtual threads, so nothing keeps the JVM alive);
        // not scheduled: an idle gateway does not poll providers.
        .refreshAheadCache(Math.min(30_000, options.keyCacheLifetime().toMillis() / 4), null, refreshExecutor, false, null, false)
        .rateLimited(options.keyRefreshInterval().toMillis())
        .retrying(false)
        .outageTolerant(false)
        .build();
  }

  @Override
  public void close() throws IOException {
    if (source instanceof Closeable closeable) closeable.close();
  }

  private static String rootMessage(Throwable e) {
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) root = root.getCause();
    String message = root.getMessage();
    return root.getClass().getSimpleName() + (message == null ? "" : ": " + message);
  }
}
