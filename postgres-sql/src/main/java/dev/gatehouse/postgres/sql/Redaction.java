package dev.gatehouse.postgres.sql;

import java.util.List;
import java.util.Set;

/**
 * Replaces secret-bearing literals in statement text by {@code '***'}. Works on the lexer's tokens,
 * so a literal is replaced whole (prefix, quotes, continuation lines) whatever its quoting. When the
 * lexer cannot read the rest of the text, the rest is replaced: over-redaction is the safe error.
 * Stateless and thread-safe.
 */
final class Redaction {
  static final String MASK = "'***'";

  private Redaction() {}

  /** Every string and dollar-quoted literal replaced. */
  static String allStrings(String text) {
    return redact(text, Set.of(), true);
  }

  /**
   * Literals starting at the given char offsets (or every literal when {@code all}) replaced.
   * Offsets that do not start a literal are ignored.
   */
  static String redact(String text, Set<Integer> starts, boolean all) {
    if (!all && starts.isEmpty()) return text;
    List<Lexer.Token> tokens = Lexer.tokens(text);
    StringBuilder out = new StringBuilder(text.length());
    for (Lexer.Token t : tokens) {
      switch (t.kind()) {
        case STRING, DOLLAR_STRING -> {
          if (all || starts.contains(t.start())) out.append(MASK);
          else out.append(text, t.start(), t.end());
        }
        case ERROR -> {
          out.append(MASK);
          return out.toString();
        }
        default -> out.append(text, t.start(), t.end());
      }
    }
    return out.toString();
  }
}
