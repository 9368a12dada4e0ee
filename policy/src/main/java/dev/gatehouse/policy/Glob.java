package dev.gatehouse.policy;

import java.util.Objects;

/**
 * A compiled shell-style pattern: {@code *} matches any run of characters (dots included), {@code
 * ?} exactly one, everything else itself. Patterns come from users, so this is deliberately not a
 * regular expression: matching is a single greedy pass with one backtrack point, at most
 * O(pattern × text) and never exponential. Patterns without wildcards, and the common {@code
 * prefix*} / {@code *suffix} shapes, take a fast path chosen at compile time. Immutable, thread-safe.
 */
final class Glob {
  private enum Shape { EXACT, ANY, PREFIX, SUFFIX, GENERAL }

  private final String pattern;
  private final Shape shape;
  private final String literal;

  private Glob(String pattern) {
    this.pattern = pattern;
    int stars = count(pattern, '*');
    boolean question = pattern.indexOf('?') >= 0;
    if (stars == 0 && !question) {
      shape = Shape.EXACT;
      literal = pattern;
    } else if (pattern.chars().allMatch(c -> c == '*')) {
      shape = Shape.ANY;
      literal = "";
    } else if (!question && stars == 1 && pattern.endsWith("*")) {
      shape = Shape.PREFIX;
      literal = pattern.substring(0, pattern.length() - 1);
    } else if (!question && stars == 1 && pattern.startsWith("*")) {
      shape = Shape.SUFFIX;
      literal = pattern.substring(1);
    } else {
      shape = Shape.GENERAL;
      literal = pattern;
    }
  }

  static Glob compile(String pattern) {
    Objects.requireNonNull(pattern, "pattern == null");
    return new Glob(pattern);
  }

  static boolean hasWildcard(String s) {
    return s.indexOf('*') >= 0 || s.indexOf('?') >= 0;
  }

  String pattern() {
    return pattern;
  }

  boolean isExact() {
    return shape == Shape.EXACT;
  }

  boolean matches(String text, boolean ignoreCase) {
    return switch (shape) {
      case EXACT -> ignoreCase ? literal.equalsIgnoreCase(text) : literal.equals(text);
      case ANY -> true;
      case PREFIX -> text.regionMatches(ignoreCase, 0, literal, 0, literal.length());
      case SUFFIX -> text.length() >= literal.length()
          && text.regionMatches(ignoreCase, text.length() - literal.length(), literal, 0, literal.length());
      case GENERAL -> general(text, ignoreCase);
    };
  }

  /** Greedy wildcard matching remembering only the last star: linear in practice, quadratic at worst. */
  private boolean general(String text, boolean ignoreCase) {
    int p = 0, t = 0, star = -1, mark = 0;
    int pl = pattern.length(), tl = text.length();
    while (t < tl) {
      if (p < pl && pattern.charAt(p) == '*') {
        star = p++;
        mark = t;
      } else if (p < pl && (pattern.charAt(p) == '?' || same(pattern.charAt(p), text.charAt(t), ignoreCase))) {
        p++;
        t++;
      } else if (star >= 0) {
        p = star + 1;
        t = ++mark;
      } else {
        return false;
      }
    }
    while (p < pl && pattern.charAt(p) == '*') p++;
    return p == pl;
  }

  private static boolean same(char a, char b, boolean ignoreCase) {
    return a == b || (ignoreCase && Character.toLowerCase(a) == Character.toLowerCase(b));
  }

  private static int count(String s, char c) {
    int n = 0;
    for (int i = 0; i < s.length(); i++) if (s.charAt(i) == c) n++;
    return n;
  }

  @Override
  public String toString() {
    return pattern;
  }
}
