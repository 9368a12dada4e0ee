package dev.gatehouse.postgres.wire;

/**
 * The fields a relay needs of the frontend messages of a prepared statement's execution (Bind,
 * Describe, Execute, Sync), read where the message lies in the receive buffer: no frame, no copy of
 * the body, no decoded record, no parameter list. libpq sends Bind, Describe, Execute and Sync for
 * every execution of a prepared statement, and each of those objects was one more piece of the
 * statement path's cost (bench/README.md, session 11).
 *
 * <p>It only ever vouches for a message it fully checked: every field within the body, the counts
 * and lengths as {@link FrontendCodec#decode} checks them, nothing after the last field, and names
 * of printable ASCII (without control bytes). For anything else {@link #read} says no, and the caller decodes the
 * message as a {@link Frame}, which reports what is wrong (or handles a name in UTF-8 the long way).
 * So a message accepted here is exactly one the codec would have accepted, with the same fields.
 *
 * <p>Reusable, not thread-safe: one per connection direction; valid until the buffer changes.
 */
public final class InPlaceMessage {
  private byte[] b;
  private int start;
  private int length;
  private byte type;
  /** Bind: the portal; Describe, Execute: the statement's or portal's name. */
  private int nameAt;
  private int nameLength;
  /** Bind: the statement. */
  private int statementAt;
  private int statementLength;
  /** Bind: the result format codes (int16 each). */
  private int resultFormatsAt;
  private int resultFormatCount;
  /** Describe: 'S' or 'P'. */
  private byte kind;
  /** Bind: how many parameter values it carries. */
  private int parameterCount;
  /** Execute: the row limit (0: all). */
  private int maxRows;

  /**
   * Reads the message that starts at {@code b[start]} (its type byte) and is {@code length} bytes
   * long, type and length word included.
   *
   * @return true when it is a Bind, Describe, Execute or Sync that is well-formed with ASCII names;
   *     false for any other message, or one the codec should read (and judge)
   */
  public boolean read(byte[] b, int start, int length) {
    if (length < 5) return false;
    this.b = b;
    this.start = start;
    this.length = length;
    this.type = b[start];
    int at = start + 5;
    int end = start + length;
    switch (type) {
      case Bind.TYPE -> {
        nameAt = at;
        nameLength = asciiString(at, end);
        if (nameLength < 0) return false;
        at += nameLength + 1;
        statementAt = at;
        statementLength = asciiString(at, end);
        if (statementLength < 0) return false;
        at += statementLength + 1;
        if (end - at < 2) return false;
        int formats = uint16(at);
        at += 2;
        if ((long) formats * 2 > end - at) return false;
        at += formats * 2;
        if (end - at < 2) return false;
        int parameters = uint16(at);
        parameterCount = parameters;
        at += 2;
        // PostgreSQL refuses the same (exec_bind_message): one format per parameter, or 0 or 1.
        if (formats > 1 && formats != parameters) return false;
        for (int i = 0; i < parameters; i++) {
          if (end - at < 4) return false;
          int valueLength = int32(at);
          at += 4;
          if (valueLength == -1) continue;
          if (valueLength < 0 || valueLength > end - at) return false;
          at += valueLength;
        }
        if (end - at < 2) return false;
        resultFormatCount = uint16(at);
        at += 2;
        resultFormatsAt = at;
        if ((long) resultFormatCount * 2 != end - at) return false; // nothing may follow the last field
        return true;
      }
      case Describe.TYPE -> {
        if (end - at < 2) return false;
        kind = b[at];
        if (kind != Describe.STATEMENT && kind != Describe.PORTAL) return false;
        nameAt = at + 1;
        nameLength = asciiString(nameAt, end);
        return nameLength >= 0 && nameAt + nameLength + 1 == end;
      }
      case Execute.TYPE -> {
        nameAt = at;
        nameLength = asciiString(at, end);
        if (nameLength < 0 || end - (at + nameLength + 1) != 4) return false;
        maxRows = int32(at + nameLength + 1);
        return true;
      }
      case Sync.TYPE -> {
        return length == 5;
      }
      default -> {
        return false;
      }
    }
  }

  public byte type() {
    return type;
  }

  /** The buffer the message lies in, from {@link #start()}, {@link #length()} bytes. */
  public byte[] array() {
    return b;
  }

  public int start() {
    return start;
  }

  public int length() {
    return length;
  }

  /** Describe: {@link Describe#STATEMENT} or {@link Describe#PORTAL}. */
  public byte kind() {
    return kind;
  }

  /** Execute: the row limit, 0 for all. */
  public int maxRows() {
    return maxRows;
  }

  /**
   * Bind: the portal's name; Describe, Execute: the name they carry. {@code known} when it is that
   * name (no new string for a name the relay saw last time), else a new string.
   */
  public String name(String known) {
    return text(nameAt, nameLength, known);
  }

  /** Bind: the statement's name, as {@link #name}. */
  public String statement(String known) {
    return text(statementAt, statementLength, known);
  }

  /** Bind: the result format codes (protocol rules: none = all text, one = for all columns). */
  /** Bind: how many parameter values it carries. */
  public int parameterCount() {
    return parameterCount;
  }

  public short[] resultFormats() {
    if (resultFormatCount == 0) return NO_FORMATS;
    short[] formats = new short[resultFormatCount];
    for (int i = 0; i < formats.length; i++) formats[i] = (short) uint16(resultFormatsAt + 2 * i);
    return formats;
  }

  private static final short[] NO_FORMATS = new short[0];

  private String text(int at, int n, String known) {
    if (known != null && BodyReader.sameAscii(b, at, n, known)) return known;
    return new String(b, at, n, java.nio.charset.StandardCharsets.US_ASCII);
  }

  /** The length of the NUL-terminated string at {@code at} when it ends before {@code end} and is printable ASCII; else -1. */
  private int asciiString(int at, int end) {
    for (int i = at; i < end; i++) {
      byte c = b[i];
      if (c == 0) return i - at;
      if (c < 0x20 || c == 0x7f) return -1; // negative (not ASCII) included: the codec reads UTF-8
    }
    return -1;
  }

  private int uint16(int at) {
    return ((b[at] & 0xff) << 8) | (b[at + 1] & 0xff);
  }

  private int int32(int at) {
    return BodyReader.int32At(b, at);
  }
}
