package dev.gatehouse.postgres.wire;

import java.util.OptionalLong;
import java.util.List;

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
   * count is malformed.
   */
  public OptionalLong rows() {
    // Read in place: this runs for every statement the relay completes.
    int space = tag.indexOf(' ');
    if (space < 0 || !counting(space)) {
      return OptionalLong.empty();
    }
    int from = tag.lastIndexOf(' ') + 1;
    int digits = tag.length() - from;
    if (digits == 0 || digits > 19) {
      return OptionalLong.empty();
    }
    long count = 0;
    for (int i = from; i < tag.length(); i++) {
      char c = tag.charAt(i);
      if (c < '0' || c > '9') {
        return OptionalLong.empty();
      }
      if (count > (Long.MAX_VALUE - (c - '0')) / 10) {
        return OptionalLong.empty(); // too large for a long
      }
      count = count * 10 + (c - '0');
    }
    return OptionalLong.of(count);
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
    int space = -1;
    int lastSpace = -1;
    for (int i = from; i < end; i++) {
      byte c = b[i];
      if (c < 0x20 || c == 0x7f) return DECODE; // NUL, control bytes and non-ASCII: the codec decides
      if (c == ' ') {
        if (space < 0) space = i;
        lastSpace = i;
      }
    }
    if (space < 0 || !countingAt(b, from, space - from)) return NO_COUNT;
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

  private static boolean countingAt(byte[] b, int from, int length) {
    for (int i = 0; i < COUNTING.size(); i++) {
      String word = COUNTING.get(i);
      if (BodyReader.sameAscii(b, from, length, word)) return true;
    }
    return false;
  }

  /** Whether the tag's first word, {@code length} chars long, is one that ends in a row count. */
  private boolean counting(int length) {
    for (int i = 0; i < COUNTING.size(); i++) {
      String word = COUNTING.get(i);
      if (word.length() == length && tag.startsWith(word)) return true;
    }
    return false;
  }

  /** The command word(s) without the counts: {@code "INSERT 0 3"} → {@code "INSERT"}. */
  public String command() {
    int space = tag.indexOf(' ');
    if (space >= 0 && counting(space)) {
      return tag.substring(0, space);
    }
    return tag;
  }
}
