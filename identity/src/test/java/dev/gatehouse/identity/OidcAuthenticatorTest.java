package dev.gatehouse.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import dev.gatehouse.core.AuthenticationException;
import dev.gatehouse.core.Principal;
import dev.gatehouse.core.Secret;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import no.nav.security.mock.oauth2.MockOAuth2Server;
import no.nav.security.mock.oauth2.OAuth2Config;
import no.nav.security.mock.oauth2.token.KeyProvider;
import no.nav.security.mock.oauth2.token.OAuth2TokenProvider;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Token verification against a real OIDC provider (mock-oauth2-server) over HTTP: discovery,
 * JWKS and signatures are all real; each test gets a fresh authenticator so caches do not leak.
 */
class OidcAuthenticatorTest {
  private static final String AUDIENCE = "gatehouse";
  /** The provider's own signing keys, to sign tokens with headers the provider would not write. */
  private static KeyProvider providerKeys;
  private static MockOAuth2Server provider;
  private OidcAuthenticator authenticator;

  @BeforeAll
  static void startProvider() {
    providerKeys = new KeyProvider();
    provider = new MockOAuth2Server(new OAuth2Config(false, null, null, false, new OAuth2TokenProvider(providerKeys)));
    provider.start();
  }

  @AfterAll
  static void stopProvider() {
    provider.shutdown();
  }

  @AfterEach
  void closeAuthenticator() {
    if (authenticator != null) authenticator.close();
  }

  private static URI issuerUri(String issuerId) {
    return URI.create(provider.issuerUrl(issuerId).toString());
  }

  private static TrustedIssuer corp() {
    return TrustedIssuer.builder("corp", issuerUri("corp")).audience(AUDIENCE).build();
  }

  private OidcAuthenticator trusting(TrustedIssuer... issuers) {
    authenticator = new OidcAuthenticator(List.of(issuers), Forger.PATIENT);
    return authenticator;
  }

  private static String token(String issuerId, String subject, String audience, Map<String, Object> claims, long expirySeconds) {
    return provider.issueToken(issuerId, subject, audience, claims, expirySeconds).serialize();
  }

  private static String corpToken(Map<String, Object> claims) {
    return token("corp", "alice", AUDIENCE, claims, 3600);
  }

  private static AuthenticationException refusal(OidcAuthenticator authenticator, String token) {
    try {
      authenticator.authenticate(Secret.of(token));
    } catch (AuthenticationException e) {
      assertThat(e.getMessage()).doesNotContain(token);
      return e;
    }
    throw new AssertionError("the token was accepted");
  }

  @Test
  void validTokenIsAcceptedWithItsGroupsAndDisplayName() {
    String token = corpToken(Map.of("groups", List.of("dba", "staff"), "preferred_username", "alice@corp.example"));

    Principal principal = trusting(corp()).authenticate(Secret.of(token));

    assertThat(principal.subject()).isEqualTo("alice");
    assertThat(principal.displayName()).isEqualTo("alice@corp.example");
    assertThat(principal.groups()).containsExactlyInAnyOrder("dba", "staff");
    assertThat(principal.kind()).isEqualTo(Principal.Kind.HUMAN);
    assertThat(principal.issuer()).isEqualTo("corp");
    assertThat(principal.expiresAt()).isAfter(Instant.now().plus(Duration.ofMinutes(50)));
    assertThat(principal.claims()).containsEntry("sub", "alice").containsKey("exp");
  }

  @Test
  void pastedTokenWithBearerPrefixAndWhitespaceIsAccepted() {
    String token = corpToken(Map.of());

    Principal principal = trusting(corp()).authenticate(Secret.of("  Bearer " + token + "\n"));

    assertThat(principal.subject()).isEqualTo("alice");
  }

  @Test
  void tokenForAnotherAudienceIsRefused() {
    String token = token("corp", "alice", "some-other-app", Map.of(), 3600);

    assertThat(refusal(trusting(corp()), token))
        .hasMessageStartingWith("audience not accepted")
        .hasMessageContaining("some-other-app");
  }

  @Test
  void tokenFromAnUntrustedIssuerIsRefused() {
    String token = token("elsewhere", "alice", AUDIENCE, Map.of(), 3600);

    assertThat(refusal(trusting(corp()), token)).hasMessage("issuer not trusted: " + issuerUri("elsewhere"));
  }

  @Test
  void tokenFromIssuerAIsNotAcceptedWhereOnlyIssuerBIsTrusted() {
    TrustedIssuer onlyB = TrustedIssuer.builder("b", issuerUri("b")).audience(AUDIENCE).build();
    String fromA = token("a", "alice", AUDIENCE, Map.of(), 3600);

    assertThat(refusal(trusting(onlyB), fromA)).hasMessageStartingWith("issuer not trusted");
  }

  @Test
  void tokenClaimingIssuerBButSignedWithAnotherKeyUnderBsKidIsRefused() throws Exception {
    TrustedIssuer b = TrustedIssuer.builder("b", issuerUri("b")).audience(AUDIENCE).build();
    String bKid = JWKSet.load(provider.jwksUrl("b").url()).getKeys().get(0).getKeyID();
    RSAKey attacker = Forger.newRsaKey(bKid);
    String forged = Forger.signRs256(Forger.claims(issuerUri("b").toString(), AUDIENCE, "admin").build(), attacker);

    assertThat(refusal(trusting(b), forged)).hasMessageStartingWith("token signature is not valid");
  }

  @Test
  void twoIssuersSharingOneProviderAreToldApartByAudience() {
    TrustedIssuer humans = TrustedIssuer.builder("humans", issuerUri("shared")).audience("gatehouse").build();
    TrustedIssuer ci = TrustedIssuer.builder("ci", issuerUri("shared")).audience("gatehouse-ci")
        .kind(Principal.Kind.MACHINE).build();
    OidcAuthenticator both = trusting(humans, ci);

    Principal person = both.authenticate(Secret.of(token("shared", "alice", "gatehouse", Map.of(), 3600)));
    Principal machine = both.authenticate(Secret.of(token("shared", "pipeline", "gatehouse-ci", Map.of(), 3600)));

    assertThat(person.issuer()).isEqualTo("humans");
    assertThat(person.kind()).isEqualTo(Principal.Kind.HUMAN);
    assertThat(machine.issuer()).isEqualTo("ci");
    assertThat(machine.kind()).isEqualTo(Principal.Kind.MACHINE);
    assertThat(refusal(both, token("shared", "x", "neither", Map.of(), 3600)))
        .hasMessageStartingWith("audience not accepted");
  }

  @Test
  void issuerSharingAnotherIssuersKeysStillDoesNotAcceptThatIssuersTokens() {
    // "b" verifies with a's JWKS (one provider, two configured issuers); a token from a carrying b's
    // audience is a's token all the same, and a does not accept that audience.
    TrustedIssuer a = TrustedIssuer.builder("a", issuerUri("a")).audience("gatehouse-a").build();
    TrustedIssuer b = TrustedIssuer.builder("b", issuerUri("b")).audience("gatehouse-b")
        .jwksUri(URI.create(provider.jwksUrl("a").toString())).build();
    OidcAuthenticator both = trusting(a, b);

    assertThat(both.authenticate(Secret.of(token("a", "alice", "gatehouse-a", Map.of(), 3600))).issuer()).isEqualTo("a");
    assertThat(refusal(both, token("a", "alice", "gatehouse-b", Map.of(), 3600)))
        .hasMessageStartingWith("audience not accepted");
  }

  @Test
  void expiredTokenIsRefusedSayingWhenItExpired() {
    String token = token("corp", "alice", AUDIENCE, Map.of(), -600);

    assertThat(refusal(trusting(corp()), token)).hasMessageStartingWith("token expired at ");
  }

  @Test
  void tokenExpiredWithinTheClockSkewIsStillAccepted() {
    String token = token("corp", "alice", AUDIENCE, Map.of(), -20);

    assertThat(trusting(corp()).authenticate(Secret.of(token)).subject()).isEqualTo("alice");
  }

  @Test
  void tokenNotYetValidIsRefused() {
    long inTenMinutes = Instant.now().plus(Duration.ofMinutes(10)).getEpochSecond();
    String token = corpToken(Map.of("nbf", inTenMinutes));

    assertThat(refusal(trusting(corp()), token)).hasMessageStartingWith("token not valid before ");
  }

  @Test
  void tokenIssuedInTheFutureIsRefused() {
    long inTenMinutes = Instant.now().plus(Duration.ofMinutes(10)).getEpochSecond();
    String token = corpToken(Map.of("iat", inTenMinutes, "nbf", Instant.now().getEpochSecond() - 5));

    assertThat(refusal(trusting(corp()), token)).hasMessageStartingWith("token issued in the future");
  }

  @Test
  void hugeExpIsRefusedAsOutOfRangeRatherThanWrappingAroundTo1969() {
    // Nimbus reads exp as a long of seconds times 1000: 1e20 wrapped to 1969-12-31T23:59:59Z.
    String huge = corpToken(Map.of("exp", 1e20));
    String wrapsWhenInMillis = corpToken(Map.of("exp", Long.MAX_VALUE / 1000 + 1));

    assertThat(refusal(trusting(corp()), huge))
        .hasMessage("token exp claim is out of range (expected seconds since 1970, at most the end of year 9999)");
    assertThat(refusal(authenticator, wrapsWhenInMillis)).hasMessageStartingWith("token exp claim is out of range");
    assertThat(refusal(authenticator, corpToken(Map.of("exp", -1)))).hasMessageStartingWith("token exp claim is out of range");
  }

  @Test
  void hugeNbfOrIatIsRefusedRatherThanWrappingAroundToThePast() {
    // Wrapped to 1969, these were in the past and so not checked at all: the tokens were accepted.
    assertThat(refusal(trusting(corp()), corpToken(Map.of("nbf", 1e20))))
        .hasMessageStartingWith("token nbf claim is out of range");
    assertThat(refusal(authenticator, corpToken(Map.of("iat", 1e20))))
        .hasMessageStartingWith("token iat claim is out of range");
    assertThat(refusal(authenticator, corpToken(Map.of("iat", Long.MAX_VALUE))))
        .hasMessageStartingWith("token iat claim is out of range");
  }

  @Test
  void tokenWithAnUnknownCriticalHeaderParameterIsRefusedSayingSo() throws Exception {
    // Signed with the provider's own key, so only the crit header can be the reason for refusing it.
    RSAKey providerKey = (RSAKey) providerKeys.signingKey("corp");
    var claims = Forger.claims(issuerUri("corp").toString(), AUDIENCE, "alice").build();
    String plain = Forger.signRs256(claims, providerKey);
    String critical = Forger.signRs256(claims, providerKey, new JWSHeader.Builder(JWSAlgorithm.RS256)
        .keyID(providerKey.getKeyID())
        .criticalParams(Set.of("urn:example:policy"))
        .customParam("urn:example:policy", "strict")
        .build());
    OidcAuthenticator corp = trusting(corp());

    assertThat(corp.authenticate(Secret.of(plain)).subject()).isEqualTo("alice");
    assertThat(refusal(corp, critical))
        .hasMessage("token header has critical parameters Gatehouse does not understand: urn:example:policy");
  }

  @Test
  void unsignedAlgNoneTokenIsRefused() {
    String token = Forger.unsigned(Forger.claims(issuerUri("corp").toString(), AUDIENCE, "admin").build());

    assertThat(refusal(trusting(corp()), token)).hasMessage("unsigned token (alg none) refused");
  }

  @Test
  void hmacTokenSignedWithTheProvidersPublicKeyIsRefused() throws Exception {
    RSAKey published = (RSAKey) JWKSet.load(provider.jwksUrl("corp").url()).getKeys().get(0);
    byte[] publicKeyAsSecret = published.toRSAPublicKey().getEncoded();
    String token = Forger.signHs256(
        Forger.claims(issuerUri("corp").toString(), AUDIENCE, "admin").build(), publicKeyAsSecret, published.getKeyID());

    assertThat(refusal(trusting(corp()), token))
        .hasMessageStartingWith("algorithm HS256 not accepted for issuer 'corp'");
  }

  @Test
  void algorithmOutsideTheIssuersAllowListIsRefusedEvenWhenCorrectlySigned() {
    TrustedIssuer ecOnly = TrustedIssuer.builder("corp", issuerUri("corp")).audience(AUDIENCE)
        .algorithms(java.util.Set.of("ES256")).build();

    assertThat(refusal(trusting(ecOnly), corpToken(Map.of()))).hasMessageStartingWith("algorithm RS256 not accepted");
  }

  @Test
  void tokenWithAnUnknownKidIsRefused() throws Exception {
    RSAKey attacker = Forger.newRsaKey("kid-nobody-published");
    String token = Forger.signRs256(Forger.claims(issuerUri("corp").toString(), AUDIENCE, "admin").build(), attacker);

    assertThat(refusal(trusting(corp()), token))
        .hasMessageStartingWith("no signing key with kid 'kid-nobody-published' at identity provider 'corp'");
  }

  @Test
  void oversizedTokenIsRefusedBeforeParsing() {
    String huge = "a".repeat(OidcAuthenticator.MAX_TOKEN_LENGTH + 1);

    assertThat(refusal(trusting(corp()), huge)).hasMessage("token longer than 16384 bytes refused");
  }

  @Test
  void textThatIsNotAJwtIsRefused() {
    assertThat(refusal(trusting(corp()), "hunter2")).hasMessageStartingWith("token is not a JWT");
  }

  @Test
  void groupsClaimOfTheWrongShapeRefusesTheToken() {
    String token = corpToken(Map.of("groups", List.of("staff", Map.of("nested", "object"))));

    assertThat(refusal(trusting(corp()), token)).hasMessage("claim 'groups' is not a list of strings");
  }

  @Test
  void nestedGroupsClaimIsReachedByADottedPath() {
    TrustedIssuer keycloakLike = TrustedIssuer.builder("corp", issuerUri("corp")).audience(AUDIENCE)
        .groupsClaim("realm_access.roles").build();
    String token = corpToken(Map.of("realm_access", Map.of("roles", List.of("dba"))));

    assertThat(trusting(keycloakLike).authenticate(Secret.of(token)).groups()).containsExactly("dba");
  }

  @Test
  void refusalMessagesDoNotEchoControlCharactersFromTheToken() throws Exception {
    String token = Forger.signRs256(Forger.claims("evil\r\nFAKE LOG LINE", AUDIENCE, "alice").build(), Forger.newRsaKey("k"));

    assertThat(refusal(trusting(corp()), token)).hasMessage("issuer not trusted: evil??FAKE LOG LINE");
  }
}
