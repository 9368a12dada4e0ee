package dev.gatehouse.audit;

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
 * Not thread-safe; one instance per encoding. It runs for every event on the audit writer's
 * thread, so it writes into a plain array (no synchronized stream) and copies ASCII text without
 * an intermediate array; the bytes are exactly those of {@link String#getBytes} in UTF-8.
 */
final class CanonicalEncoding {
  static final String EVENT_TAG = "gatehouse.audit.event.v1";
  static final String CHECKPOINT_TAG = "gatehouse.audit.checkpoint.v1";

  private static final ThreadLocal<MessageDigest> SHA256 = ThreadLocal.withInitial(() -> {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new AuditException("this JDK offers no SHA-256", e);
    }
  });

  private byte[] out = new byte[512];
  private int size;

  static String eventHash(String chainId, long seq, String prevHash, EventBody body) {
    return hash(encodeEvent(chainId, seq, prevHash, body));
  }

  /** The SHA-256 (lower-case hex) of an event's canonical bytes: its hash. */
  static String hash(byte[] canonical) {
    return hash(canonical, canonical.length);
  }

  /** The SHA-256 (lower-case hex) of the first {@code length} bytes. */
  static String hash(byte[] canonical, int length) {
    MessageDigest sha256 = SHA256.get();
    sha256.update(canonical, 0, length);
    return HexFormat.of().formatHex(sha256.digest());
  }

  /** The canonical bytes of an event: what its hash covers, and what the journal holds. */
  static byte[] encodeEvent(String chainId, long seq, String prevHash, EventBody body) {
    CanonicalEncoding e = new CanonicalEncoding();
    e.event(chainId, seq, prevHash, body);
    return java.util.Arrays.copyOf(e.out, e.size);
  }

  /** A reusable encoder (not thread-safe): {@link #event} then {@link #bytes()} / {@link #size()}. */
  static CanonicalEncoding reusable() {
    return new CanonicalEncoding();
  }

  /** The encoder's buffer; its first {@link #size()} bytes are the encoding. */
  byte[] bytes() {
    return out;
  }

  int size() {
    return size;
  }

  /** Encodes an event into this encoder, replacing what it held. */
  void event(String chainId, long seq, String prevHash, EventBody body) {
    size = 0;
    CanonicalEncoding e = this;
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
  }

  /**
   * Reads back what {@link #encodeEvent} wrote, with the hash of those bytes: the event exactly as
   * it was sealed. Throws {@link IllegalArgumentException} for bytes it did not write (a torn or
   * corrupted journal record).
   */
  static AuditEvent decodeEvent(byte[] bytes) {
    Reader r = new Reader(bytes);
    if (!EVENT_TAG.equals(r.string())) throw new IllegalArgumentException("not a " + EVENT_TAG + " encoding");
    String chainId = r.string();
    long seq = r.int64();
    String prevHash = r.string();
    EventType type = EventType.valueOf(r.string());
    Instant time = r.instant();
    Optional<String> sessionId = r.optionalString();
    Optional<EventBody.Actor> principal = r.present()
        ? Optional.of(new EventBody.Actor(r.string(), r.string(), r.string(), r.string(), r.list()))
        : Optional.empty();
    Optional<String> resource = r.optionalString();
    Optional<dev.gatehouse.core.ClientInfo> client = r.present()
        ? Optional.of(new dev.gatehouse.core.ClientInfo(r.string(), r.string(), r.string()))
        : Optional.empty();
    Optional<EventBody.CommandRecord> command = r.present()
        ? Optional.of(new EventBody.CommandRecord(r.string(), r.string(), r.list(), r.list(), r.list(), r.list(), r.map()))
        : Optional.empty();
    Optional<EventBody.Ruling> decision = r.present()
        ? Optional.of(new EventBody.Ruling(EventBody.Ruling.Effect.valueOf(r.string()), r.string(), r.optionalString()))
        : Optional.empty();
    Optional<EventBody.Result> outcome = r.present()
        ? Optional.of(new EventBody.Result(r.string(), r.int64(), r.optionalString(), r.int64()))
        : Optional.empty();
    Optional<String> ref = r.optionalString();
    Map<String, String> attributes = r.map();
    if (r.pos != bytes.length) throw new IllegalArgumentException("trailing bytes after an event");
    EventBody body = new EventBody(type, time, sessionId, principal, resource, client, command, decision, outcome, ref, attributes);
    return new AuditEvent(chainId, seq, prevHash, body, hash(bytes));
  }

  /** Reads the primitives of this encoding; every read checks the bounds. */
  private static final class Reader {
    private final byte[] in;
    private int pos;

    Reader(byte[] in) {
      this.in = in;
    }

    private void need(int n) {
      if (n < 0 || in.length - pos < n) throw new IllegalArgumentException("truncated encoding");
    }

    int int32() {
      need(4);
      int v = ((in[pos] & 0xff) << 24) | ((in[pos + 1] & 0xff) << 16) | ((in[pos + 2] & 0xff) << 8) | (in[pos + 3] & 0xff);
      pos += 4;
      return v;
    }

    long int64() {
      return ((long) int32() << 32) | (int32() & 0xffffffffL);
    }

    String string() {
      int n = int32();
      need(n);
      String s = new String(in, pos, n, StandardCharsets.UTF_8);
      pos += n;
      return s;
    }

    boolean present() {
      need(1);
      byte b = in[pos++];
      if (b != 0 && b != 1) throw new IllegalArgumentException("bad presence byte");
      return b == 1;
    }

    Optional<String> optionalString() {
      return present() ? Optional.of(string()) : Optional.empty();
    }

    List<String> list() {
      int n = int32();
      need(n); // every element takes at least one byte: bounds the allocation
      List<String> values = new java.util.ArrayList<>(n);
      for (int i = 0; i < n; i++) values.add(string());
      return values;
    }

    Map<String, String> map() {
      int n = int32();
      need(n);
      Map<String, String> values = new java.util.TreeMap<>();
      for (int i = 0; i < n; i++) values.put(string(), string());
      return values;
    }

    Instant instant() {
      long seconds = int64();
      return Instant.ofEpochSecond(seconds, int32());
    }
  }

  static byte[] checkpointPayload(String chainId, long seq, String hash, Instant time, String keyId) {
    CanonicalEncoding e = new CanonicalEncoding();
    e.string(CHECKPOINT_TAG);
    e.string(chainId);
    e.int64(seq);
    e.string(hash);
    e.instant(time);
    e.string(keyId);
    return java.util.Arrays.copyOf(e.out, e.size);
  }

  static byte[] sha256(byte[] bytes) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(bytes);
    } catch (NoSuchAlgorithmException e) {
      throw new AuditException("this JDK offers no SHA-256", e);
    }
  }

  private void string(String s) {
    int n = s.length();
    ensure(4 + n);
    int start = size + 4;
    for (int i = 0; i < n; i++) {
      char c = s.charAt(i);
      if (c >= 0x80) { // not ASCII: let the JDK encode it, exactly as before
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        int32(b.length);
        ensure(b.length);
        System.arraycopy(b, 0, out, size, b.length);
        size += b.length;
        return;
      }
      out[start + i] = (byte) c;
    }
    int32(n);
    size += n;
  }

  private void ensure(int more) {
    if (size + more > out.length) out = java.util.Arrays.copyOf(out, Math.max(out.length * 2, size + more));
  }

  private void optionalString(Optional<String> s) {
    present(s.isPresent());
    s.ifPresent(this::string);
  }

  private void present(boolean present) {
    ensure(1);
    out[size++] = (byte) (present ? 1 : 0);
  }

  private void list(List<String> values) {
    int n = values.size();
    int32(n);
    for (int i = 0; i < n; i++) string(values.get(i));
  }

  /** Callers pass sorted maps, so iteration order is the key order. */
  private void map(Map<String, String> values) {
    int32(values.size());
    for (Map.Entry<String, String> entry : values.entrySet()) {
      string(entry.getKey());
      string(entry.getValue());
    }
  }

  private void instant(Instant t) {
    int64(t.getEpochSecond());
    int32(t.getNano());
  }

  private void int32(int v) {
    ensure(4);
    out[size] = (byte) (v >>> 24);
    out[size + 1] = (byte) (v >>> 16);
    out[size + 2] = (byte) (v >>> 8);
    out[size + 3] = (byte) v;
    size += 4;
  }

  private void int64(long v) {
    int32((int) (v >>> 32));
    int32((int) v);
  }
}
