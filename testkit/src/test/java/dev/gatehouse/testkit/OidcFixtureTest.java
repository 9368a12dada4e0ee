package dev.gatehouse.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jwt.JWTParser;
import com.nimbusds.jwt.PlainJWT;
import com.nimbusds.jwt.SignedJWT;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class OidcFixtureTest {
  private static OidcFixture oidc;
  private static final HttpClient http = HttpClient.newHttpClient();

  @BeforeAll
  static void start() {
    oidc = OidcFixture.start();
  }

  @AfterAll
  static void stop() {
    oidc.close();
  }

  @Test
  void discoveryOverHttpNamesTheIssuerAndItsJwks() throws Exception {
    String doc = get(oidc.discovery("corp"));
    assertThat(doc).contains("\"issuer\"").contains(oidc.issuer("corp").toString()).contains(oidc.jwks("corp").toString());
    assertThat(oidc.issuer("corp").getHost()).isEqualTo("127.0.0.1");
  }

  @Test
  void tokenVerifiesAgainstTheJwksServedOverHttpAndCarriesTheClaims() throws Exception {
    String token = oidc.token("corp", "alice", "gatehouse", Map.of("groups", List.of("dba", "dev"), "email", "alice@example.com"),
        Duration.ofMinutes(5));
    SignedJWT jwt = SignedJWT.parse(token);
    assertThat(verifiesWith(jwt, jwksOverHttp("corp"))).isTrue();
    assertThat(jwt.getJWTClaimsSet().getIssuer()).isEqualTo(oidc.issuer("corp").toString());
    assertThat(jwt.getJWTClaimsSet().getSubject()).isEqualTo("alice");
    assertThat(jwt.getJWTClaimsSet().getAudience()).containsExactly("gatehouse");
    assertThat(jwt.getJWTClaimsSet().getStringListClaim("groups")).containsExactly("dba", "dev");
    assertThat(jwt.getJWTClaimsSet().getExpirationTime().toInstant())
        .isBetween(Instant.now().plusSeconds(240), Instant.now().plusSeconds(301));
  }

  @Test
  void eachIssuerSignsWithItsOwnKey() throws Exception {
    SignedJWT fromA = SignedJWT.parse(oidc.token("issuer-a", "bob", "gatehouse", Map.of(), Duration.ofMinutes(5)));
    assertThat(fromA.getJWTClaimsSet().getIssuer()).isNotEqualTo(oidc.issuer("issuer-b").toString());
    assertThat(verifiesWith(fromA, jwksOverHttp("issuer-a"))).isTrue();
    assertThat(verifiesWith(fromA, jwksOverHttp("issuer-b"))).isFalse();
  }

  @Test
  void tokenEndpointIssuesTokensSignedWithThePublishedKey() throws Exception {
    String body = "grant_type=client_credentials&client_id=ci&client_secret=x&scope=gatehouse";
    HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(oidc.issuer("ci") + "/token"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).isEqualTo(200);
    String accessToken = response.body().replaceAll("(?s).*\"access_token\"\\s*:\\s*\"([^\"]+)\".*", "$1");
    SignedJWT jwt = SignedJWT.parse(accessToken);
    assertThat(verifiesWith(jwt, jwksOverHttp("ci"))).isTrue();
    assertThat(jwt.getJWTClaimsSet().getIssuer()).isEqualTo(oidc.issuer("ci").toString());
  }

  @Test
  void rotationPublishesOnlyTheNewKey() throws Exception {
    String before = oidc.token("rotating", "carol", "gatehouse", Map.of(), Duration.ofMinutes(5));
    String oldKid = oidc.currentKeyId("rotating");
    String newKid = oidc.rotateKey("rotating");
    String after = oidc.token("rotating", "carol", "gatehouse", Map.of(), Duration.ofMinutes(5));
    JWKSet published = jwksOverHttp("rotating");
    assertThat(newKid).isNotEqualTo(oldKid);
    assertThat(published.getKeyByKeyId(oldKid)).isNull();
    assertThat(SignedJWT.parse(after).getHeader().getKeyID()).isEqualTo(newKid);
    assertThat(verifiesWith(SignedJWT.parse(after), published)).isTrue();
    assertThat(verifiesWith(SignedJWT.parse(before), published)).isFalse();
  }

  @Test
  void timeClaimsCanBeSetForExpiredAndNotYetValidTokens() throws Exception {
    SignedJWT expired = SignedJWT.parse(oidc.token("corp", "dave", "gatehouse", Map.of(), Duration.ofMinutes(-5)));
    assertThat(expired.getJWTClaimsSet().getExpirationTime().toInstant()).isBefore(Instant.now());
    long future = Instant.now().plusSeconds(3600).getEpochSecond();
    SignedJWT early = SignedJWT.parse(oidc.token("corp", "dave", "gatehouse", Map.of("nbf", future), Duration.ofHours(2)));
    assertThat(early.getJWTClaimsSet().getNotBeforeTime().toInstant().getEpochSecond()).isEqualTo(future);
  }

  @Test
  void forgedTokensFailVerificationAgainstThePublishedKeys() throws Exception {
    JWKSet published = jwksOverHttp("corp");
    var none = JWTParser.parse(oidc.forgedToken(OidcFixture.Forgery.ALG_NONE, "corp", "eve", "gatehouse", Map.of(), Duration.ofMinutes(5)));
    assertThat(none).isInstanceOf(PlainJWT.class);
    assertThat(none.getJWTClaimsSet().getIssuer()).isEqualTo(oidc.issuer("corp").toString());

    SignedJWT unknown = SignedJWT.parse(oidc.forgedToken(OidcFixture.Forgery.UNKNOWN_KEY, "corp", "eve", "gatehouse", Map.of(), Duration.ofMinutes(5)));
    assertThat(published.getKeyByKeyId(unknown.getHeader().getKeyID())).isNull();

    SignedJWT hmac = SignedJWT.parse(oidc.forgedToken(OidcFixture.Forgery.HMAC_WITH_PUBLIC_KEY, "corp", "eve", "gatehouse", Map.of(), Duration.ofMinutes(5)));
    assertThat(hmac.getHeader().getAlgorithm()).isEqualTo(JWSAlgorithm.HS256);
    assertThat(hmac.getHeader().getKeyID()).isEqualTo(oidc.currentKeyId("corp"));
  }

  @Test
  void issuerIdsThatWouldBreakTheUrlAreRejected() {
    assertThatThrownBy(() -> oidc.issuer("../admin")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> oidc.issuer("")).isInstanceOf(IllegalArgumentException.class);
  }

  private static String get(URI uri) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(uri).GET().build(), HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as("GET %s", uri).isEqualTo(200);
    return r.body();
  }

  private static JWKSet jwksOverHttp(String issuerId) throws Exception {
    return JWKSet.parse(get(oidc.jwks(issuerId)));
  }

  private static boolean verifiesWith(SignedJWT jwt, JWKSet set) throws Exception {
    Optional<RSAKey> key = Optional.ofNullable(set.getKeyByKeyId(jwt.getHeader().getKeyID())).map(k -> (RSAKey) k);
    return key.isPresent() && jwt.verify(new RSASSAVerifier(key.get()));
  }
}
