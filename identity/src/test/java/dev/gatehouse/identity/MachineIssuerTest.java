package dev.gatehouse.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.gatehouse.core.AuthenticationException;
import dev.gatehouse.core.Principal;
import dev.gatehouse.core.Secret;
import java.net.URI;
import java.util.List;
import java.util.Map;
import no.nav.security.mock.oauth2.MockOAuth2Server;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** A CI system's OIDC tokens (shaped like GitHub Actions') as a machine issuer. */
class MachineIssuerTest {
  private static MockOAuth2Server provider;
  private OidcAuthenticator authenticator;

  @BeforeAll
  static void startProvider() {
    provider = new MockOAuth2Server();
    provider.start();
  }

  @AfterAll
  static void stopProvider() {
    provider.shutdown();
  }

  @BeforeEach
  void trustTheCiIssuer() {
    TrustedIssuer github = TrustedIssuer.builder("github-actions", URI.create(provider.issuerUrl("github").toString()))
        .audience("https://gatehouse.acme.example")
        .kind(Principal.Kind.MACHINE)
        .subjectClaim("repo:{repository}:ref:{ref}")
        .displayNameClaim("workflow_ref")
        .groupMapping(ClaimMapping.of("repository", "acme/api", "ci-api"))
        .groupMapping(ClaimMapping.of("repository", "acme/api", "ref", "refs/heads/main", "ci-api-deploy"))
        .requiredClaim("repository_owner", "acme")
        .build();
    authenticator = new OidcAuthenticator(List.of(github), Forger.PATIENT);
  }

  @AfterEach
  void close() {
    authenticator.close();
  }

  private static String ciToken(String owner, String repository, String ref) {
    Map<String, Object> claims = Map.of(
        "repository_owner", owner,
        "repository", repository,
        "ref", ref,
        "workflow_ref", repository + "/.github/workflows/migrate.yml@" + ref);
    return provider.issueToken("github", "repo:" + repository + ":ref:" + ref, "https://gatehouse.acme.example", claims, 600)
        .serialize();
  }

  @Test
  void mainBranchTokenGetsTheTemplatedSubjectAndBothMappedGroups() {
    Principal principal = authenticator.authenticate(Secret.of(ciToken("acme", "acme/api", "refs/heads/main")));

    assertThat(principal.subject()).isEqualTo("repo:acme/api:ref:refs/heads/main");
    assertThat(principal.kind()).isEqualTo(Principal.Kind.MACHINE);
    assertThat(principal.issuer()).isEqualTo("github-actions");
    assertThat(principal.displayName()).isEqualTo("acme/api/.github/workflows/migrate.yml@refs/heads/main");
    assertThat(principal.groups()).containsExactlyInAnyOrder("ci-api", "ci-api-deploy");
  }

  @Test
  void featureBranchTokenGetsOnlyTheRepositoryGroup() {
    Principal principal = authenticator.authenticate(Secret.of(ciToken("acme", "acme/api", "refs/heads/feature")));

    assertThat(principal.groups()).containsExactly("ci-api");
  }

  @Test
  void otherRepositoryOfTheSameOwnerGetsNoGroup() {
    Principal principal = authenticator.authenticate(Secret.of(ciToken("acme", "acme/web", "refs/heads/main")));

    assertThat(principal.groups()).isEmpty();
  }

  @Test
  void tokenFromAForkIsRefusedByTheRequiredOwnerClaim() {
    // A fork named like the real repository: only repository_owner tells it apart.
    String fork = ciToken("mallory", "acme/api", "refs/heads/main");

    assertThatThrownBy(() -> authenticator.authenticate(Secret.of(fork)))
        .isInstanceOf(AuthenticationException.class)
        .hasMessage("claim 'repository_owner' must be 'acme' for issuer 'github-actions'");
  }

  @Test
  void tokenMissingAClaimTheSubjectTemplateNeedsIsRefused() {
    String token = provider.issueToken("github", "x", "https://gatehouse.acme.example",
        Map.of("repository_owner", "acme", "repository", "acme/api"), 600).serialize();

    assertThatThrownBy(() -> authenticator.authenticate(Secret.of(token)))
        .isInstanceOf(AuthenticationException.class)
        .hasMessageContaining("no usable 'ref' claim");
  }
}
