package dev.gatehouse.postgres;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.text.Normalizer;

/**
 * SASLprep (RFC 4013, the stringprep profile of RFC 3454) of a SCRAM password, applied exactly
 * where and how PostgreSQL applies it, so the client side computes the same salted password the
 * server stored.
 *
 * <p>PostgreSQL (src/common/saslprep.c and its callers) uses the password as raw bytes whenever
 * SASLprep cannot be applied: the bytes are not valid UTF-8, a prohibited character appears, the
 * bidirectional rules fail, or the result is empty. A pure-ASCII password is used unchanged (even
 * with control characters). We follow the same rules. One approximation: "unassigned code point"
 * (table A.1) is taken from the JDK's newer Unicode tables instead of Unicode 3.2, so a password
 * with a character assigned after 3.2 is normalized here while PostgreSQL would use its raw bytes.
 *
 * <p>Stateless and thread-safe.
 */
final class ScramSaslPrep {
  private ScramSaslPrep() {}

  /** The bytes to feed PBKDF2: the SASLprep'd UTF-8 form, or the input itself (see above). */
  static byte[] prepare(byte[] password) {
    if (isAscii(password)) return password.clone();
    String text;
    try {
      text =
          StandardCharsets.UTF_8
              .newDecoder()
              .onMalformedInput(CodingErrorAction.REPORT)
              .onUnmappableCharacter(CodingErrorAction.REPORT)
              .decode(ByteBuffer.wrap(password))
              .toString();
    } catch (CharacterCodingException e) {
      return password.clone();
    }
    StringBuilder mapped = new StringBuilder(text.length());
    text.codePoints()
        .forEach(
            cp -> {
              if (isNonAsciiSpace(cp)) mapped.append(' '); // RFC 4013 2.1, table C.1.2
              else if (!isMappedToNothing(cp)) mapped.appendCodePoint(cp); // table B.1
            });
    String normalized = Normalizer.normalize(mapped, Normalizer.Form.NFKC); // RFC 4013 2.2
    if (normalized.isEmpty()) return password.clone();
    boolean randAl = false;
    boolean lCat = false;
    for (int i = 0; i < normalized.length(); ) {
      int cp = normalized.codePointAt(i);
      i += Character.charCount(cp);
      if (isProhibited(cp) || Character.getType(cp) == Character.UNASSIGNED) {
        return password.clone();
      }
      byte direction = Character.getDirectionality(cp);
      randAl |=
          direction == Character.DIRECTIONALITY_RIGHT_TO_LEFT
              || direction == Character.DIRECTIONALITY_RIGHT_TO_LEFT_ARABIC;
      lCat |= direction == Character.DIRECTIONALITY_LEFT_TO_RIGHT;
    }
    // RFC 3454 section 6: a string with right-to-left characters holds no left-to-right ones and
    // starts and ends with a right-to-left character.
    if (randAl
        && (lCat
            || !isRandAl(normalized.codePointAt(0))
            || !isRandAl(normalized.codePointBefore(normalized.length())))) {
      return password.clone();
    }
    ByteBuffer encoded = StandardCharsets.UTF_8.encode(CharBuffer.wrap(normalized));
    byte[] out = new byte[encoded.remaining()];
    encoded.get(out);
    return out;
  }

  private static boolean isAscii(byte[] bytes) {
    for (byte b : bytes) if (b < 0) return false;
    return true;
  }

  private static boolean isRandAl(int cp) {
    byte direction = Character.getDirectionality(cp);
    return direction == Character.DIRECTIONALITY_RIGHT_TO_LEFT
        || direction == Character.DIRECTIONALITY_RIGHT_TO_LEFT_ARABIC;
  }

  /** RFC 3454 table C.1.2. */
  private static boolean isNonAsciiSpace(int cp) {
    return cp == 0x00A0
        || cp == 0x1680
        || (cp >= 0x2000 && cp <= 0x200B)
        || cp == 0x202F
        || cp == 0x205F
        || cp == 0x3000;
  }

  /** RFC 3454 table B.1. */
  private static boolean isMappedToNothing(int cp) {
    return cp == 0x00AD
        || cp == 0x034F
        || cp == 0x1806
        || (cp >= 0x180B && cp <= 0x180D)
        || (cp >= 0x200B && cp <= 0x200D)
        || cp == 0x2060
        || (cp >= 0xFE00 && cp <= 0xFE0F)
        || cp == 0xFEFF;
  }

  /** RFC 4013 section 2.3: tables C.1.2, C.2.1, C.2.2, C.3 to C.9. */
  private static boolean isProhibited(int cp) {
    return isNonAsciiSpace(cp)
        || cp < 0x20
        || cp == 0x7F // C.2.1
        || (cp >= 0x80 && cp <= 0x9F)
        || cp == 0x06DD
        || cp == 0x070F
        || cp == 0x180E
        || cp == 0x200C
        || cp == 0x200D
        || cp == 0x2028
        || cp == 0x2029
        || (cp >= 0x2060 && cp <= 0x2063)
        || (cp >= 0x206A && cp <= 0x206F)
        || cp == 0xFEFF
        || (cp >= 0xFFF9 && cp <= 0xFFFC)
        || (cp >= 0x1D173 && cp <= 0x1D17A) // C.2.2
        || (cp >= 0xE000 && cp <= 0xF8FF)
        || (cp >= 0xF0000 && cp <= 0xFFFFD)
        || (cp >= 0x100000 && cp <= 0x10FFFD) // C.3
        || (cp >= 0xFDD0 && cp <= 0xFDEF)
        || (cp & 0xFFFE) == 0xFFFE // C.4: the last two code points of every plane
        || (cp >= 0xD800 && cp <= 0xDFFF) // C.5
        || (cp >= 0xFFF9 && cp <= 0xFFFD) // C.6
        || (cp >= 0x2FF0 && cp <= 0x2FFB) // C.7
        || cp == 0x0340
        || cp == 0x0341
        || cp == 0x200E
        || cp == 0x200F
        || (cp >= 0x202A && cp <= 0x202E) // C.8
        || cp == 0xE0001
        || (cp >= 0xE0020 && cp <= 0xE007F); // C.9
  }
}
