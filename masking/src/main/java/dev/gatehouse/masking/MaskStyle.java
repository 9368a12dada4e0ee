package dev.gatehouse.masking;

import java.util.Objects;

/**
 * How a masked column's values are replaced. What each style produces for each {@link TypeFamily}
 * is in the table of docs/masking.md; for text the summary is below. NULL always stays NULL.
 */
public sealed interface MaskStyle {

  /** Text becomes {@code ****} whatever its length; other types their neutral value (0, false, 2000-01-01, nil UUID). */
  record Redact() implements MaskStyle {}

  /**
   * Text keeps its last {@code characters} characters, the others become {@code *} (one per
   * character); a value no longer than {@code characters} is masked whole, so a short value is
   * never shown in clear. Other types as {@link Redact}.
   */
  record KeepLast(int characters) implements MaskStyle {
    public KeepLast {
      if (characters < 1 || characters > 64) throw new IllegalArgumentException("characters not in 1..64: " + characters);
    }
  }

  /** Text becomes {@code text}; other types as {@link Redact}. */
  record Placeholder(String text) implements MaskStyle {
    public Placeholder {
      Objects.requireNonNull(text, "text == null");
    }
  }

  /**
   * Keyed deterministic hashing: text becomes {@code prefix} + the first {@code length} characters
   * of HMAC-SHA-256(key, value) in {@code encoding}, so equal values mask equally and masked columns
   * can still be joined, grouped and counted. Numbers become a number derived from the same hash,
   * UUIDs a UUID. The key is derived per resource (and per principal when {@code perPrincipal}), so
   * masked values cannot be correlated across resources (or people).
   *
   * <p>Deterministic means confirmable: anyone who can guess a candidate value and see a masked
   * value computed with the same key (for example by inserting the guess into a table they can read
   * through the same rule) learns whether the guess was right. Values with little entropy (a
   * yes/no, a birth year, a 4-digit PIN) are not protected by hashing; use redaction for them.
   */
  record Hash(int length, String prefix, Encoding encoding, boolean perPrincipal) implements MaskStyle {
    public Hash {
      Objects.requireNonNull(prefix, "prefix == null");
      Objects.requireNonNull(encoding, "encoding == null");
      if (length < 8 || length > encoding.maxLength()) {
        throw new IllegalArgumentException("length not in 8.." + encoding.maxLength() + ": " + length);
      }
    }
  }

  /** How hash bytes are written as text. */
  enum Encoding {
    /** Lower-case hexadecimal: 4 bits per character, at most 64 characters. */
    HEX(64),
    /** RFC 4648 base32 in lower case, without padding: 5 bits per character, at most 51 characters. */
    BASE32(51);

    private final int maxLength;

    Encoding(int maxLength) {
      this.maxLength = maxLength;
    }

    public int maxLength() {
      return maxLength;
    }
  }
}
