package dev.gatehouse.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.nimbusds.jose.util.JSONObjectUtils;
import dev.gatehouse.core.AuthenticationException;
import dev.gatehouse.core.Principal;
import dev.gatehouse.core.Secret;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The demo provider's tokens go through the same verification as any provider's, over real HTTP. */
class DevelopmentIssuerTest {
  private DevelopmentIssuer issuer;
  private OidcAuthenticator authenticator;

  @BeforeEach
  void start() {
    issuer = DevelopmentIssuer.start(0);
    authenticator = new OidcAuthenticator(List.of(issuer.trustedIssuer("demo", "gatehouse")), Forger.PATIENT);
  }

  @AfterEach
  void stop() {
    authenticator.close();
    issuer.close();
  }

  @Test
  void mintedTokenIsAcceptedThroughDiscoveryOverHttp() {
    String token = issuer.mint("alice", "Alice Analyst", Set.of("analysts"), "gatehouse", Duration.ofMinutes(30));

    Principal principal = authenticator.authenticate(Secret.of(token));

    assertThat(principal.subject()).isEqualTo("alice");
    assertThat(principal.displayName()).isEqualTo("Alice Analyst");
    assertThat(principal.groups()).containsExactly("analysts");
    assertThat(principal.issuer()).isEqualTo("demo");
    assertThat(issuer.issuer().getHost()).isEqualTo("127.0.0.1");
  }

  @Test
  void mintedTokenForAnotherAudienceIsRefused() {
    String token = issuer.mint("alice", "Alice", Set.of(), "another-service", Duration.ofMinutes(30));

    assertThatThrownBy(() -> authenticator.authenticate(Secret.of(token)))
        .isInstanceOf(AuthenticationException.class)
        .hasMessageStartingWith("audience not accepted");
  }

  @Test
  void tokenOfAnotherDevelopmentIssuerIsRefused() {
    try (DevelopmentIssuer other = DevelopmentIssuer.start(0)) {
      String token = other.mint("alice", "Alice", Set.of("dba"), "gatehouse", Duration.ofMinutes(30));

      assertThatThrownBy(() -> authenticator.authenticate(Secret.of(token)))
          .isInstanceOf(AuthenticationException.class)
          .hasMessageStartingWith("issuer not trusted");
    }
  }

  @Test
  void tokenEndpointIssuesTokensForRegisteredUsersOnly() throws Exception {
    issuer.register(new DevelopmentIssuer.DemoUser("bob", "Bob DBA", Set.of("dba")));
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    URI tokenEndpoint = URI.create(issuer.issuer() + "/token");

    HttpResponse<String> response = http.send(HttpRequest.newBuilder(tokenEndpoint)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .POST(HttpRequest.BodyPublishers.ofString("subject=bob&audience=gatehouse")).build(),
        HttpResponse.BodyHandlers.ofString());
    HttpResponse<String> stranger = http.send(HttpRequest.newBuilder(tokenEndpoint)
        .POST(HttpRequest.BodyPublishers.ofString("subject=mallory&audience=gatehouse")).build(),
        HttpResponse.BodyHandlers.ofString());

    assertThat(response.statusCode()).isEqualTo(200);
    String token = JSONObjectUtils.getString(JSONObjectUtils.parse(response.body()), "access_token");
    Principal bob = authenticator.authenticate(Secret.of(token));
    assertThat(bob.subject()).isEqualTo("bob");
    assertThat(bob.groups()).containsExactly("dba");
    assertThat(stranger.statusCode()).isEqualTo(400);
  }

  @Test
  void discoveryDocumentSaysItIsForDemosOnly() throws Exception {
    HttpResponse<String> response = HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create(issuer.issuer() + "/.well-known/openid-configuration")).build(),
        HttpResponse.BodyHandlers.ofString());

    var document = JSONObjectUtils.parse(response.body());
    assertThat(document.get("issuer")).isEqualTo(issuer.issuer().toString());
    assertThat(document.get("jwks_uri")).isEqualTo(issuer.jwksUri().toString());
    assertThat((String) document.get("service_documentation")).contains("FOR DEMOS ONLY");
  }
}
