package dev.gatehouse.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.gatehouse.core.AuthenticationException;
import dev.gatehouse.core.Secret;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import no.nav.security.mock.oauth2.MockOAuth2Server;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A provider that is down, silent, or comes back: clear refusals, bounded waits, recovery. */
class ProviderOutageTest {
  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  private static String tokenFrom(URI issuer) throws Exception {
    return Forger.signRs256(Forger.claims(issuer.toString(), "gatehouse", "alice").build(), Forger.newRsaKey("k1"));
  }

  @Test
  void providerThatRefusesConnectionsIsReportedUnreachable() throws Exception {
    URI issuer = URI.create("http://127.0.0.1:" + freePort() + "/down");
    TrustedIssuer down = TrustedIssuer.builder("down", issuer).audience("gatehouse").build();

    try (var authenticator = new OidcAuthenticator(List.of(down))) {
      String token = tokenFrom(issuer);
      assertThatThrownBy(() -> authenticator.authenticate(Secret.of(token)))
          .isInstanceOf(AuthenticationException.class)
          .hasMessageStartingWith("identity provider 'down' unreachable")
          .hasMessageNotContaining(token);
      // Within the retry interval the same refusal comes back without another attempt.
      assertThatThrownBy(() -> authenticator.authenticate(Secret.of(token)))
          .hasMessageStartingWith("identity provider 'down' unreachable");
    }
  }

  @Test
  @Timeout(60) // a guard against a hang, not a performance assertion
  void providerThatAcceptsConnectionsButNeverAnswersIsReportedUnreachable() throws Exception {
    // The kernel completes connections into the backlog; nobody ever reads or answers them.
    try (ServerSocket silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      URI issuer = URI.create("http://127.0.0.1:" + silent.getLocalPort() + "/silent");
      TrustedIssuer provider = TrustedIssuer.builder("silent", issuer).audience("gatehouse").build();
      var options = OidcAuthenticator.Options.defaults().withTimeouts(Duration.ofSeconds(1), Duration.ofSeconds(1));

      try (var authenticator = new OidcAuthenticator(List.of(provider), options)) {
        assertThatThrownBy(() -> authenticator.authenticate(Secret.of(tokenFrom(issuer))))
            .isInstanceOf(AuthenticationException.class)
            .hasMessageStartingWith("identity provider 'silent' unreachable")
            .hasMessageContaining("timed out");
      }
    }
  }

  @Test
  void providerThatComesBackIsUsedAgain() throws Exception {
    int port = freePort();
    URI issuer = URI.create("http://localhost:" + port + "/corp");
    TrustedIssuer corp = TrustedIssuer.builder("corp", issuer).audience("gatehouse").build();
    var noFailFastWindow = new OidcAuthenticator.Options(Duration.ofSeconds(5), Duration.ofSeconds(15),
        Duration.ofMinutes(5), Duration.ofSeconds(30), Duration.ZERO, Optional.empty(), Clock.systemUTC());

    try (var authenticator = new OidcAuthenticator(List.of(corp), noFailFastWindow)) {
      assertThatThrownBy(() -> authenticator.authenticate(Secret.of(tokenFrom(issuer))))
          .hasMessageStartingWith("identity provider 'corp' unreachable");

      MockOAuth2Server provider = new MockOAuth2Server();
      provider.start(port);
      try {
        String token = provider.issueToken("corp", "alice", "gatehouse", Map.of(), 3600).serialize();
        assertThat(authenticator.authenticate(Secret.of(token)).subject()).isEqualTo("alice");
      } finally {
        provider.shutdown();
      }
    }
  }

  @Test
  void discoveryDocumentNamingAnotherIssuerIsRefused() throws Exception {
    MockOAuth2Server provider = new MockOAuth2Server();
    provider.start();
    try {
      // Configured with a trailing slash the provider does not use: the document names a different issuer.
      URI configured = URI.create(provider.issuerUrl("corp") + "/");
      TrustedIssuer corp = TrustedIssuer.builder("corp", configured).audience("gatehouse").build();
      try (var authenticator = new OidcAuthenticator(List.of(corp), Forger.PATIENT)) {
        String token = Forger.signRs256(Forger.claims(configured.toString(), "gatehouse", "alice").build(), Forger.newRsaKey("k"));
        assertThatThrownBy(() -> authenticator.authenticate(Secret.of(token)))
            .isInstanceOf(AuthenticationException.class)
            .hasMessageContaining("names issuer " + provider.issuerUrl("corp"));
      }
    } finally {
      provider.shutdown();
    }
  }
}
