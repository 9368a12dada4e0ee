package dev.gatehouse.masking;

import java.util.Locale;

/**
 * A shell-style pattern over names, case-insensitive: {@code *} matches any run of characters,
 * {@code ?} exactly one. Patterns come from configuration, so this is not a regular expression:
 * matching is one greedy pass that remembers the last star, linear in practice and at worst
 * O(pattern × text). Immutable.
 */
final class Glob {
  private final String pattern;

  private Glob(String pattern) {
    this.pattern = pattern.toLowerCase(Locale.ROOT);
  }

  static Glob of(String pattern) {
    return new Glob(pattern);
  }

  boolean matchesEverything() {
    return pattern.chars().allMatch(c -> c == '*');
  }

  boolean matches(String text) {
    String t = text.toLowerCase(Locale.ROOT);
    int p = 0, i = 0, star = -1, mark = 0;
    int pl = pattern.length(), tl = t.length();
    while (i < tl) {
      char pc = p < pl ? pattern.charAt(p) : 0;
      if (p < pl && pc == '*') {
        star = p++;
        mark = i;
      } else if (p < pl && (pc == '?' || pc == t.charAt(i))) {
        p++;
        i++;
      } else if (star >= 0) {
        p = star + 1;
        i = ++mark;
      } else {
        return false;
      }
    }
    while (p < pl && pattern.charAt(p) == '*') p++;
    return p == pl;
  }

  @Override
  public String toString() {
    return pattern;
  }
}
