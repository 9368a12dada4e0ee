package dev.gatehouse.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.RSAKey;
import dev.gatehouse.core.AuthenticationException;
import dev.gatehouse.core.Secret;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import okhttp3.mockwebserver.RecordedRequest;
import no.nav.security.mock.oauth2.MockOAuth2Server;
import no.nav.security.mock.oauth2.OAuth2Config;
import no.nav.security.mock.oauth2.token.KeyProvider;
import no.nav.security.mock.oauth2.token.OAuth2TokenProvider;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The provider's keys change under a running authenticator. */
class KeyRotationTest {
  /** A key provider whose one signing key can be swapped, as a real provider rotates keys. */
  static final class RotatingKeys extends KeyProvider {
    private final AtomicReference<RSAKey> current = new AtomicReference<>();

    RotatingKeys(String kid) throws Exception {
      super(List.of(), "RS256");
      rotate(kid);
    }

    void rotate(String kid) throws Exception {
      current.set(Forger.newRsaKey(kid));
    }

    @Override
    public JWK signingKey(String issuerId) {
      return current.get();
    }
  }

  private MockOAuth2Server provider;
  private OidcAuthenticator authenticator;

  @AfterEach
  void stop() {
    if (authenticator != null) authenticator.close();
    if (provider != null) provider.shutdown();
  }

  private TrustedIssuer start(RotatingKeys keys) {
    provider = new MockOAuth2Server(new OAuth2Config(false, null, null, false, new OAuth2TokenProvider(keys)));
    provider.start();
    return TrustedIssuer.builder("corp", URI.create(provider.issuerUrl("corp").toString())).audience("gatehouse").build();
  }

  /** Everything the provider received so far (its queue throws instead of returning null when drained). */
  private List<RecordedRequest> recordedRequests() {
    List<RecordedRequest> requests = new ArrayList<>();
    while (true) {
      try {
        requests.add(provider.takeRequest(200, TimeUnit.MILLISECONDS));
      } catch (RuntimeException drained) {
        return requests;
      }
    }
  }

  private String token() {
    return provider.issueToken("corp", "alice", "gatehouse", Map.of(), 3600).serialize();
  }

  @Test
  void tokenSignedWithTheProvidersNewKeyIsAcceptedAfterRotation() throws Exception {
    RotatingKeys keys = new RotatingKeys("key-1");
    authenticator = new OidcAuthenticator(List.of(start(keys)), Forger.PATIENT);
    String before = token();
    assertThat(authenticator.authenticate(Secret.of(before)).subject()).isEqualTo("alice");

    keys.rotate("key-2");
    String after = token();

    assertThat(authenticator.authenticate(Secret.of(after)).subject()).isEqualTo("alice");
    // The provider no longer publishes key-1, so its tokens stop being accepted once the set is refreshed.
    assertThatThrownBy(() -> authenticator.authenticate(Secret.of(before)))
        .isInstanceOf(AuthenticationException.class)
        .hasMessageStartingWith("no signing key with kid 'key-1'");
  }

  @Test
  void tokensWithRandomKidsDoNotMakeTheAuthenticatorHammerTheProvider() throws Exception {
    RotatingKeys keys = new RotatingKeys("key-1");
    TrustedIssuer corp = start(keys);
    authenticator = new OidcAuthenticator(List.of(corp), Forger.PATIENT);
    authenticator.authenticate(Secret.of(token()));

    RSAKey attacker = Forger.newRsaKey("attacker");
    for (int i = 0; i < 25; i++) {
      String forged = Forger.signRs256(Forger.claims(corp.issuer().toString(), "gatehouse", "admin").build(),
          new RSAKey.Builder(attacker).keyID("random-" + i).build());
      assertThatThrownBy(() -> authenticator.authenticate(Secret.of(forged)))
          .isInstanceOf(AuthenticationException.class)
          .hasMessageStartingWith("no signing key with kid 'random-" + i + "'");
    }

    List<String> jwksFetches = new ArrayList<>();
    for (RecordedRequest request : recordedRequests()) {
      if (request.getPath().endsWith("/jwks")) jwksFetches.add(request.getPath());
    }
    // One fetch at the first login, at most one refresh for all the unknown kids within the interval.
    assertThat(jwksFetches).hasSizeBetween(1, 2);
  }
}
