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
 * value is prefixed with its length, every optional value with a presence byte (0 absent, 1
 * present), every list and map with its element count. So no two different events encode to the
 * same bytes, whatever their fields contain (separators, quotes, newlines). A version tag opens each
 * encoding, so one format can never be confused with another. Two event formats exist; both are
 * read, only the second is written:
 *
 * <ul>
 *   <li><b>v1</b> ({@value #EVENT_TAG}): lengths and counts as 4-byte big-endian integers; the tag,
 *       the chain id, the seq, the previous hash as 64 hex digits, the type's name, the time as
 *       seconds (8 bytes) and nanoseconds (4), then the body. The stored bytes are the hashed bytes.
 *   <li><b>v2</b> (tag {@code GHE2}, {@link #FORMAT_V2}): lengths, counts and numbers as
 *       variable-length integers (7 bits a byte, least significant group first, the shortest form
 *       only; signed numbers zigzag-encoded), the previous hash as its 32 bytes, the type as one
 *       byte ({@link #typeCode}), the time as seconds and microseconds. The chain id is not stored
 *       in the event: the store's row or the journal's segment that holds the event names its
 *       chain, and the hash covers it all the same, as if written after the tag ({@link
 *       #digestV2}). An event is about 40% smaller than in v1, and every byte of it is copied,
 *       hashed, journaled and stored (bench/README.md, session 9).
 * </ul>
 *
 * <p>Changing anything here invalidates every stored chain: add a new format instead. Not
 * thread-safe; one instance per encoding. It runs for every event on the thread that records it
 * (before the chain's lock, see {@link #unplaced}), so it writes into a plain array (no synchronized
 * stream) and copies ASCII text without an intermediate array; the bytes are exactly those of
 * {@link String#getBytes} in UTF-8.
 */
final class CanonicalEncoding {
  static final String EVENT_TAG = "gatehouse.audit.event.v1";
  static final String CHECKPOINT_TAG = "gatehouse.audit.checkpoint.v1";
  /** The first bytes of a v2 event. */
  static final byte[] EVENT_TAG_V2 = {'G', 'H', 'E', '2'};
  static final int FORMAT_V1 = 1;
  static final int FORMAT_V2 = 2;
  /** What new events are written in. */
  static final int CURRENT_FORMAT = FORMAT_V2;

  private static final ThreadLocal<MessageDigest> SHA256 = ThreadLocal.withInitial(CanonicalEncoding::sha256);

  /** v2's variable-length numbers; v1's fixed 4- and 8-byte ones otherwise. */
  private final boolean compact;
  private byte[] out = new byte[512];
  private int size;

  private CanonicalEncoding(boolean compact) {
    this.compact = compact;
  }

  /** The hash of an event in {@code format}. Throws {@link IllegalArgumentException} when the fields cannot be encoded in it. */
  static String eventHash(int format, String chainId, long seq, String prevHash, EventBody body) {
    byte[] bytes = encodeEvent(format, chainId, seq, prevHash, body);
    return format == FORMAT_V1 ? hash(bytes) : HexFormat.of().formatHex(digestV2(SHA256.get(), chainPrefix(chainId), bytes));
  }

  /** The SHA-256 (lower-case hex) of bytes: a v1 event's hash, of its canonical bytes. */
  static String hash(byte[] canonical) {
    return HexFormat.of().formatHex(SHA256.get().digest(canonical));
  }

  /** A new SHA-256 digest. */
  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new AuditException("this JDK offers no SHA-256", e);
    }
  }

  /**
   * What a v2 event's hash covers before its stored bytes (after their tag): the tag and the chain
   * id (its length as a variable-length integer, then its UTF-8). The same for every event of a
   * chain, so its writer makes it once.
   */
  static byte[] chainPrefix(String chainId) {
    CanonicalEncoding e = new CanonicalEncoding(true);
    e.raw(EVENT_TAG_V2);
    e.string(chainId);
    return java.util.Arrays.copyOf(e.out, e.size);
  }

  /**
   * A v2 event's hash (32 bytes): SHA-256 over {@code prefix} ({@link #chainPrefix} of its chain)
   * and its stored bytes after their tag, with the caller's digest (not shared between threads).
   */
  static byte[] digestV2(MessageDigest sha256, byte[] prefix, byte[] bytes) {
    sha256.update(prefix);
    sha256.update(bytes, EVENT_TAG_V2.length, bytes.length - EVENT_TAG_V2.length);
    return sha256.digest();
  }

  /** The bytes a store and the journal keep of a new event ({@link #CURRENT_FORMAT}). */
  static byte[] encodeEvent(String chainId, long seq, String prevHash, EventBody body) {
    return encodeEvent(CURRENT_FORMAT, chainId, seq, prevHash, body);
  }

  /**
   * The bytes kept of an event in {@code format}: for v1 all of its canonical bytes, for v2 all
   * but its chain id. Throws {@link IllegalArgumentException} for a v2 event whose previous hash is
   * not 64 lower-case hex digits (only a hand-made or altered record has one).
   */
  static byte[] encodeEvent(int format, String chainId, long seq, String prevHash, EventBody body) {
    CanonicalEncoding e = new CanonicalEncoding(format == FORMAT_V2);
    if (format == FORMAT_V1) {
      e.string(EVENT_TAG);
      e.string(chainId);
      e.int64(seq);
      e.string(prevHash);
    } else if (format == FORMAT_V2) {
      e.raw(EVENT_TAG_V2);
      e.ensure(PLACE_SIZE);
      placeAt(e.out, e.size, seq, hashBytes(prevHash));
      e.size += PLACE_SIZE;
    } else {
      throw new IllegalArgumentException("no event format " + format);
    }
    e.body(body);
    return java.util.Arrays.copyOf(e.out, e.size);
  }

  /**
   * A new event's v2 bytes without its place in the chain: seq and previous hash are left as zeros
   * at {@link Unplaced#placeAt}, for {@link #place} to fill once the chain's head is known. This is
   * the costly part of sealing, done before taking the chain's lock, on the caller's thread (into a
   * buffer of that thread's).
   */
  static Unplaced unplaced(EventBody body) {
    CanonicalEncoding e = SCRATCH.get();
    e.size = 0;
    e.raw(EVENT_TAG_V2);
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
   * v2 bytes whose seq and previous hash are still to be written at {@code placeAt}: what {@link
   * #place} completes.
   */
  record Unplaced(byte[] bytes, int placeAt) {}

  /** Bytes of a v2 event's place in the chain: the seq (8) and the previous hash (32). */
  private static final int PLACE_SIZE = 8 + 32;

  /**
   * Writes the event's place in its chain into {@code u}'s bytes, which are then exactly what
   * {@link #encodeEvent} returns for the same event; {@code prevHash} is the previous event's hash
   * as its 32 bytes.
   */
  static void place(Unplaced u, long seq, byte[] prevHash) {
    placeAt(u.bytes(), u.placeAt(), seq, prevHash);
  }

  private static void placeAt(byte[] b, int at, long seq, byte[] prevHash) {
    if (prevHash.length != 32) throw new IllegalArgumentException("a previous hash is 32 bytes");
    for (int i = 7; i >= 0; i--) {
      b[at + i] = (byte) seq;
      seq >>>= 8;
    }
    System.arraycopy(prevHash, 0, b, at + 8, 32);
  }

  /** The 32 bytes 64 lower-case hex digits name; anything else cannot be a v2 event's previous hash. */
  static byte[] hashBytes(String hex) {
    if (hex.length() != 64 || !hex.chars().allMatch(c -> (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      throw new IllegalArgumentException("a previous hash is 64 lower-case hex digits");
    }
    return HexFormat.of().parseHex(hex);
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

  /** One v2 encoder per thread for {@link #unplaced}; it also remembers its thread's last command (see {@link #body}). */
  private static final ThreadLocal<CanonicalEncoding> SCRATCH = ThreadLocal.withInitial(() -> new CanonicalEncoding(true));

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

  /**
   * v2's code for an event type (v1 writes the name). An exhaustive switch: a new type does not
   * compile until it has a code. Codes are stored: never change or reuse one.
   */
  static int typeCode(EventType type) {
    return switch (type) {
      case CHAIN_STARTED -> 1;
      case SESSION_OPENED -> 2;
      case ADMISSION_REFUSED -> 3;
      case COMMAND_DECIDED -> 4;
      case COMMAND_COMPLETED -> 5;
      case SESSION_CLOSED -> 6;
      case EVENTS_LOST -> 7;
      case CHAIN_CLOSED -> 8;
    };
  }

  private static EventType typeOf(int code) {
    for (EventType t : EventType.values()) {
      if (typeCode(t) == code) return t;
    }
    throw new IllegalArgumentException("no event type has code " + code);
  }

  /** Everything after the event's place in the chain. */
  private void body(EventBody body) {
    if (compact) {
      ensure(1);
      out[size++] = (byte) typeCode(body.type());
    } else {
      string(body.type().name());
    }
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
      number(o.rows());
      optionalString(o.errorCode());
      number(o.durationMillis());
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
   * Reads back a v1 event's bytes, with the hash of those bytes: the event exactly as it was sealed.
   * Throws {@link IllegalArgumentException} for bytes it did not write (a torn or corrupted record),
   * and for a v2 event, which needs its chain id ({@link #decodeEvent(String, byte[], String)}).
   */
  static AuditEvent decodeEvent(byte[] bytes) {
    return decodeEvent(null, bytes, null);
  }

  /**
   * Reads back what {@link #encodeEvent} wrote, in either format. {@code chainId} is the chain of
   * the row, segment or record that held the bytes: a v2 event is in that chain (a v1 event names
   * its own, and {@code chainId} is not used). {@code hash}, when given, is taken as the event's hash
   * (a store keeps the hash beside the bytes, and {@code verify} compares the two); when null, the
   * hash is that of the bytes. Throws {@link IllegalArgumentException} for bytes it did not write.
   */
  static AuditEvent decodeEvent(String chainId, byte[] bytes, String hash) {
    boolean v2 = bytes.length >= EVENT_TAG_V2.length && java.util.Arrays.equals(bytes, 0, EVENT_TAG_V2.length, EVENT_TAG_V2, 0, EVENT_TAG_V2.length);
    Reader r = new Reader(bytes, v2);
    long seq;
    String prevHash;
    EventType type;
    if (v2) {
      if (chainId == null) throw new IllegalArgumentException("a v2 event is read with the chain id of what holds it");
      r.pos = EVENT_TAG_V2.length;
      seq = r.int64();
      prevHash = HexFormat.of().formatHex(r.bytes(32));
      type = typeOf(r.int8());
    } else {
      if (!EVENT_TAG.equals(r.string())) throw new IllegalArgumentException("not a " + EVENT_TAG + " encoding, nor v2");
      chainId = r.string();
      seq = r.int64();
      prevHash = r.string();
      type = EventType.valueOf(r.string());
    }
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
        ? Optional.of(new EventBody.Result(r.string(), r.number(), r.optionalString(), r.number()))
        : Optional.empty();
    Optional<String> ref = r.optionalString();
    Map<String, String> attributes = r.map();
    if (r.pos != bytes.length) throw new IllegalArgumentException("trailing bytes after an event");
    EventBody body = new EventBody(type, time, sessionId, principal, resource, client, command, decision, outcome, ref, attributes);
    if (hash == null) {
      hash = v2 ? HexFormat.of().formatHex(digestV2(SHA256.get(), chainPrefix(chainId), bytes)) : hash(bytes);
    }
    return new AuditEvent(chainId, seq, prevHash, body, hash, v2 ? FORMAT_V2 : FORMAT_V1);
  }

  /** Reads the primitives of either format; every read checks the bounds. */
  private static final class Reader {
    private final byte[] in;
    private final boolean compact;
    private int pos;

    Reader(byte[] in, boolean compact) {
      this.in = in;
      this.compact = compact;
    }

    private void need(int n) {
      if (n < 0 || in.length - pos < n) throw new IllegalArgumentException("truncated encoding");
    }

    int int8() {
      need(1);
      return in[pos++] & 0xff;
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

    byte[] bytes(int n) {
      need(n);
      byte[] b = java.util.Arrays.copyOfRange(in, pos, pos + n);
      pos += n;
      return b;
    }

    /**
     * An unsigned variable-length integer (up to 64 bits, so up to 10 bytes), in its shortest form
     * only (a last byte of 0 after others is refused), so that each value has exactly one encoding.
     */
    long varint() {
      long v = 0;
      for (int i = 0; i < 10; i++) {
        int b = int8();
        if (i == 9 && b > 1) throw new IllegalArgumentException("a number out of range");
        v |= (long) (b & 0x7f) << (7 * i);
        if ((b & 0x80) == 0) {
          if (b == 0 && i > 0) throw new IllegalArgumentException("a number not in its shortest form");
          return v;
        }
      }
      throw new IllegalArgumentException("a number out of range");
    }

    /** A length or count: v2's variable-length integer (below 2^31), v1's 4 bytes. */
    int length() {
      if (!compact) return int32();
      long n = varint();
      if (n < 0 || n > Integer.MAX_VALUE) throw new IllegalArgumentException("a length out of range");
      return (int) n;
    }

    /** A signed number: v2's zigzag variable-length integer, v1's 8 bytes. */
    long number() {
      if (!compact) return int64();
      long z = varint();
      return (z >>> 1) ^ -(z & 1);
    }

    String string() {
      int n = length();
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
      int n = length();
      need(n); // every element takes at least one byte: bounds the allocation
      List<String> values = new java.util.ArrayList<>(n);
      for (int i = 0; i < n; i++) values.add(string());
      return values;
    }

    Map<String, String> map() {
      int n = length();
      need(n);
      Map<String, String> values = new java.util.TreeMap<>();
      for (int i = 0; i < n; i++) values.put(string(), string());
      return values;
    }

    Instant instant() {
      if (!compact) {
        long seconds = int64();
        return Instant.ofEpochSecond(seconds, int32());
      }
      long seconds = number();
      long micros = varint();
      if (micros < 0 || micros >= 1_000_000) throw new IllegalArgumentException("microseconds out of range");
      return Instant.ofEpochSecond(seconds, micros * 1000);
    }
  }

  static byte[] checkpointPayload(String chainId, long seq, String hash, Instant time, String keyId) {
    CanonicalEncoding e = new CanonicalEncoding(false);
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
    int prefix = compact ? varintSize(n) : 4;
    ensure(prefix + n);
    int start = size + prefix;
    for (int i = 0; i < n; i++) {
      char c = s.charAt(i);
      if (c >= 0x80) { // not ASCII: let the JDK encode it, exactly as before
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        length(b.length);
        ensure(b.length);
        System.arraycopy(b, 0, out, size, b.length);
        size += b.length;
        return;
      }
      out[start + i] = (byte) c;
    }
    length(n);
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
    length(n);
    for (int i = 0; i < n; i++) string(values.get(i));
  }

  /** Callers pass sorted maps, so iteration order is the key order. */
  private void map(Map<String, String> values) {
    length(values.size());
    // Most events' attributes are empty: an empty sorted map's entry set is still two wrappers and
    // an iterator, per event.
    if (values.isEmpty()) return;
    for (Map.Entry<String, String> entry : values.entrySet()) {
      string(entry.getKey());
      string(entry.getValue());
    }
  }

  /** v2: seconds (signed) and microseconds (the body keeps no finer time); v1: seconds (8 bytes) and nanoseconds (4). */
  private void instant(Instant t) {
    if (compact) {
      number(t.getEpochSecond());
      varint(t.getNano() / 1000);
    } else {
      int64(t.getEpochSecond());
      int32(t.getNano());
    }
  }

  /** A length or count. */
  private void length(int n) {
    if (compact) {
      varint(n);
    } else {
      int32(n);
    }
  }

  /** A signed number: zigzag, so small negative numbers (rows -1) stay short. */
  private void number(long v) {
    if (compact) {
      varint((v << 1) ^ (v >> 63));
    } else {
      int64(v);
    }
  }

  /** An unsigned variable-length integer: 7 bits a byte, least significant first, the high bit set on all but the last. */
  private void varint(long v) {
    ensure(10);
    while ((v & ~0x7fL) != 0) {
      out[size++] = (byte) ((v & 0x7f) | 0x80);
      v >>>= 7;
    }
    out[size++] = (byte) v;
  }

  private static int varintSize(int n) {
    return n < 1 << 7 ? 1 : n < 1 << 14 ? 2 : n < 1 << 21 ? 3 : n < 1 << 28 ? 4 : 5;
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
