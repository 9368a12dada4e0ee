package dev.gatehouse.tls;

import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.spec.MGF1ParameterSpec;
import java.security.spec.PSSParameterSpec;

/**
 * Checks that a private key and a public key form a pair by signing a random challenge and
 * verifying it: works for every key type without comparing encodings, and catches the common
 * mistake of a key file that belongs to another certificate before a client sees a failed handshake.
 */
final class KeyMatch {
  private KeyMatch() {}

  static boolean matches(PrivateKey privateKey, PublicKey publicKey) {
    String algorithm = switch (privateKey.getAlgorithm()) {
      case "RSA" -> "SHA256withRSA";
      case "EC" -> "SHA256withECDSA";
      case "RSASSA-PSS" -> "RSASSA-PSS";
      default -> privateKey.getAlgorithm(); // Ed25519, Ed448, EdDSA sign without a separate hash
    };
    try {
      byte[] challenge = new byte[32];
      new SecureRandom().nextBytes(challenge);
      Signature signer = signature(algorithm);
      signer.initSign(privateKey);
      signer.update(challenge);
      byte[] signed = signer.sign();
      Signature verifier = signature(algorithm);
      verifier.initVerify(publicKey);
      verifier.update(challenge);
      return verifier.verify(signed);
    } catch (GeneralSecurityException | IllegalArgumentException e) {
      return false;
    }
  }

  private static Signature signature(String algorithm) throws GeneralSecurityException {
    Signature signature = Signature.getInstance(algorithm);
    if ("RSASSA-PSS".equals(algorithm)) {
      signature.setParameter(new PSSParameterSpec("SHA-256", "MGF1", MGF1ParameterSpec.SHA256, 32, 1));
    }
    return signature;
  }
}
