package dev.gatehouse.postgres.wire;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * A bounds-checked cursor over one message body. Every read checks the bytes that remain first,
 * so a count or length taken from the wire can never make the codec read past the body or
 * allocate more than the body holds. Not thread-safe; one per decode.
 */
final class BodyReader {
  private final byte[] body;
  private final String message;
  private int pos;

  BodyReader(byte[] body, String message) {
    this.body = body;
    this.message = message;
  }

  int remaining() {
    return body.length - pos;
  }

  private void need(int n, String what) {
    if (n < 0 || n > body.length - pos) {
      throw ProtocolException.violation(
          message + ": " + what + " needs " + n + " bytes but only " + remaining() + " remain");
    }
  }

  /**
   * Checks that {@code count} elements of at least {@code minSize} bytes each can fit in what
   * remains, before anything is allocated for them.
   */
  void needElements(int count, int minSize, String what) {
    if (count < 0) {
      throw ProtocolException.violation(message + ": " + what + " count " + count + " < 0");
    }
    if ((long) count * minSize > remaining()) {
      throw ProtocolException.violation(
          message + ": " + what + " count " + count + " exceeds the " + remaining()
              + " bytes that remain");
    }
  }

  byte int8() {
    need(1, "a byte");
    return body[pos++];
  }

  short int16() {
    need(2, "an int16");
    short v = (short) (((body[pos] & 0xff) << 8) | (body[pos + 1] & 0xff));
    pos += 2;
    return v;
  }

  /** An int16 read as unsigned, the way PostgreSQL reads counts. */
  int uint16() {
    return int16() & 0xffff;
  }

  int int32() {
    need(4, "an int32");
    int v = int32At(body, pos);
    pos += 4;
    return v;
  }

  void skip(int n) {
    need(n, "a value");
    pos += n;
  }

  byte[] bytes(int n) {
    need(n, "a value");
    byte[] v = new byte[n];
    System.arraycopy(body, pos, v, 0, n);
    pos += n;
    return v;
  }

  byte[] rest() {
    return bytes(remaining());
  }

  short[] int16s(int count, String what) {
    needElements(count, 2, what);
    short[] v = new short[count];
    for (int i = 0; i < count; i++) {
      v[i] = int16();
    }
    return v;
  }

  int[] int32s(int count, String what) {
    needElements(count, 4, what);
    int[] v = new int[count];
    for (int i = 0; i < count; i++) {
      v[i] = int32();
    }
    return v;
  }

  /** An int32 length then that many bytes; -1 means SQL NULL and gives null. */
  byte[] nullableValue(String what) {
    int length = int32();
    if (length == -1) {
      return null;
    }
    if (length < 0) {
      throw ProtocolException.violation(message + ": " + what + " length " + length + " < -1");
    }
    return bytes(length);
  }

  Optional<byte[]> nullableBytes32() {
    return Optional.ofNullable(nullableValue("value"));
  }

  /** Whether the {@code n} bytes at {@code b[at]} are {@code s}'s characters, byte for char (ASCII), without a string made of them. */
  static boolean sameAscii(byte[] b, int at, int n, String s) {
    if (s.length() != n) return false;
    for (int i = 0; i < n; i++) {
      if (b[at + i] != s.charAt(i)) return false;
    }
    return true;
  }

  /** A NUL-terminated UTF-8 string. */
  String cstring() {
    int end = pos;
    while (end < body.length && body[end] != 0) {
      end++;
    }
    if (end == body.length) {
      throw ProtocolException.violation(message + ": string is not NUL-terminated");
    }
    String s = utf8(body, pos, end - pos, message);
    pos = end + 1;
    return s;
  }

  /** Checks that nothing follows the last field. */
  void expectEnd() {
    if (pos != body.length) {
      throw ProtocolException.violation(
          message + ": " + remaining() + " unexpected bytes after the last field");
    }
  }

  static int int32At(byte[] b, int at) {
    return ((b[at] & 0xff) << 24) | ((b[at + 1] & 0xff) << 16) | ((b[at + 2] & 0xff) << 8)
        | (b[at + 3] & 0xff);
  }

  /**
   * Strict UTF-8: malformed input is refused, never replaced. Replacing it would let the text
   * Gatehouse classifies differ from the bytes the server executes.
   */
  static String utf8(byte[] b, int offset, int length, String message) {
    boolean ascii = true;
    for (int i = offset; i < offset + length; i++) {
      if (b[i] < 0) {
        ascii = false;
        break;
      }
    }
    if (ascii) {
      return new String(b, offset, length, StandardCharsets.US_ASCII);
    }
    try {
      return StandardCharsets.UTF_8
          .newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(b, offset, length))
          .toString();
    } catch (CharacterCodingException e) {
      throw new ProtocolException(
          ProtocolException.CHARACTER_NOT_IN_REPERTOIRE, message + ": string is not valid UTF-8");
    }
  }
}
