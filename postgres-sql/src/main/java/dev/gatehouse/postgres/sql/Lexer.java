package dev.gatehouse.postgres.sql;

import java.util.ArrayList;
import java.util.List;

/**
 * A small PostgreSQL lexer (PostgreSQL 15 {@code scan.l}, with {@code standard_conforming_strings}
 * on, which Gatehouse fixes at startup). It knows exactly what the fallback and the redaction step
 * need: where strings, dollar-quoted bodies, comments (nested {@code /* *}{@code /}), quoted and
 * Unicode-escaped identifiers begin and end, so that a {@code ;} or a keyword inside one of them is
 * never mistaken for structure. It does not decode escapes.
 *
 * <p>Anything it does not recognise becomes an {@link Kind#ERROR} token; callers treat the text as
 * unclassifiable. Stateless and thread-safe.
 */
final class Lexer {
  enum Kind {
    WHITESPACE,
    COMMENT,
    /** Unquoted identifier or keyword; {@link Token#value()} is ASCII-lower-cased like the server does. */
    IDENT,
    /** {@code "..."}; value is the name with {@code ""} collapsed, case kept. */
    QUOTED_IDENT,
    /** {@code U&"..."}: value is the raw body (escapes not decoded). */
    UNICODE_IDENT,
    /**
     * {@code '...'}, {@code E'...'}, {@code B'...'}, {@code X'...'}, {@code N'...'}, {@code U&'...'},
     * with continuations; value is the lower-cased prefix ({@code ""}, {@code e}, {@code u&} ...).
     */
    STRING,
    /** {@code $tag$ ... $tag$}. */
    DOLLAR_STRING,
    NUMBER,
    /** {@code $1}. */
    PARAM,
    /** An operator made of {@code + - * / < > = ~ ! @ # % ^ & | ` ?}. */
    OPERATOR,
    /** One of {@code ( ) [ ] , ; : :: . .. := =>}. */
    PUNCT,
    /** Something the lexer cannot read: an unterminated string or comment, or a stray character. */
    ERROR
  }

  record Token(Kind kind, int start, int end, String value) {}

  private static final String OP_CHARS = "+-*/<>=~!@#%^&|`?";

  private Lexer() {}

  static List<Token> tokens(String s) {
    List<Token> out = new ArrayList<>();
    int i = 0;
    int n = s.length();
    while (i < n) {
      Token t = next(s, i);
      out.add(t);
      if (t.kind() == Kind.ERROR) break;
      i = t.end();
    }
    return out;
  }

  /** The token starting at {@code i} (which must be {@code < s.length()}). */
  static Token next(String s, int i) {
    int n = s.length();
    char c = s.charAt(i);
    if (isSpace(c)) {
      int j = i;
      while (j < n && isSpace(s.charAt(j))) j++;
      return new Token(Kind.WHITESPACE, i, j, "");
    }
    if (c == '-' && i + 1 < n && s.charAt(i + 1) == '-') {
      int j = i + 2;
      while (j < n && s.charAt(j) != '\n' && s.charAt(j) != '\r') j++;
      return new Token(Kind.COMMENT, i, j, "");
    }
    if (c == '/' && i + 1 < n && s.charAt(i + 1) == '*') {
      int depth = 1;
      int j = i + 2;
      while (j < n && depth > 0) {
        if (s.startsWith("/*", j)) {
          depth++;
          j += 2;
        } else if (s.startsWith("*/", j)) {
          depth--;
          j += 2;
        } else {
          j++;
        }
      }
      return depth == 0 ? new Token(Kind.COMMENT, i, j, "") : new Token(Kind.ERROR, i, n, "unterminated comment");
    }
    // String prefixes must be checked before identifiers: "E'" is one token, like scan.l's xestart.
    if ((c == 'e' || c == 'E') && at(s, i + 1, '\'')) return string(s, i, i + 1, true);
    if ((c == 'b' || c == 'B' || c == 'x' || c == 'X' || c == 'n' || c == 'N') && at(s, i + 1, '\'')) {
      return string(s, i, i + 1, false);
    }
    if ((c == 'u' || c == 'U') && at(s, i + 1, '&')) {
      if (at(s, i + 2, '\'')) return string(s, i, i + 2, false);
      if (at(s, i + 2, '"')) {
        Token q = quoted(s, i + 2);
        return q.kind() == Kind.ERROR ? q : new Token(Kind.UNICODE_IDENT, i, q.end(), q.value());
      }
    }
    if (c == '\'') return string(s, i, i, false);
    if (c == '"') return quoted(s, i);
    if (c == '$') {
      if (i + 1 < n && isDigit(s.charAt(i + 1))) {
        int j = i + 1;
        while (j < n && isDigit(s.charAt(j))) j++;
        if (j < n && isIdentCont(s.charAt(j))) return new Token(Kind.ERROR, i, j, "junk after parameter");
        return new Token(Kind.PARAM, i, j, s.substring(i + 1, j));
      }
      return dollar(s, i);
    }
    if (isIdentStart(c)) {
      int j = i + 1;
      while (j < n && isIdentCont(s.charAt(j))) j++;
      return new Token(Kind.IDENT, i, j, lowerAscii(s.substring(i, j)));
    }
    if (isDigit(c) || (c == '.' && i + 1 < n && isDigit(s.charAt(i + 1)))) return number(s, i);
    if (c == ':' && at(s, i + 1, ':')) return new Token(Kind.PUNCT, i, i + 2, "::");
    if (c == ':' && at(s, i + 1, '=')) return new Token(Kind.PUNCT, i, i + 2, ":=");
    if (c == '=' && at(s, i + 1, '>')) return new Token(Kind.PUNCT, i, i + 2, "=>");
    if (c == '.' && at(s, i + 1, '.')) return new Token(Kind.PUNCT, i, i + 2, "..");
    if ("()[],;:.".indexOf(c) >= 0) return new Token(Kind.PUNCT, i, i + 1, String.valueOf(c));
    if (OP_CHARS.indexOf(c) >= 0) return operator(s, i);
    return new Token(Kind.ERROR, i, i + 1, "unexpected character");
  }

  private static Token string(String s, int start, int quote, boolean backslashEscapes) {
    int n = s.length();
    int j = quote + 1;
    while (true) {
      if (j >= n) return new Token(Kind.ERROR, start, n, "unterminated string");
      char c = s.charAt(j);
      if (backslashEscapes && c == '\\') {
        j += 2;
        continue;
      }
      if (c == '\'') {
        if (at(s, j + 1, '\'')) {
          j += 2;
          continue;
        }
        j++;
        // A string continues after whitespace holding a newline ('a'<newline>'b' is 'ab').
        int k = j;
        boolean newline = false;
        while (k < n && isSpace(s.charAt(k))) {
          if (s.charAt(k) == '\n' || s.charAt(k) == '\r') newline = true;
          k++;
        }
        if (newline && at(s, k, '\'')) {
          j = k + 1;
          continue;
        }
        return new Token(Kind.STRING, start, j, lowerAscii(s.substring(start, quote)));
      }
      j++;
    }
  }

  private static Token quoted(String s, int start) {
    int n = s.length();
    StringBuilder value = new StringBuilder();
    int j = start + 1;
    while (true) {
      if (j >= n) return new Token(Kind.ERROR, start, n, "unterminated quoted identifier");
      char c = s.charAt(j);
      if (c == '"') {
        if (at(s, j + 1, '"')) {
          value.append('"');
          j += 2;
          continue;
        }
        if (value.isEmpty()) return new Token(Kind.ERROR, start, j + 1, "zero-length delimited identifier");
        return new Token(Kind.QUOTED_IDENT, start, j + 1, value.toString());
      }
      value.append(c);
      j++;
    }
  }

  private static Token dollar(String s, int start) {
    int n = s.length();
    int j = start + 1;
    if (j < n && isDollarTagStart(s.charAt(j))) {
      j++;
      while (j < n && isDollarTagCont(s.charAt(j))) j++;
    }
    if (!at(s, j, '$')) return new Token(Kind.ERROR, start, start + 1, "stray $");
    String tag = s.substring(start, j + 1);
    int close = s.indexOf(tag, j + 1);
    if (close < 0) return new Token(Kind.ERROR, start, n, "unterminated dollar-quoted string");
    return new Token(Kind.DOLLAR_STRING, start, close + tag.length(), "");
  }

  private static Token number(String s, int start) {
    int n = s.length();
    int j = start;
    while (j < n && isDigit(s.charAt(j))) j++;
    if (at(s, j, '.') && !at(s, j + 1, '.')) {
      j++;
      while (j < n && isDigit(s.charAt(j))) j++;
    }
    if (j < n && (s.charAt(j) == 'e' || s.charAt(j) == 'E')) {
      int k = j + 1;
      if (k < n && (s.charAt(k) == '+' || s.charAt(k) == '-')) k++;
      if (k < n && isDigit(s.charAt(k))) {
        j = k;
        while (j < n && isDigit(s.charAt(j))) j++;
      } else {
        return new Token(Kind.ERROR, start, k, "trailing junk after numeric literal");
      }
    }
    // PostgreSQL 15 would read "123abc" as a number then an identifier; we refuse to guess.
    if (j < n && isIdentCont(s.charAt(j))) return new Token(Kind.ERROR, start, j + 1, "trailing junk after numeric literal");
    return new Token(Kind.NUMBER, start, j, s.substring(start, j));
  }

  private static Token operator(String s, int start) {
    int n = s.length();
    int j = start;
    while (j < n && OP_CHARS.indexOf(s.charAt(j)) >= 0) {
      // A comment start ends the operator (scan.l: "--" and "/*" may not appear inside one).
      if (j > start && (s.startsWith("--", j) || s.startsWith("/*", j))) break;
      j++;
    }
    String op = s.substring(start, j);
    // scan.l: a multi-char operator may not end in + or - unless it contains ~ ! @ # % ^ & | ` ?.
    if (op.length() > 1 && (op.endsWith("+") || op.endsWith("-")) && op.chars().noneMatch(ch -> "~!@#%^&|`?".indexOf(ch) >= 0)) {
      int k = op.length();
      while (k > 1 && (op.charAt(k - 1) == '+' || op.charAt(k - 1) == '-')) k--;
      op = op.substring(0, k);
      j = start + k;
    }
    return new Token(Kind.OPERATOR, start, j, op);
  }

  static boolean isSpace(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
  }

  private static boolean isDigit(char c) {
    return c >= '0' && c <= '9';
  }

  // scan.l: ident_start [A-Za-z\200-\377_], ident_cont adds [0-9\$]; every non-ASCII byte counts.
  static boolean isIdentStart(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
  }

  static boolean isIdentCont(char c) {
    return isIdentStart(c) || isDigit(c) || c == '$';
  }

  private static boolean isDollarTagStart(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
  }

  private static boolean isDollarTagCont(char c) {
    return isDollarTagStart(c) || isDigit(c);
  }

  private static boolean at(String s, int i, char c) {
    return i < s.length() && s.charAt(i) == c;
  }

  /** PostgreSQL's downcase_identifier for UTF-8: ASCII letters only. */
  static String lowerAscii(String s) {
    StringBuilder b = null;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c >= 'A' && c <= 'Z') {
        if (b == null) b = new StringBuilder(s);
        b.setCharAt(i, (char) (c + 32));
      }
    }
    return b == null ? s : b.toString();
  }
}
