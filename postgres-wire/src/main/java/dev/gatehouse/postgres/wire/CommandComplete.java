package dev.gatehouse.postgres.wire;

import java.util.OptionalLong;
import java.util.Set;

/** CommandComplete: a command finished; {@code tag} is the command tag, e.g. {@code "INSERT 0 3"}. */
public record CommandComplete(String tag) implements BackendMessage {
  public static final byte TYPE = 'C';

  // Tags that end in a row count (PostgreSQL documentation, CommandComplete).
  private static final Set<String> COUNTING =
      Set.of("INSERT", "DELETE", "UPDATE", "MERGE", "SELECT", "MOVE", "FETCH", "COPY");

  public CommandComplete {
    Values.text(tag, "tag");
  }

  /**
   * The number of rows the command reports ({@code "SELECT 5"} → 5, {@code "INSERT 0 3"} → 3,
   * {@code "COPY 10"} → 10), empty for tags that carry no count ({@code "CREATE TABLE"}) or whose
   * count is malformed.
   */
  public OptionalLong rows() {
    int space = tag.indexOf(' ');
    if (space < 0 || !COUNTING.contains(tag.substring(0, space))) {
      return OptionalLong.empty();
    }
    String count = tag.substring(tag.lastIndexOf(' ') + 1);
    if (count.isEmpty() || count.length() > 19) {
      return OptionalLong.empty();
    }
    for (int i = 0; i < count.length(); i++) {
      if (count.charAt(i) < '0' || count.charAt(i) > '9') {
        return OptionalLong.empty();
      }
    }
    try {
      return OptionalLong.of(Long.parseLong(count));
    } catch (NumberFormatException tooLarge) {
      return OptionalLong.empty();
    }
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
