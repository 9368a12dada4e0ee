package dev.gatehouse.audit;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The byte string an event's hash and a checkpoint's signature are computed over.
 *
 * <p>Unambiguous by construction: every field is written in a fixed order, every variable-length
 * value is prefixed with its length (4 bytes, big-endian), every optional value with a presence byte
 * (0 absent, 1 present), every list and map with its element count. So no two different events
 * encode to the same bytes, whatever their fields contain (separators, quotes, newlines). A version
 * tag opens each encoding, so a later format can never be confused with this one.
 *
 * <p>Changing anything here invalidates every stored chain: add a new version tag instead.
 * Not thread-safe; one instance per encoding.
 */
final class CanonicalEncoding {
  static final String EVENT_TAG = "gatehouse.audit.event.v1";
  static final String CHECKPOINT_TAG = "gatehouse.audit.checkpoint.v1";

  private final ByteArrayOutputStream out = new ByteArrayOutputStream(256);

  static String eventHash(String chainId, long seq, String prevHash, EventBody body) {
    CanonicalEncoding e = new CanonicalEncoding();
    e.string(EVENT_TAG);
    e.string(chainId);
    e.int64(seq);
    e.string(prevHash);
    e.string(body.type().name());
    e.instant(body.time());
    e.optionalString(body.sessionId());
    e.present(body.principal().isPresent());
    body.principal().ifPresent(a -> {
      e.string(a.subject());
      e.string(a.issuer());
      e.string(a.displayName());
      e.string(a.kind());
      e.list(a.groups());
    });
    e.optionalString(body.resource());
    e.present(body.client().isPresent());
    body.client().ifPresent(c -> {
      e.string(c.address());
      e.string(c.claimedUser());
      e.string(c.application());
    });
    e.present(body.command().isPresent());
    body.command().ifPresent(c -> {
      e.string(c.protocol());
      e.string(c.text());
      e.list(c.kinds());
      e.list(c.objects());
      e.list(c.functions());
      e.list(c.flags());
      e.map(c.details());
    });
    e.present(body.decision().isPresent());
    body.decision().ifPresent(d -> {
      e.string(d.effect().name());
      e.string(d.rule());
      e.optionalString(d.reason());
    });
    e.present(body.outcome().isPresent());
    body.outcome().ifPresent(o -> {
      e.string(o.status());
      e.int64(o.rows());
      e.optionalString(o.errorCode());
      e.int64(o.durationMillis());
    });
    e.optionalString(body.ref());
    e.map(body.attributes());
    return HexFormat.of().formatHex(sha256(e.out.toByteArray()));
  }

  static byte[] checkpointPayload(String chainId, long seq, String hash, Instant time, String keyId) {
    CanonicalEncoding e = new CanonicalEncoding();
    e.string(CHECKPOINT_TAG);
    e.string(chainId);
    e.int64(seq);
    e.string(hash);
    e.instant(time);
    e.string(keyId);
    return e.out.toByteArray();
  }

  static byte[] sha256(byte[] bytes) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(bytes);
    } catch (NoSuchAlgorithmException e) {
      throw new AuditException("this JDK offers no SHA-256", e);
    }
  }

  private void string(String s) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    int32(b.length);
    out.writeBytes(b);
  }

  private void optionalString(Optional<String> s) {
    present(s.isPresent());
    s.ifPresent(this::string);
  }

  private void present(boolean present) {
    out.write(present ? 1 : 0);
  }

  private void list(List<String> values) {
    int32(values.size());
    values.forEach(this::string);
  }

  /** Callers pass sorted maps, so iteration order is the key order. */
  private void map(Map<String, String> values) {
    int32(values.size());
    values.forEach((k, v) -> {
      string(k);
      string(v);
    });
  }

  private void instant(Instant t) {
    int64(t.getEpochSecond());
    int32(t.getNano());
  }

  private void int32(int v) {
    out.write(v >>> 24);
    out.write(v >>> 16);
    out.write(v >>> 8);
    out.write(v);
  }

  private void int64(long v) {
    int32((int) (v >>> 32));
    int32((int) v);
  }
}
