package dev.gatehouse.postgres;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import java.util.Objects;
import java.util.Optional;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The client side of one SCRAM-SHA-256 exchange (RFC 5802, RFC 7677), optionally with the {@code
 * tls-server-end-point} channel binding of RFC 5929 (SCRAM-SHA-256-PLUS), as PostgreSQL speaks it.
 *
 * <p>Use once, in order: {@link #clientFirstMessage()}, {@link #clientFinalMessage(byte[])} with
 * the server-first-message, then {@link #verifyServerFinal(byte[])} with the server-final-message.
 * The last step is what makes the server prove it knows the password's verifier; a caller must
 * not accept AuthenticationOk unless {@link #serverVerified()} is true. Not thread-safe: one
 * exchange, one thread.
 *
 * <p>Failures are {@link PostgresGatewayException}s with SQLSTATE 08P01 (the server broke the
 * protocol) or 28000 (the server could not prove itself); none mentions the password.
 */
final class ScramClient {
  static final String SCRAM_SHA_256 = "SCRAM-SHA-256";
  static final String SCRAM_SHA_256_PLUS = "SCRAM-SHA-256-PLUS";

  /** More would let a hostile target burn our CPU; PostgreSQL's default is 4096. */
  static final int MAX_ITERATIONS = 10_000_000;

  private enum State {
    INITIAL,
    FIRST_SENT,
    FINAL_SENT,
    VERIFIED
  }

  private final byte[] password;
  private final String gs2Header;
  private final byte[] channelBindingData;
  private final String clientNonce;
  private final String clientFirstBare;
  private State state = State.INITIAL;
  private String authMessage;
  private byte[] expectedServerSignature;

  /**
   * @param password the password as stored, before SASLprep (this class applies it)
   * @param channelBinding the tls-server-end-point hash when binding to the TLS channel
   *     (SCRAM-SHA-256-PLUS); empty for plain SCRAM-SHA-256
   * @param tlsWithoutPlus true when the connection uses TLS but the server did not offer
   *     SCRAM-SHA-256-PLUS: the gs2 flag "y" then lets a server that does support binding detect
   *     that the offer was stripped on the way (RFC 5802 section 6)
   * @param random the source of the client nonce
   */
  ScramClient(
      byte[] password, Optional<byte[]> channelBinding, boolean tlsWithoutPlus, SecureRandom random) {
    this(password, channelBinding, tlsWithoutPlus, newNonce(random), "");
  }

  /** For tests with fixed vectors (RFC 7677 section 3 uses user "user"). */
  ScramClient(
      byte[] password,
      Optional<byte[]> channelBinding,
      boolean tlsWithoutPlus,
      String clientNonce,
      String user) {
    Objects.requireNonNull(password, "password == null");
    Objects.requireNonNull(channelBinding, "channelBinding == null");
    if (channelBinding.isPresent() && tlsWithoutPlus) {
      throw new IllegalArgumentException("channel binding data given with tlsWithoutPlus");
    }
    this.password = ScramSaslPrep.prepare(password);
    this.channelBindingData = channelBinding.map(byte[]::clone).orElse(new byte[0]);
    this.gs2Header =
        channelBinding.isPresent() ? "p=tls-server-end-point,," : tlsWithoutPlus ? "y,," : "n,,";
    this.clientNonce = clientNonce;
    // PostgreSQL ignores the SCRAM user name (the startup packet's user counts) and libpq sends it
    // empty; a name would need "=2C"/"=3D" escaping, so we send none either.
    this.clientFirstBare = "n=" + user + ",r=" + clientNonce;
  }

  /** The mechanism name to put in SASLInitialResponse. */
  String mechanism() {
    return channelBindingData.length > 0 ? SCRAM_SHA_256_PLUS : SCRAM_SHA_256;
  }

  /** The client-first-message, the payload of SASLInitialResponse. */
  byte[] clientFirstMessage() {
    expect(State.INITIAL);
    state = State.FIRST_SENT;
    return ascii(gs2Header + clientFirstBare);
  }

  /**
   * Checks the server-first-message and returns the client-final-message (payload of
   * SASLResponse), which carries the proof that we know the password.
   */
  byte[] clientFinalMessage(byte[] serverFirstBytes) {
    expect(State.FIRST_SENT);
    String serverFirst = new String(serverFirstBytes, StandardCharsets.UTF_8);
    String[] parts = serverFirst.split(",", -1);
    if (parts.length < 3
        || !parts[0].startsWith("r=")
        || !parts[1].startsWith("s=")
        || !parts[2].startsWith("i=")) {
      // A leading "m=" (mandatory extension) also lands here: we support none, so we must refuse.
      throw protocol("server-first-message is not r=...,s=...,i=...");
    }
    String nonce = parts[0].substring(2);
    if (!nonce.startsWith(clientNonce) || nonce.length() == clientNonce.length()) {
      throw protocol("server nonce does not extend the client nonce");
    }
    if (!nonce.chars().allMatch(c -> c >= 0x21 && c <= 0x7E && c != ',')) {
      throw protocol("server nonce holds characters outside printable ASCII");
    }
    byte[] salt;
    try {
      salt = Base64.getDecoder().decode(parts[1].substring(2));
    } catch (IllegalArgumentException e) {
      throw protocol("salt is not valid base64");
    }
    if (salt.length == 0) throw protocol("salt is empty");
    int iterations;
    try {
      iterations = Integer.parseInt(parts[2].substring(2));
    } catch (NumberFormatException e) {
      throw protocol("iteration count is not a number");
    }
    if (iterations < 1 || iterations > MAX_ITERATIONS) {
      throw protocol("iteration count out of range 1.." + MAX_ITERATIONS + ": " + iterations);
    }

    byte[] cbindInput = concat(ascii(gs2Header), channelBindingData);
    String clientFinalWithoutProof =
        "c=" + Base64.getEncoder().encodeToString(cbindInput) + ",r=" + nonce;
    authMessage = clientFirstBare + "," + serverFirst + "," + clientFinalWithoutProof;

    byte[] saltedPassword = hi(password, salt, iterations);
    byte[] clientKey = hmac(saltedPassword, ascii("Client Key"));
    byte[] storedKey = sha256(clientKey);
    byte[] clientSignature = hmac(storedKey, ascii(authMessage));
    byte[] proof = new byte[clientKey.length];
    for (int i = 0; i < proof.length; i++) proof[i] = (byte) (clientKey[i] ^ clientSignature[i]);
    byte[] serverKey = hmac(saltedPassword, ascii("Server Key"));
    expectedServerSignature = hmac(serverKey, ascii(authMessage));
    Arrays.fill(saltedPassword, (byte) 0);
    Arrays.fill(clientKey, (byte) 0);

    state = State.FINAL_SENT;
    return ascii(clientFinalWithoutProof + ",p=" + Base64.getEncoder().encodeToString(proof));
  }

  /**
   * Checks the server-final-message: the server's signature must be the one only a holder of the
   * password's verifier can compute. Throws otherwise.
   */
  void verifyServerFinal(byte[] serverFinalBytes) {
    expect(State.FINAL_SENT);
    String serverFinal = new String(serverFinalBytes, StandardCharsets.UTF_8);
    if (serverFinal.startsWith("e=")) {
      throw new PostgresGatewayException(
          "28000", "target refused the SCRAM exchange: " + printable(serverFinal.substring(2)));
    }
    if (!serverFinal.startsWith("v=")) throw protocol("server-final-message is not v=...");
    int end = serverFinal.indexOf(',');
    String encoded = serverFinal.substring(2, end < 0 ? serverFinal.length() : end);
    byte[] signature;
    try {
      signature = Base64.getDecoder().decode(encoded);
    } catch (IllegalArgumentException e) {
      throw protocol("server signature is not valid base64");
    }
    if (!MessageDigest.isEqual(signature, expectedServerSignature)) {
      throw new PostgresGatewayException(
          "28000",
          "target's SCRAM server signature is wrong: the server does not know this role's"
              + " password verifier, refusing it");
    }
    state = State.VERIFIED;
  }

  /** True once the server proved it knows the verifier. */
  boolean serverVerified() {
    return state == State.VERIFIED;
  }

  private void expect(State expected) {
    if (state != expected) {
      throw protocol("SCRAM message out of order: expected state " + expected + ", in " + state);
    }
  }

  /** RFC 5802 Hi(): PBKDF2 with HMAC-SHA-256 and one output block. */
  static byte[] hi(byte[] password, byte[] salt, int iterations) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      // An empty password is legal in SCRAM but not as an HMAC key spec; a zero block is the same
      // key for HMAC (keys are zero-padded to the block size).
      mac.init(new SecretKeySpec(password.length == 0 ? new byte[1] : password, "HmacSHA256"));
      mac.update(salt);
      byte[] u = mac.doFinal(new byte[] {0, 0, 0, 1});
      byte[] result = u.clone();
      for (int i = 1; i < iterations; i++) {
        u = mac.doFinal(u);
        for (int j = 0; j < result.length; j++) result[j] ^= u[j];
      }
      return result;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 unavailable", e);
    }
  }

  private static byte[] hmac(byte[] key, byte[] data) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      return mac.doFinal(data);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 unavailable", e);
    }
  }

  private static byte[] sha256(byte[] data) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(data);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("SHA-256 unavailable", e);
    }
  }

  private static String newNonce(SecureRandom random) {
    byte[] raw = new byte[18]; // as libpq: 18 random bytes, 24 base64 characters
    random.nextBytes(raw);
    return Base64.getEncoder().encodeToString(raw);
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  private static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static String printable(String s) {
    String cut = s.length() > 200 ? s.substring(0, 200) : s;
    return cut.replaceAll("[^\\x20-\\x7E]", "?");
  }

  private static PostgresGatewayException protocol(String message) {
    return new PostgresGatewayException("08P01", "SCRAM: " + message);
  }
}
