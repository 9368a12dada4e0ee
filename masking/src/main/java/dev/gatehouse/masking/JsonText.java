package dev.gatehouse.masking;

/**
 * The little of JSON's text syntax (RFC 8259) masking needs: reading a string token into UTF-8,
 * writing UTF-8 back as a string token, telling a key from a value. Stateless.
 */
final class JsonText {
  private static final byte[] HEX = "0123456789abcdef".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

  private JsonText() {}

  static boolean isNumberByte(byte x) {
    return (x >= '0' && x <= '9') || x == '.' || x == 'e' || x == 'E' || x == '+' || x == '-';
  }

  /** Whether the string token that ended just before {@code p} is an object key. */
  static boolean isKey(byte[] b, int p, int end) {
    while (p < end && (b[p] == ' ' || b[p] == '\t' || b[p] == '\n' || b[p] == '\r')) p++;
    return p < end && b[p] == ':';
  }

  /**
   * Decodes the string token whose opening quote is at {@code p} into {@code out} as UTF-8.
   *
   * @return the index just past the closing quote, or -1 when the token is malformed
   */
  static int unescape(byte[] b, int p, int end, MaskOutput out) {
    int i = p + 1;
    while (i < end) {
      byte c = b[i];
      if (c == '"') return i + 1;
      if (c != '\\') {
        out.write(c);
        i++;
        continue;
      }
      if (i + 1 >= end) return -1;
      byte e = b[i + 1];
      i += 2;
      switch (e) {
        case '"', '\\', '/' -> out.write(e);
        case 'b' -> out.write('\b');
        case 'f' -> out.write('\f');
        case 'n' -> out.write('\n');
        case 'r' -> out.write('\r');
        case 't' -> out.write('\t');
        case 'u' -> {
          int cp = hex4(b, i, end);
          if (cp < 0) return -1;
          i += 4;
          if (cp >= 0xD800 && cp <= 0xDBFF && i + 5 < end && b[i] == '\\' && b[i + 1] == 'u') {
            int low = hex4(b, i + 2, end);
            if (low >= 0xDC00 && low <= 0xDFFF) {
              cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
              i += 6;
            }
          }
          writeUtf8(cp, out);
        }
        default -> {
          return -1;
        }
      }
    }
    return -1;
  }

  private static int hex4(byte[] b, int i, int end) {
    if (i + 4 > end) return -1;
    int v = 0;
    for (int j = 0; j < 4; j++) {
      int d = Character.digit(b[i + j], 16);
      if (d < 0) return -1;
      v = (v << 4) | d;
    }
    return v;
  }

  private static void writeUtf8(int cp, MaskOutput out) {
    if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD; // a lone surrogate
    if (cp < 0x80) {
      out.write(cp);
    } else if (cp < 0x800) {
      out.write(0xC0 | (cp >> 6));
      out.write(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out.write(0xE0 | (cp >> 12));
      out.write(0x80 | ((cp >> 6) & 0x3F));
      out.write(0x80 | (cp & 0x3F));
    } else {
      out.write(0xF0 | (cp >> 18));
      out.write(0x80 | ((cp >> 12) & 0x3F));
      out.write(0x80 | ((cp >> 6) & 0x3F));
      out.write(0x80 | (cp & 0x3F));
    }
  }

  /** Writes UTF-8 text as a JSON string token, quotes included. */
  static void escape(byte[] b, int off, int len, MaskOutput out) {
    out.write('"');
    for (int i = off; i < off + len; i++) {
      int c = b[i] & 0xff;
      if (c == '"' || c == '\\') {
        out.write('\\');
        out.write(c);
      } else if (c < 0x20) {
        out.write('\\');
        out.write('u');
        out.write('0');
        out.write('0');
        out.write(HEX[c >> 4]);
        out.write(HEX[c & 0xf]);
      } else {
        out.write(c);
      }
    }
    out.write('"');
  }
}
