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
