package dev.gatehouse.masking;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.Optional;
import javax.crypto.Mac;
import javax.crypto.ShortBufferException;
import javax.crypto.spec.SecretKeySpec;

/**
 * Masks the values of one column: one style, one type family, one format. Writes the masked value
 * so that it stays valid for the type (the table in docs/masking.md). Built by the planner for a
 * plan; holds an HMAC instance and scratch buffers, so it is not thread-safe and allocates nothing
 * per value for text, numbers, dates and UUIDs (JSON values allocate a little per string).
 */
final class ValueMasker {
  private static final byte[] STARS = "****".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] HEX = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] BASE32 = "abcdefghijklmnopqrstuvwxyz234567".getBytes(StandardCharsets.US_ASCII);
  private static final long[] POW10 = new long[19];

  static {
    POW10[0] = 1;
    for (int i = 1; i < POW10.length; i++) POW10[i] = POW10[i - 1] * 10;
  }

  private final MaskStyle style;
  private final TypeFamily type;
  private final ValueFormat format;
  private final Mac mac;
  private final byte[] digest = new byte[32];
  private final byte[] placeholder;
  private final byte[] prefix;
  private final byte[] scratch = new byte[40];
  private MaskOutput json;
  private MaskOutput jsonMasked;

  private ValueMasker(MaskStyle style, TypeFamily type, ValueFormat format, Optional<byte[]> key) {
    this.style = style;
    this.type = type;
    this.format = format;
    this.placeholder = style instanceof MaskStyle.Placeholder p ? p.text().getBytes(StandardCharsets.UTF_8) : STARS;
    this.prefix = style instanceof MaskStyle.Hash h ? h.prefix().getBytes(StandardCharsets.UTF_8) : new byte[0];
    if (style instanceof MaskStyle.Hash) {
      byte[] k = key.orElseThrow(() -> new MaskingException("style hash needs a key, and none was given"));
      try {
        mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(k, "HmacSHA256"));
      } catch (GeneralSecurityException e) {
        throw new MaskingException("HMAC-SHA-256 is not available in this JVM", e);
      }
    } else {
      mac = null;
    }
  }

  /**
   * A masker for the column, or empty when values of this type cannot be masked in this format
   * (composite and other types, whose text or binary form masking does not know).
   */
  static Optional<ValueMasker> create(MaskStyle style, TypeFamily type, ValueFormat format, Optional<byte[]> key) {
    if (type == TypeFamily.OTHER || type == TypeFamily.COMPOSITE) return Optional.empty();
    return Optional.of(new ValueMasker(style, type, format, key));
  }

  /**
   * Appends the masked form of {@code b[off, off+len)} (a non-NULL value) to {@code out}.
   *
   * @return the number of bytes appended
   */
  int mask(byte[] b, int off, int len, MaskOutput out) {
    int start = out.length();
    boolean binary = format == ValueFormat.BINARY;
    switch (type) {
      case TEXT -> maskText(b, off, len, out);
      case INTEGER -> {
        if (binary) maskBinaryInteger(b, off, len, out);
        else maskNumberText(b, off, len, out);
      }
      case DECIMAL -> {
        if (binary) out.fill(0, len); // 0 for float4/float8
        else maskNumberText(b, off, len, out);
      }
      case NUMERIC -> {
        if (binary) maskBinaryNumeric(b, off, len, out);
        else maskNumberText(b, off, len, out);
      }
      case BOOLEAN -> {
        if (binary) out.write(0);
        else out.write('f');
      }
      case DATE, TIME, TIMESTAMP, TIMESTAMPTZ -> {
        // Binary date/time values count from 2000-01-01 00:00 UTC: all zero bytes is that instant.
        if (binary) out.fill(0, len);
        else out.writeAscii(switch (type) {
          case DATE -> "2000-01-01";
          case TIME -> "00:00:00";
          case TIMESTAMP -> "2000-01-01 00:00:00";
          default -> "2000-01-01 00:00:00+00";
        });
      }
      case UUID -> maskUuid(b, off, len, out);
      case JSON -> {
        int p = off;
        if (binary && len > 0 && b[off] == 1) { // jsonb's binary form: a version byte, then the text
          out.write(1);
          p++;
        }
        maskJson(b, p, off + len, out);
      }
      case BYTEA -> {
        if (!binary) out.writeAscii("\\x"); // the empty byte string
      }
      case COMPOSITE, OTHER -> throw new MaskingException("cannot mask values of type family " + type);
    }
    return out.length() - start;
  }

  // ---- text --------------------------------------------------------------------------------

  void maskText(byte[] b, int off, int len, MaskOutput out) {
    switch (style) {
      case MaskStyle.Redact r -> out.write(STARS);
      case MaskStyle.Placeholder p -> out.write(placeholder);
      case MaskStyle.KeepLast k -> {
        int chars = 0;
        for (int i = off; i < off + len; i++) if ((b[i] & 0xC0) != 0x80) chars++;
        if (chars <= k.characters()) {
          out.fill('*', chars);
          return;
        }
        int hide = chars - k.characters(), seen = 0, i = off;
        while (i < off + len) {
          if ((b[i] & 0xC0) != 0x80 && seen++ == hide) break;
          i++;
        }
        out.fill('*', hide);
        out.write(b, i, off + len - i);
      }
      case MaskStyle.Hash h -> {
        hmac(b, off, len);
        out.write(prefix);
        encode(h, out);
      }
    }
  }

  private void encode(MaskStyle.Hash h, MaskOutput out) {
    if (h.encoding() == MaskStyle.Encoding.HEX) {
      for (int i = 0; i < h.length(); i++) {
        int v = digest[i >> 1] & 0xff;
        out.write(HEX[(i & 1) == 0 ? v >>> 4 : v & 0xf]);
      }
    } else {
      for (int i = 0; i < h.length(); i++) {
        int bit = i * 5, index = bit >> 3, shift = bit & 7;
        int v = ((digest[index] & 0xff) << 8) | (index + 1 < digest.length ? digest[index + 1] & 0xff : 0);
        out.write(BASE32[(v >>> (11 - shift)) & 0x1f]);
      }
    }
  }

  private void hmac(byte[] b, int off, int len) {
    mac.update(b, off, len);
    try {
      mac.doFinal(digest, 0);
    } catch (ShortBufferException e) {
      throw new IllegalStateException("digest buffer", e);
    }
  }

  private long hashLong() {
    long v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | (digest[i] & 0xff);
    return v;
  }

  // ---- numbers -----------------------------------------------------------------------------

  /**
   * Text numbers become 0, or under {@code hash} a number derived from the hash with fewer integer
   * digits than the value had, so it fits any column the value fitted ({@code int2} included).
   */
  private void maskNumberText(byte[] b, int off, int len, MaskOutput out) {
    if (!(style instanceof MaskStyle.Hash)) {
      out.write('0');
      return;
    }
    int digits = 0;
    for (int i = off; i < off + len; i++) {
      byte x = b[i];
      if (x >= '0' && x <= '9') digits++;
      else if (x == '.' || x == 'e' || x == 'E') break;
    }
    if (digits <= 1) {
      out.write('0');
      return;
    }
    hmac(b, off, len);
    long n = Long.remainderUnsigned(hashLong(), POW10[Math.min(digits - 1, 18)]);
    writeDecimal(n, out);
  }

  private void maskBinaryInteger(byte[] b, int off, int len, MaskOutput out) {
    if (len != 2 && len != 4 && len != 8) throw new MaskingException("a binary integer of " + len + " bytes cannot be masked");
    if (!(style instanceof MaskStyle.Hash)) {
      out.fill(0, len);
      return;
    }
    long v = 0;
    for (int i = 0; i < len; i++) v = (v << 8) | (b[off + i] & 0xff);
    v = (v << (64 - 8 * len)) >> (64 - 8 * len); // sign-extend
    // Hash the decimal text so that binary and text results of one value mask alike.
    int n = writeDecimalTo(v, scratch);
    long masked = hashedNumber(scratch, scratch.length - n, n, out);
    for (int i = len - 1; i >= 0; i--) out.write((int) (masked >>> (8 * i)));
  }

  /**
   * The number {@link #maskNumberText} makes of the decimal text {@code b[off, off+len)}, as a value
   * rather than text (for a binary result); {@code out} is used as scratch and left as it was.
   */
  private long hashedNumber(byte[] b, int off, int len, MaskOutput out) {
    int start = out.length();
    maskNumberText(b, off, len, out);
    long masked = 0;
    for (int i = start; i < out.length(); i++) masked = masked * 10 + (out.array()[i] - '0');
    out.truncate(start);
    return masked;
  }

  /**
   * A binary {@code numeric}: zero (its 8-byte header with no digits), or under {@code hash} the
   * number the hash of its text form gives (review round 45: 0 in binary against the hashed number
   * in text, so one row's masked value changed when pgjdbc switched to binary transfer). The text
   * form is PostgreSQL's own ({@code numeric_out}: every digit of the integer part, exactly {@code
   * dscale} after the point); NaN and the infinities, whose text masks to 0, are 0.
   */
  private void maskBinaryNumeric(byte[] b, int off, int len, MaskOutput out) {
    if (len < 8) throw new MaskingException("a binary numeric of " + len + " bytes cannot be masked");
    int ndigits = u16(b, off), weight = (short) u16(b, off + 2), sign = u16(b, off + 4), dscale = u16(b, off + 6);
    if (len != 8 + 2 * ndigits) throw new MaskingException("a binary numeric of " + len + " bytes cannot hold " + ndigits + " digits");
    if (!(style instanceof MaskStyle.Hash) || (sign != 0 && sign != 0x4000)) {
      out.fill(0, 8);
      return;
    }
    byte[] text = new byte[2 + 4 * Math.max(weight + 1, 1) + dscale + 4];
    int p = 0;
    if (sign == 0x4000) text[p++] = '-';
    if (weight < 0) {
      text[p++] = '0';
    } else {
      for (int d = 0; d <= weight; d++) {
        int digit = d < ndigits ? u16(b, off + 8 + 2 * d) : 0;
        // The first digit without its leading zeros, the others with all four.
        for (int k = 1000; k > 0; k /= 10) {
          if (d > 0 || digit >= k || k == 1) text[p++] = (byte) ('0' + digit / k % 10);
        }
      }
    }
    if (dscale > 0) {
      text[p++] = '.';
      for (int d = weight + 1, written = 0; written < dscale; d++) {
        int digit = d >= 0 && d < ndigits ? u16(b, off + 8 + 2 * d) : 0;
        for (int k = 1000; k > 0 && written < dscale; k /= 10, written++) text[p++] = (byte) ('0' + digit / k % 10);
      }
    }
    long masked = hashedNumber(text, 0, p, out);
    // The same number in numeric's binary form: base-10000 digits, no leading or trailing zero digit, scale 0.
    int groups = 0;
    long[] digits = new long[5];
    for (long v = masked; v != 0; v /= 10_000) digits[groups++] = v % 10_000;
    int last = 0;
    while (last < groups && digits[last] == 0) last++; // trailing zero groups (stored least significant first here)
    int n = groups - last;
    writeU16(out, n);
    writeU16(out, groups == 0 ? 0 : groups - 1);
    writeU16(out, 0);
    writeU16(out, 0);
    for (int i = groups - 1; i >= last; i--) writeU16(out, (int) digits[i]);
  }

  private static int u16(byte[] b, int at) {
    return ((b[at] & 0xff) << 8) | (b[at + 1] & 0xff);
  }

  private static void writeU16(MaskOutput out, int v) {
    out.write(v >>> 8);
    out.write(v);
  }

  private void writeDecimal(long n, MaskOutput out) {
    int count = writeDecimalTo(n, scratch);
    out.write(scratch, scratch.length - count, count);
  }

  /** Writes {@code n} right-aligned at the end of {@code buf}; returns the number of bytes. */
  private static int writeDecimalTo(long n, byte[] buf) {
    int p = buf.length;
    boolean negative = n < 0;
    long v = n;
    do {
      long q = v / 10;
      buf[--p] = (byte) ('0' + Math.abs((int) (v - q * 10)));
      v = q;
    } while (v != 0);
    if (negative) buf[--p] = '-';
    return buf.length - p;
  }

  // ---- UUID --------------------------------------------------------------------------------

  private void maskUuid(byte[] b, int off, int len, MaskOutput out) {
    boolean binary = format == ValueFormat.BINARY;
    if (!(style instanceof MaskStyle.Hash)) {
      if (binary) out.fill(0, 16);
      else out.writeAscii("00000000-0000-0000-0000-000000000000");
      return;
    }
    if (binary) {
      if (len != 16) throw new MaskingException("a binary UUID of " + len + " bytes cannot be masked");
      formatUuid(b, off, scratch);
      hmac(scratch, 0, 36);
    } else {
      if (len > scratch.length) throw new MaskingException("a UUID of " + len + " characters cannot be masked");
      for (int i = 0; i < len; i++) scratch[i] = (byte) Character.toLowerCase(b[off + i]);
      hmac(scratch, 0, len);
    }
    // A version-8 (custom) UUID: valid for every parser, never mistaken for a random v4.
    digest[6] = (byte) ((digest[6] & 0x0f) | 0x80);
    digest[8] = (byte) ((digest[8] & 0x3f) | 0x80);
    if (binary) {
      out.write(digest, 0, 16);
    } else {
      formatUuid(digest, 0, scratch);
      out.write(scratch, 0, 36);
    }
  }

  private static void formatUuid(byte[] b, int off, byte[] into) {
    int p = 0;
    for (int i = 0; i < 16; i++) {
      if (i == 4 || i == 6 || i == 8 || i == 10) into[p++] = '-';
      into[p++] = HEX[(b[off + i] & 0xff) >>> 4];
      into[p++] = HEX[b[off + i] & 0xf];
    }
  }

  // ---- JSON --------------------------------------------------------------------------------

  /**
   * JSON keeps its structure and keys (a column's document: its keys are the application's);
   * string values are masked as text, numbers as numbers, {@code true}, {@code false} and {@code
   * null} stay. A document masking cannot read becomes the JSON {@code null}.
   */
  private void maskJson(byte[] b, int off, int end, MaskOutput out) {
    if (json == null) {
      json = new MaskOutput(64);
      jsonMasked = new MaskOutput(64);
    }
    int start = out.length();
    int p = off;
    while (p < end) {
      byte c = b[p];
      if (c == '"') {
        json.reset();
        int q = JsonText.unescape(b, p, end, json);
        if (q < 0) {
          out.truncate(start);
          out.writeAscii("null");
          return;
        }
        if (JsonText.isKey(b, q, end)) {
          out.write(b, p, q - p);
        } else {
          jsonMasked.reset();
          maskText(json.array(), 0, json.length(), jsonMasked);
          JsonText.escape(jsonMasked.array(), 0, jsonMasked.length(), out);
        }
        p = q;
      } else if (c == '-' || (c >= '0' && c <= '9')) {
        int q = p + 1;
        while (q < end && JsonText.isNumberByte(b[q])) q++;
        maskNumberText(b, p, q - p, out);
        p = q;
      } else {
        out.write(c);
        p++;
      }
    }
  }
}
