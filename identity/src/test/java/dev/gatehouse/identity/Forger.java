package dev.gatehouse.identity;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.PlainJWT;
import com.nimbusds.jwt.SignedJWT;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;

/** Tokens an attacker could produce: own keys, chosen headers, no signature at all. */
final class Forger {
  /**
   * Options for tests against a local provider on a shared, busy machine: the production read
   * timeout (3 s) is about a remote provider, not about a JVM warming up a mock server.
   */
  static final OidcAuthenticator.Options PATIENT =
      OidcAuthenticator.Options.defaults().withTimeouts(Duration.ofSeconds(5), Duration.ofSeconds(15));

  private Forger() {}

  static JWTClaimsSet.Builder claims(String issuer, String audience, String subject) {
    Instant now = Instant.now();
    return new JWTClaimsSet.Builder()
        .issuer(issuer)
        .audience(audience)
        .subject(subject)
        .issueTime(Date.from(now))
        .notBeforeTime(Date.from(now))
        .expirationTime(Date.from(now.plus(Duration.ofMinutes(10))));
  }

  static RSAKey newRsaKey(String kid) throws Exception {
    return new RSAKeyGenerator(2048).keyID(kid).generate();
  }

  static String signRs256(JWTClaimsSet claims, RSAKey key) throws Exception {
    return sign(claims, new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(key.getKeyID()).build(), new RSASSASigner(key));
  }

  /** Signed with {@code key} under a header of the caller's choosing ({@code crit}, custom parameters). */
  static String signRs256(JWTClaimsSet claims, RSAKey key, JWSHeader header) throws Exception {
    return sign(claims, header, new RSASSASigner(key));
  }

  static String signHs256(JWTClaimsSet claims, byte[] secret, String kid) throws Exception {
    return sign(claims, new JWSHeader.Builder(JWSAlgorithm.HS256).keyID(kid).build(), new MACSigner(secret));
  }

  static String unsigned(JWTClaimsSet claims) {
    return new PlainJWT(claims).serialize();
  }

  private static String sign(JWTClaimsSet claims, JWSHeader header, JWSSigner signer) throws Exception {
    SignedJWT jwt = new SignedJWT(header, claims);
    jwt.sign(signer);
    return jwt.serialize();
  }
}
