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
 * Not thread-safe; one instance per encoding. It runs for every event on the thread that records it
 * (before the chain's lock, see {@link #unplaced}), so it writes into a plain array (no synchronized
 * stream) and copies ASCII text without an intermediate array; the bytes are exactly those of
 * {@link String#getBytes} in UTF-8.
 */
final class CanonicalEncoding {
  static final String EVENT_TAG = "gatehouse.audit.event.v1";
  static final String CHECKPOINT_TAG = "gatehouse.audit.checkpoint.v1";

  private static final ThreadLocal<MessageDigest> SHA256 = ThreadLocal.withInitial(CanonicalEncoding::sha256);

  private byte[] out = new byte[512];
  private int size;

  static String eventHash(String chainId, long seq, String prevHash, EventBody body) {
    return hash(encodeEvent(chainId, seq, prevHash, body));
  }

  /** The SHA-256 (lower-case hex) of an event's canonical bytes: its hash. */
  static String hash(byte[] canonical) {
    return hash(SHA256.get(), canonical);
  }

  /** The SHA-256 (lower-case hex) of the bytes, with the caller's digest (not shared between threads). */
  static String hash(MessageDigest sha256, byte[] canonical) {
    return HexFormat.of().formatHex(sha256.digest(canonical));
  }

  /** A new SHA-256 digest. */
  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new AuditException("this JDK offers no SHA-256", e);
    }
  }

  /** The canonical bytes of an event: what its hash covers, and what the journal holds. */
  static byte[] encodeEvent(String chainId, long seq, String prevHash, EventBody body) {
    CanonicalEncoding e = new CanonicalEncoding();
    e.event(chainId, seq, prevHash, body);
    return java.util.Arrays.copyOf(e.out, e.size);
  }

  /** Encodes an event into this encoder, replacing what it held. */
  void event(String chainId, long seq, String prevHash, EventBody body) {
    size = 0;
    string(EVENT_TAG);
    string(chainId);
    int64(seq);
    string(prevHash);
    body(body);
  }

  /**
   * An event's canonical bytes without its place in the chain: seq and previous hash are left as
   * zeros at {@link Unplaced#placeAt}, for {@link #place} to fill once the chain's head is known.
   * This is the costly part of sealing, done before taking the chain's lock, on the caller's thread
   * (into a buffer of that thread's).
   */
  static Unplaced unplaced(String chainId, EventBody body) {
    CanonicalEncoding e = SCRATCH.get();
    e.size = 0;
    e.string(EVENT_TAG);
    e.string(chainId);
    int placeAt = e.size;
    e.ensure(PLACE_SIZE);
    java.util.Arrays.fill(e.out, e.size, e.size + PLACE_SIZE, (byte) 0);
    e.size += PLACE_SIZE;
    e.body(body);
    Unplaced u = new Unplaced(java.util.Arrays.copyOf(e.out, e.size), placeAt);
    if (e.out.length > KEPT) e.out = new byte[512]; // a huge statement's buffer is not kept for the thread's life
    return u;
  }

  /**
   * Canonical bytes whose seq and previous hash are still to be written at {@code placeAt}: what
   * {@link #place} completes.
   */
  record Unplaced(byte[] bytes, int placeAt) {}

  /** Bytes of a place in the chain: the seq (8) and the previous hash (its length, 4, and 64 hex digits). */
  private static final int PLACE_SIZE = 8 + 4 + 64;

  /**
   * Writes the event's place in its chain into {@code u}'s bytes, which are then exactly what
   * {@link #encodeEvent} returns for the same event.
   */
  static void place(Unplaced u, long seq, String prevHash) {
    if (prevHash.length() != 64) throw new IllegalArgumentException("a previous hash is 64 hex digits");
    byte[] b = u.bytes();
    int at = u.placeAt();
    for (int i = 7; i >= 0; i--) {
      b[at + i] = (byte) seq;
      seq >>>= 8;
    }
    b[at + 8] = 0;
    b[at + 9] = 0;
    b[at + 10] = 0;
    b[at + 11] = 64;
    for (int i = 0; i < 64; i++) {
      char c = prevHash.charAt(i);
      if (c >= 0x80) throw new IllegalArgumentException("a previous hash is 64 hex digits");
      b[at + 12 + i] = (byte) c;
    }
  }

  /**
   * Largest buffer a thread keeps between events: a thread may live long (a session's, or an event
   * loop's), and a statement of several MiB must not stay in memory with it.
   */
  private static final int KEPT = 64 * 1024;

  /** The calling thread's buffer for {@link #unplaced}, in bytes (for tests). */
  static int scratchCapacity() {
    return SCRATCH.get().out.length;
  }

  /** One encoder per thread for {@link #unplaced}; it also remembers its thread's last command (see {@link #body}). */
  private static final ThreadLocal<CanonicalEncoding> SCRATCH = ThreadLocal.withInitial(CanonicalEncoding::new);

  /**
   * The bytes of parts this encoder wrote recently, by the identity of what they encode: a session's
   * parts (its id, principal, resource and client, which {@code AuditLog} hands as the same
   * instances for all of its events) and a command ({@code AuditLog} hands a session's repeated
   * statement as the same {@link EventBody.CommandRecord} instance). Such a part is copied rather
   * than encoded field by field. Records are immutable, so the same instances always encode to the
   * same bytes. {@value #REMEMBERED} slots each, chosen by identity hash: one event loop thread
   * encodes the events of many sessions in turn, so remembering only the last part would miss
   * almost every time (bench/README.md, session 6). Parts larger than {@value #REMEMBERED_BYTES}
   * bytes are not remembered, so a thread keeps at most {@code 2 x REMEMBERED x REMEMBERED_BYTES}.
   */
  private static final int REMEMBERED = 64;

  private static final int REMEMBERED_BYTES = 2048;

  private final Object[] commandKeys = new Object[REMEMBERED];
  private final byte[][] commandBytes = new byte[REMEMBERED][];
  /** Per slot: session id, principal, resource, client (the {@code Optional} instances). */
  private final Object[][] sessionKeys = new Object[REMEMBERED][];
  private final byte[][] sessionBytes = new byte[REMEMBERED][];

  private static int slot(Object key) {
    int h = System.identityHashCode(key);
    return (h ^ (h >>> 16)) & (REMEMBERED - 1);
  }

  /** Everything after the event's place in the chain. */
  private void body(EventBody body) {
    string(body.type().name());
    instant(body.time());
    session(body);
    present(body.command().isPresent());
    if (body.command().isPresent()) command(body.command().get());
    present(body.decision().isPresent());
    if (body.decision().isPresent()) {
      EventBody.Ruling d = body.decision().get();
      string(d.effect().name());
      string(d.rule());
      optionalString(d.reason());
    }
    present(body.outcome().isPresent());
    if (body.outcome().isPresent()) {
      EventBody.Result o = body.outcome().get();
      string(o.status());
      int64(o.rows());
      optionalString(o.errorCode());
      int64(o.durationMillis());
    }
    optionalString(body.ref());
    map(body.attributes());
  }

  private void session(EventBody body) {
    int slot = slot(body.sessionId());
    Object[] keys = sessionKeys[slot];
    if (keys != null && keys[0] == body.sessionId() && keys[1] == body.principal() && keys[2] == body.resource()
        && keys[3] == body.client()) {
      raw(sessionBytes[slot]);
      return;
    }
    int start = size;
    optionalString(body.sessionId());
    present(body.principal().isPresent());
    if (body.principal().isPresent()) {
      EventBody.Actor a = body.principal().get();
      string(a.subject());
      string(a.issuer());
      string(a.displayName());
      string(a.kind());
      list(a.groups());
    }
    optionalString(body.resource());
    present(body.client().isPresent());
    if (body.client().isPresent()) {
      dev.gatehouse.core.ClientInfo c = body.client().get();
      string(c.address());
      string(c.claimedUser());
      string(c.application());
    }
    if (size - start <= REMEMBERED_BYTES) {
      sessionKeys[slot] = new Object[] {body.sessionId(), body.principal(), body.resource(), body.client()};
      sessionBytes[slot] = java.util.Arrays.copyOfRange(out, start, size);
    }
  }

  private void command(EventBody.CommandRecord c) {
    int slot = slot(c);
    if (commandKeys[slot] == c) {
      raw(commandBytes[slot]);
      return;
    }
    int start = size;
    string(c.protocol());
    string(c.text());
    list(c.kinds());
    list(c.objects());
    list(c.functions());
    list(c.flags());
    map(c.details());
    if (size - start <= REMEMBERED_BYTES) {
      commandKeys[slot] = c;
      commandBytes[slot] = java.util.Arrays.copyOfRange(out, start, size);
    }
  }

  /**
   * Reads back what {@link #encodeEvent} wrote, with the hash of those bytes: the event exactly as
   * it was sealed. Throws {@link IllegalArgumentException} for bytes it did not write (a torn or
   * corrupted journal record).
   */
  static AuditEvent decodeEvent(byte[] bytes) {
    return decodeEvent(bytes, null);
  }

  /**
   * As {@link #decodeEvent(byte[])}, but with {@code hash} as the event's hash instead of the bytes'
   * own (not computed): for a store that keeps the hash beside the bytes, where {@code verify}
   * compares the two.
   */
  static AuditEvent decodeEvent(byte[] bytes, String hash) {
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
    return new AuditEvent(chainId, seq, prevHash, body, hash != null ? hash : hash(bytes));
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
    return sha256().digest(bytes);
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

  /** Bytes this encoder wrote before, copied as they are. */
  private void raw(byte[] bytes) {
    ensure(bytes.length);
    System.arraycopy(bytes, 0, out, size, bytes.length);
    size += bytes.length;
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
    // Most events' attributes are empty: an empty sorted map's entry set is still two wrappers and
    // an iterator, per event.
    if (values.isEmpty()) return;
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
