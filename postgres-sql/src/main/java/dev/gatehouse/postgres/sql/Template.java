package dev.gatehouse.postgres.sql;

import java.util.Arrays;
import java.util.Optional;

/**
 * A query text with each numeric literal replaced by a placeholder: the key under which {@link
 * CachingClassifier} keeps what a full parse proved about every text of that shape. Made by one pass
 * of the {@link Lexer}, so a digit inside a string, a dollar-quoted body, a comment or a quoted
 * identifier is text, not a literal, exactly as PostgreSQL 15's scanner reads it.
 *
 * <p>The placeholder keeps the scanner's token type, since the grammar may accept one and not the
 * other: {@link #INTEGER} for an integer that fits in 32 bits (scan.l's {@code ICONST}), {@link
 * #NUMERIC} for every other number ({@code FCONST}: a fraction, an exponent, or an integer too large).
 * A text that holds either placeholder character anywhere (even inside a string) has no template, so
 * a key names one token sequence only. Neither has a text the lexer cannot read, nor one without a
 * number (the exact-text cache serves those). Immutable.
 */
final class Template {
  static final char INTEGER = '\u0001';
  static final char NUMERIC = '\u0002';

  private final String key;
  /** Char offsets of each number token. */
  private final int[] starts;
  private final int[] ends;
  /** Offset of a {@code -} operator token right before the number (only blanks and comments between), or -1. */
  private final int[] minus;

  private Template(String key, int[] starts, int[] ends, int[] minus) {
    this.key = key;
    this.starts = starts;
    this.ends = ends;
    this.minus = minus;
  }

  /** The template of {@code sql}, or empty when it has none (see the type's contract). */
  static Optional<Template> of(String sql) {
    if (sql.indexOf(INTEGER) >= 0 || sql.indexOf(NUMERIC) >= 0) return Optional.empty();
    StringBuilder key = null;
    int[] starts = new int[4];
    int[] ends = new int[4];
    int[] minus = new int[4];
    int count = 0;
    int copied = 0;
    int lastMinus = -1;
    int n = sql.length();
    for (int i = 0; i < n; ) {
      long scanned = Lexer.scan(sql, i);
      int end = Lexer.end(scanned);
      switch (Lexer.kind(scanned)) {
        case ERROR -> {
          return Optional.empty();
        }
        case WHITESPACE, COMMENT -> {}
        case NUMBER -> {
          if (key == null) key = new StringBuilder(n);
          if (count == starts.length) {
            starts = Arrays.copyOf(starts, count * 2);
            ends = Arrays.copyOf(ends, count * 2);
            minus = Arrays.copyOf(minus, count * 2);
          }
          starts[count] = i;
          ends[count] = end;
          minus[count] = lastMinus;
          count++;
          key.append(sql, copied, i).append(isInteger(sql, i, end) ? INTEGER : NUMERIC);
          copied = end;
          lastMinus = -1;
        }
        case OPERATOR -> lastMinus = end == i + 1 && sql.charAt(i) == '-' ? i : -1;
        default -> lastMinus = -1;
      }
      i = end;
    }
    if (count == 0) return Optional.empty();
    key.append(sql, copied, n);
    return Optional.of(new Template(key.toString(), Arrays.copyOf(starts, count),
        Arrays.copyOf(ends, count), Arrays.copyOf(minus, count)));
  }

  /**
   * Whether the number token {@code sql[start, end)} is an {@code ICONST} to PostgreSQL 15: digits only,
   * and a value that fits in a signed 32-bit int ({@code process_integer_literal}); else {@code FCONST}.
   */
  static boolean isInteger(String sql, int start, int end) {
    long value = 0;
    for (int i = start; i < end; i++) {
      char c = sql.charAt(i);
      if (c < '0' || c > '9') return false;
      value = value * 10 + (c - '0');
      if (value > Integer.MAX_VALUE) return false;
    }
    return true;
  }

  String key() {
    return key;
  }

  int count() {
    return starts.length;
  }

  int start(int k) {
    return starts[k];
  }

  int end(int k) {
    return ends[k];
  }

  int minus(int k) {
    return minus[k];
  }

  /** Whether {@code offset} falls strictly inside a number token. */
  boolean insideNumber(int offset) {
    for (int k = 0; k < starts.length; k++) {
      if (starts[k] < offset && offset < ends[k]) return true;
    }
    return false;
  }

  /**
   * Where {@code offset} of this template's text lies in {@code other}'s text (same key): shifted by
   * the length differences of the numbers that end at or before it. {@code offset} must not fall
   * inside a number.
   */
  int shift(int offset, Template other) {
    int shifted = offset;
    for (int k = 0; k < starts.length && ends[k] <= offset; k++) {
      shifted += (other.ends[k] - other.starts[k]) - (ends[k] - starts[k]);
    }
    return shifted;
  }

  /** Approximate chars held, for the cache's size bound. */
  int weight() {
    return key.length() + 3 * 2 * starts.length + 32;
  }
}
