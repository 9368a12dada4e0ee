package dev.gatehouse.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Configuration mistakes are refused when the issuer is built, naming the issuer and the setting. */
class TrustedIssuerTest {
  private static TrustedIssuer.Builder corp() {
    return TrustedIssuer.builder("corp", URI.create("https://login.corp.example")).audience("gatehouse");
  }

  @Test
  void defaultsAreRs256AndEs256AndSixtySecondsOfSkew() {
    TrustedIssuer issuer = corp().build();

    assertThat(issuer.algorithms()).containsExactlyInAnyOrder("RS256", "ES256");
    assertThat(issuer.clockSkew()).isEqualTo(Duration.ofSeconds(60));
    assertThat(issuer.discoveryUri()).isEqualTo(URI.create("https://login.corp.example/.well-known/openid-configuration"));
  }

  @Test
  void symmetricAndUnsignedAlgorithmsAreNeverAccepted() {
    assertThatThrownBy(() -> corp().algorithms(Set.of("RS256", "HS256")).build())
        .isInstanceOf(IdentityException.class)
        .hasMessageContaining("trusted issuer 'corp'")
        .hasMessageContaining("algorithm HS256 is never accepted");
    assertThatThrownBy(() -> corp().algorithms(Set.of("none")).build())
        .isInstanceOf(IdentityException.class)
        .hasMessageContaining("algorithm none is never accepted");
  }

  @Test
  void clockSkewAboveFiveMinutesIsRefused() {
    assertThatThrownBy(() -> corp().clockSkew(Duration.ofMinutes(10)).build())
        .isInstanceOf(IdentityException.class)
        .hasMessageContaining("clockSkew PT10M");
  }

  @Test
  void plainHttpIssuerIsRefusedUnlessOnLoopback() {
    assertThatThrownBy(() -> TrustedIssuer.builder("corp", URI.create("http://login.corp.example")).audience("a").build())
        .isInstanceOf(IdentityException.class)
        .hasMessageContaining("must use https");
    assertThat(TrustedIssuer.builder("dev", URI.create("http://127.0.0.1:8080")).audience("a").build().name()).isEqualTo("dev");
    assertThat(TrustedIssuer.builder("dev", URI.create("http://localhost:8080/x")).audience("a").build().name()).isEqualTo("dev");
  }

  @Test
  void issuerWithoutAudienceIsRefused() {
    assertThatThrownBy(() -> TrustedIssuer.builder("corp", URI.create("https://login.corp.example")).build())
        .isInstanceOf(IdentityException.class)
        .hasMessageContaining("audiences is empty");
  }

  @Test
  void malformedSubjectTemplateIsRefused() {
    assertThatThrownBy(() -> corp().subjectClaim("repo:{repository").build())
        .isInstanceOf(IdentityException.class)
        .hasMessageContaining("subjectClaim 'repo:{repository' has '{' without '}'");
  }

  @Test
  void twoIssuersWithTheSameIssAndAnOverlappingAudienceAreRefused() {
    TrustedIssuer a = TrustedIssuer.builder("a", URI.create("https://login.corp.example")).audience("gatehouse").build();
    TrustedIssuer b = TrustedIssuer.builder("b", URI.create("https://login.corp.example")).audience("gatehouse").audience("x").build();

    assertThatThrownBy(() -> new OidcAuthenticator(List.of(a, b)))
        .isInstanceOf(IdentityException.class)
        .hasMessageContaining("'a' and 'b'")
        .hasMessageContaining("could not be told apart");
  }

  @Test
  void subjectTemplateRendersClaimsBetweenLiterals() {
    var template = SubjectTemplate.parse("repo:{repository}:ref:{ref}");

    assertThat(template.render(java.util.Map.of("repository", "acme/api", "ref", "refs/heads/main")))
        .isEqualTo("repo:acme/api:ref:refs/heads/main");
  }
}
