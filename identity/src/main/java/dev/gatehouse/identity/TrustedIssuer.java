package dev.gatehouse.identity;

import dev.gatehouse.core.Principal;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * One identity provider Gatehouse trusts, and how its tokens become a {@link Principal}. People's
 * provider (Okta, Entra ID, Keycloak, Dex…) and machine issuers (GitHub Actions, GitLab, Kubernetes
 * service accounts) are both just trusted issuers, each with its own audience and claim mapping.
 *
 * <p>A plain record so the server module can bind it from YAML; {@link #builder(String, URI)} fills
 * in the defaults. The canonical constructor checks everything that can be checked without the
 * network and throws {@link IdentityException} naming the issuer and the setting.
 *
 * @param name the configured name, recorded as {@link Principal#issuer()} and in audit events;
 *     letters, digits, {@code .}, {@code _} and {@code -}
 * @param issuer the exact {@code iss} value of its tokens; {@code https}, or {@code http} only on a
 *     loopback host
 * @param audiences accepted {@code aud} values (a token must carry at least one); not empty
 * @param jwksUri where its keys are; when empty, taken from OIDC discovery at {@code
 *     issuer/.well-known/openid-configuration}
 * @param algorithms the accepted JWS algorithms, asymmetric only ({@link #ACCEPTABLE_ALGORITHMS}):
 *     {@code none} and {@code HS*} are refused here, so a public key can never serve as an HMAC secret
 * @param kind human or machine
 * @param subjectClaim the claim holding the subject ({@code sub}), or a template combining claims for
 *     machines ({@code repo:{repository}:ref:{ref}})
 * @param displayNameClaim the claim shown in logs and audit ({@code preferred_username}, {@code
 *     email}); the subject is used when the token lacks it
 * @param groupsClaim the claim holding the groups (a list of strings or one string; a dotted path
 *     reaches into nested objects); a token without it has no groups from it
 * @param groupMappings further groups from claim values (for machines, which have no groups claim)
 * @param requiredClaims claims that must have exactly these values (for CI tokens, {@code
 *     repository_owner: acme} refuses forks)
 * @param clockSkew tolerance for {@code exp}, {@code nbf} and {@code iat}; at most {@link
 *     #MAX_CLOCK_SKEW}
 */
public record TrustedIssuer(
    String name,
    URI issuer,
    Set<String> audiences,
    Optional<URI> jwksUri,
    Set<String> algorithms,
    Principal.Kind kind,
    String subjectClaim,
    String displayNameClaim,
    String groupsClaim,
    List<ClaimMapping> groupMappings,
    Map<String, String> requiredClaims,
    Duration clockSkew) {

  /** Signature algorithms that may appear in {@link #algorithms()}: RSA, RSA-PSS and ECDSA. */
  public static final Set<String> ACCEPTABLE_ALGORITHMS =
      Set.of("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512");

  public static final Set<String> DEFAULT_ALGORITHMS = Set.of("RS256", "ES256");
  public static final Duration DEFAULT_CLOCK_SKEW = Duration.ofSeconds(60);
  public static final Duration MAX_CLOCK_SKEW = Duration.ofMinutes(5);

  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._-]{1,64}");

  public TrustedIssuer {
    if (name == null) throw new IdentityException("trusted issuer without a name");
    if (!NAME.matcher(name).matches()) {
      throw new IdentityException("trusted issuer '" + name + "': the name must be 1-64 letters, digits, '.', '_' or '-'");
    }
    String where = "trusted issuer '" + name + "': ";
    required(issuer, where, "issuer");
    checkUrl(where + "issuer", issuer);
    required(audiences, where, "audiences");
    if (audiences.isEmpty()) throw new IdentityException(where + "audiences is empty; list the aud values its tokens carry for Gatehouse");
    for (String audience : audiences) {
      if (audience == null || audience.isBlank()) throw new IdentityException(where + "audiences contains a blank value");
    }
    audiences = Set.copyOf(audiences);
    required(jwksUri, where, "jwksUri");
    jwksUri.ifPresent(uri -> checkUrl(where + "jwksUri", uri));
    required(algorithms, where, "algorithms");
    if (algorithms.isEmpty()) throw new IdentityException(where + "algorithms is empty");
    for (String algorithm : algorithms) {
      if (algorithm == null) throw new IdentityException(where + "algorithms contains null");
      String upper = algorithm.toUpperCase(Locale.ROOT);
      if (upper.equals("NONE") || upper.startsWith("HS")) {
        throw new IdentityException(where + "algorithm " + algorithm + " is never accepted: unsigned and"
            + " symmetric (HMAC) tokens could be forged by anyone who knows the provider's public key");
      }
      if (!ACCEPTABLE_ALGORITHMS.contains(algorithm)) {
        throw new IdentityException(where + "algorithm " + algorithm + " is not supported; use some of "
            + new java.util.TreeSet<>(ACCEPTABLE_ALGORITHMS));
      }
    }
    algorithms = Set.copyOf(algorithms);
    required(kind, where, "kind");
    required(subjectClaim, where, "subjectClaim");
    try {
      SubjectTemplate.parse(subjectClaim);
    } catch (IllegalArgumentException e) {
      throw new IdentityException(where + "subjectClaim '" + subjectClaim + "' " + e.getMessage());
    }
    required(displayNameClaim, where, "displayNameClaim");
    if (displayNameClaim.isBlank()) throw new IdentityException(where + "displayNameClaim is blank");
    required(groupsClaim, where, "groupsClaim");
    if (groupsClaim.isBlank()) throw new IdentityException(where + "groupsClaim is blank");
    required(groupMappings, where, "groupMappings");
    groupMappings = List.copyOf(groupMappings);
    required(requiredClaims, where, "requiredClaims");
    for (var entry : requiredClaims.entrySet()) {
      if (entry.getKey() == null || entry.getKey().isBlank() || entry.getValue() == null) {
        throw new IdentityException(where + "requiredClaims has a blank claim name or a missing value");
      }
    }
    requiredClaims = Map.copyOf(requiredClaims);
    required(clockSkew, where, "clockSkew");
    if (clockSkew.isNegative() || clockSkew.compareTo(MAX_CLOCK_SKEW) > 0) {
      throw new IdentityException(where + "clockSkew " + clockSkew + " is outside 0 to " + MAX_CLOCK_SKEW
          + "; a larger skew would accept tokens long after they expired");
    }
  }

  private static void required(Object value, String where, String setting) {
    if (value == null) throw new IdentityException(where + setting + " is missing");
  }

  /** A builder with the defaults: RS256 and ES256, human, {@code sub}, {@code preferred_username}, {@code groups}, 60 s. */
  public static Builder builder(String name, URI issuer) {
    return new Builder(name, issuer);
  }

  /** The URL of the OIDC discovery document (OpenID Connect Discovery 1.0, section 4). */
  public URI discoveryUri() {
    String base = issuer.toString();
    if (base.endsWith("/")) base = base.substring(0, base.length() - 1);
    return URI.create(base + "/.well-known/openid-configuration");
  }

  SubjectTemplate subjectTemplate() {
    return SubjectTemplate.parse(subjectClaim);
  }

  /**
   * {@code https}, or {@code http} on a loopback host (the development issuer, test providers):
   * keys fetched in clear over a network could be swapped by anyone on the path.
   */
  static void checkUrl(String what, URI uri) {
    if (!uri.isAbsolute() || uri.getHost() == null) {
      throw new IdentityException(what + " " + uri + " is not an absolute URL");
    }
    if (uri.getRawFragment() != null || uri.getRawQuery() != null) {
      throw new IdentityException(what + " " + uri + " must not have a query or fragment");
    }
    String scheme = uri.getScheme().toLowerCase(Locale.ROOT);
    if (scheme.equals("https")) return;
    if (scheme.equals("http") && isLoopback(uri.getHost())) return;
    throw new IdentityException(what + " " + uri + " must use https (http is accepted only on a loopback address)");
  }

  static boolean isLoopback(String host) {
    String bare = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    if (bare.equalsIgnoreCase("localhost")) return true;
    // Only IP literals are resolved (no DNS lookup for names other than localhost).
    if (!bare.matches("[0-9.]+") && !bare.contains(":")) return false;
    try {
      return InetAddress.getByName(bare).isLoopbackAddress();
    } catch (UnknownHostException e) {
      return false;
    }
  }

  /** Builds a {@link TrustedIssuer}; not thread-safe. */
  public static final class Builder {
    private final String name;
    private final URI issuer;
    private final Set<String> audiences = new LinkedHashSet<>();
    private Optional<URI> jwksUri = Optional.empty();
    private Set<String> algorithms = DEFAULT_ALGORITHMS;
    private Principal.Kind kind = Principal.Kind.HUMAN;
    private String subjectClaim = "sub";
    private String displayNameClaim = "preferred_username";
    private String groupsClaim = "groups";
    private final List<ClaimMapping> groupMappings = new ArrayList<>();
    private final Map<String, String> requiredClaims = new LinkedHashMap<>();
    private Duration clockSkew = DEFAULT_CLOCK_SKEW;

    private Builder(String name, URI issuer) {
      this.name = name;
      this.issuer = issuer;
    }

    public Builder audience(String audience) {
      audiences.add(audience);
      return this;
    }

    public Builder jwksUri(URI uri) {
      jwksUri = Optional.of(uri);
      return this;
    }

    public Builder algorithms(Set<String> accepted) {
      algorithms = Set.copyOf(accepted);
      return this;
    }

    public Builder kind(Principal.Kind value) {
      kind = value;
      return this;
    }

    public Builder subjectClaim(String claimOrTemplate) {
      subjectClaim = claimOrTemplate;
      return this;
    }

    public Builder displayNameClaim(String claim) {
      displayNameClaim = claim;
      return this;
    }

    public Builder groupsClaim(String claim) {
      groupsClaim = claim;
      return this;
    }

    public Builder groupMapping(ClaimMapping mapping) {
      groupMappings.add(mapping);
      return this;
    }

    public Builder requiredClaim(String claim, String value) {
      requiredClaims.put(claim, value);
      return this;
    }

    public Builder clockSkew(Duration skew) {
      clockSkew = skew;
      return this;
    }

    public TrustedIssuer build() {
      return new TrustedIssuer(name, issuer, audiences, jwksUri, algorithms, kind, subjectClaim,
          displayNameClaim, groupsClaim, groupMappings, requiredClaims, clockSkew);
    }
  }
}
