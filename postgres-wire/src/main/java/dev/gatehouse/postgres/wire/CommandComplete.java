package dev.gatehouse.postgres.wire;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.OptionalLong;

/** CommandComplete: a command finished; {@code tag} is the command tag, e.g. {@code "INSERT 0 3"}. */
public record CommandComplete(String tag) implements BackendMessage {
  public static final byte TYPE = 'C';

  // Tags that end in a row count (PostgreSQL documentation, CommandComplete).
  private static final List<String> COUNTING =
      List.of("SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "MOVE", "FETCH", "COPY");

  public CommandComplete {
    Values.text(tag, "tag");
  }

  /**
   * The number of rows the command reports ({@code "SELECT 5"} → 5, {@code "INSERT 0 3"} → 3,
   * {@code "COPY 10"} → 10), empty for tags that carry no count ({@code "CREATE TABLE"}) or whose
   * count is malformed. (The relay reads a tag's count where it lies: {@link #rowsInPlace}.)
   */
  public OptionalLong rows() {
    byte[] b = tag.getBytes(StandardCharsets.UTF_8);
    long count = count(b, 0, b.length);
    return count >= 0 ? OptionalLong.of(count) : OptionalLong.empty();
  }

  /** {@link #rowsInPlace}: a tag that carries no row count. */
  public static final long NO_COUNT = -1;
  /** {@link #rowsInPlace}: a body this cannot vouch for; decode it ({@link BackendCodec#decode}), which judges it. */
  public static final long DECODE = -2;

  /**
   * {@link #rows()} of the CommandComplete whose body lies at {@code b[from]}, {@code length} bytes
   * (the tag and its NUL), read where it lies: the count, {@link #NO_COUNT}, or {@link #DECODE} when
   * the body is not a tag of printable ASCII ending in its only NUL (the codec reads, and judges,
   * anything else). For a body it vouches for, the answer is the decoded message's {@code rows()}.
   */
  public static long rowsInPlace(byte[] b, int from, int length) {
    int end = from + length - 1; // the NUL
    if (length < 1 || b[end] != 0) return DECODE;
    for (int i = from; i < end; i++) {
      if (b[i] < 0x20 || b[i] == 0x7f) return DECODE; // NUL, control bytes and non-ASCII: the codec decides
    }
    return count(b, from, end);
  }

  /** The tag PostgreSQL answers a ROLLBACK with, and a COMMIT of a transaction that had failed. */
  public static final String ROLLBACK = "ROLLBACK";

  /**
   * Whether the CommandComplete body at {@code b[from]}, {@code length} bytes (the tag and its NUL),
   * is the tag {@value #ROLLBACK}, read where it lies.
   */
  public static boolean rollbackInPlace(byte[] b, int from, int length) {
    return length == ROLLBACK.length() + 1 && b[from + ROLLBACK.length()] == 0
        && BodyReader.sameAscii(b, from, ROLLBACK.length(), ROLLBACK);
  }

  /**
   * The count at the end of the tag in {@code b[from, end)} (UTF-8), or {@link #NO_COUNT}: its first
   * word must be one of {@link #COUNTING} and its last word 1 to 19 digits that fit a long. Bytes of
   * other characters are never a space or a digit, so this reads UTF-8 as the tag's characters.
   */
  private static long count(byte[] b, int from, int end) {
    int space = -1;
    int lastSpace = -1;
    for (int i = from; i < end; i++) {
      if (b[i] == ' ') {
        if (space < 0) space = i;
        lastSpace = i;
      }
    }
    if (space < 0 || !counting(b, from, space - from)) return NO_COUNT;
    int digits = end - (lastSpace + 1);
    if (digits == 0 || digits > 19) return NO_COUNT;
    long count = 0;
    for (int i = lastSpace + 1; i < end; i++) {
      int d = b[i] - '0';
      if (d < 0 || d > 9) return NO_COUNT;
      if (count > (Long.MAX_VALUE - d) / 10) return NO_COUNT; // too large for a long
      count = count * 10 + d;
    }
    return count;
  }

  /** Whether the {@code length} bytes at {@code b[from]} are a tag's first word that ends in a row count. */
  private static boolean counting(byte[] b, int from, int length) {
    for (int i = 0; i < COUNTING.size(); i++) {
      if (BodyReader.sameAscii(b, from, length, COUNTING.get(i))) return true;
    }
    return false;
  }

  /** The command word(s) without the counts: {@code "INSERT 0 3"} → {@code "INSERT"}. */
  public String command() {
    int space = tag.indexOf(' ');
    if (space >= 0 && COUNTING.contains(tag.substring(0, space))) {
      return tag.substring(0, space);
    }
    return tag;
  }
}
