package dev.gatehouse.audit;

import java.security.GeneralSecurityException;
import java.security.PublicKey;
import java.security.Signature;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Base64;
import java.util.Objects;

/**
 * A signed statement by a chain's writer: "chain {@code chainId} had, at {@code time}, the event
 * {@code seq} with hash {@code hash}". Signed with Ed25519 by a key kept outside the store, so
 * someone who can write to the store can delete checkpoints but cannot forge or move one: a chain
 * that is truncated below a checkpoint, or recomputed after an edit, no longer matches it.
 *
 * @param keyId names the public key that verifies the signature ({@link AuditSigner#keyId})
 * @param signature base64 Ed25519 signature over the canonical encoding of the other fields
 */
public record SignedCheckpoint(String chainId, long seq, String hash, Instant time, String keyId, String signature) {
  public SignedCheckpoint {
    Objects.requireNonNull(chainId, "chainId == null");
    if (seq < 1) throw new IllegalArgumentException("seq < 1");
    Objects.requireNonNull(hash, "hash == null");
    time = Objects.requireNonNull(time, "time == null").truncatedTo(ChronoUnit.MICROS);
    Objects.requireNonNull(keyId, "keyId == null");
    Objects.requireNonNull(signature, "signature == null");
  }

  /** Whether {@code key} signed exactly these fields. Never throws for a malformed signature. */
  public boolean verifiedBy(PublicKey key) {
    try {
      Signature verifier = Signature.getInstance("Ed25519");
      verifier.initVerify(key);
      verifier.update(CanonicalEncoding.checkpointPayload(chainId, seq, hash, time, keyId));
      return verifier.verify(Base64.getDecoder().decode(signature));
    } catch (GeneralSecurityException | IllegalArgumentException e) {
      return false;
    }
  }

  static SignedCheckpoint sign(AuditSigner signer, String chainId, long seq, String hash, Instant time) {
    Instant t = time.truncatedTo(ChronoUnit.MICROS);
    byte[] sig = signer.sign(CanonicalEncoding.checkpointPayload(chainId, seq, hash, t, signer.keyId()));
    return new SignedCheckpoint(chainId, seq, hash, t, signer.keyId(), Base64.getEncoder().encodeToString(sig));
  }
}
