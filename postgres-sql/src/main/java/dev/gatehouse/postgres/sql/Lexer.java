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
    long scanned = scan(s, i);
    Kind kind = kind(scanned);
    int end = end(scanned);
    return new Token(kind, i, end, value(s, kind, i, end));
  }

  private static final Kind[] KINDS = Kind.values();

  /**
   * The kind and end of the token starting at {@code i} (which must be {@code < s.length()}), packed
   * into one long ({@link #kind}, {@link #end}) so that a pass that needs no token values allocates
   * nothing.
   */
  static long scan(String s, int i) {
    int n = s.length();
    char c = s.charAt(i);
    if (isSpace(c)) {
      int j = i;
      while (j < n && isSpace(s.charAt(j))) j++;
      return pack(Kind.WHITESPACE, j);
    }
    if (c == '-' && i + 1 < n && s.charAt(i + 1) == '-') {
      int j = i + 2;
      while (j < n && s.charAt(j) != '\n' && s.charAt(j) != '\r') j++;
      return pack(Kind.COMMENT, j);
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
      return depth == 0 ? pack(Kind.COMMENT, j) : pack(Kind.ERROR, n); // unterminated comment
    }
    // String prefixes must be checked before identifiers: "E'" is one token, like scan.l's xestart.
    if ((c == 'e' || c == 'E') && at(s, i + 1, '\'')) return string(s, i + 1, true);
    if ((c == 'b' || c == 'B' || c == 'x' || c == 'X' || c == 'n' || c == 'N') && at(s, i + 1, '\'')) {
      return string(s, i + 1, false);
    }
    if ((c == 'u' || c == 'U') && at(s, i + 1, '&')) {
      if (at(s, i + 2, '\'')) return string(s, i + 2, false);
      if (at(s, i + 2, '"')) {
        long q = quoted(s, i + 2);
        return kind(q) == Kind.ERROR ? q : pack(Kind.UNICODE_IDENT, end(q));
      }
    }
    if (c == '\'') return string(s, i, false);
    if (c == '"') return quoted(s, i);
    if (c == '$') {
      if (i + 1 < n && isDigit(s.charAt(i + 1))) {
        int j = i + 1;
        while (j < n && isDigit(s.charAt(j))) j++;
        if (j < n && isIdentCont(s.charAt(j))) return pack(Kind.ERROR, j); // junk after parameter
        return pack(Kind.PARAM, j);
      }
      return dollar(s, i);
    }
    if (isIdentStart(c)) {
      int j = i + 1;
      while (j < n && isIdentCont(s.charAt(j))) j++;
      return pack(Kind.IDENT, j);
    }
    if (isDigit(c) || (c == '.' && i + 1 < n && isDigit(s.charAt(i + 1)))) return number(s, i);
    if (c == ':' && (at(s, i + 1, ':') || at(s, i + 1, '='))) return pack(Kind.PUNCT, i + 2);
    if (c == '=' && at(s, i + 1, '>')) return pack(Kind.PUNCT, i + 2);
    if (c == '.' && at(s, i + 1, '.')) return pack(Kind.PUNCT, i + 2);
    if ("()[],;:.".indexOf(c) >= 0) return pack(Kind.PUNCT, i + 1);
    if (OP_CHARS.indexOf(c) >= 0) return operator(s, i);
    return pack(Kind.ERROR, i + 1); // unexpected character
  }

  static Kind kind(long scanned) {
    return KINDS[(int) (scanned >>> 32)];
  }

  static int end(long scanned) {
    return (int) scanned;
  }

  private static long pack(Kind kind, int end) {
    return ((long) kind.ordinal() << 32) | end;
  }

  /** The value {@link Token#value()} documents for each kind; {@code ""} for an error. */
  private static String value(String s, Kind kind, int start, int end) {
    return switch (kind) {
      case WHITESPACE, COMMENT, DOLLAR_STRING, ERROR -> "";
      case IDENT -> lowerAscii(s.substring(start, end));
      case QUOTED_IDENT -> s.substring(start + 1, end - 1).replace("\"\"", "\"");
      case UNICODE_IDENT -> s.substring(start + 3, end - 1).replace("\"\"", "\"");
      case STRING -> lowerAscii(s.substring(start, s.indexOf('\'', start)));
      case PARAM -> s.substring(start + 1, end);
      case NUMBER, OPERATOR, PUNCT -> s.substring(start, end);
    };
  }

  /** A string whose opening quote is at {@code quote} (any prefix before it). */
  private static long string(String s, int quote, boolean backslashEscapes) {
    int n = s.length();
    int j = quote + 1;
    while (true) {
      if (j >= n) return pack(Kind.ERROR, n); // unterminated string
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
        return pack(Kind.STRING, j);
      }
      j++;
    }
  }

  private static long quoted(String s, int start) {
    int n = s.length();
    int j = start + 1;
    while (true) {
      if (j >= n) return pack(Kind.ERROR, n); // unterminated quoted identifier
      if (s.charAt(j) == '"') {
        if (at(s, j + 1, '"')) {
          j += 2;
          continue;
        }
        if (j == start + 1) return pack(Kind.ERROR, j + 1); // zero-length delimited identifier
        return pack(Kind.QUOTED_IDENT, j + 1);
      }
      j++;
    }
  }

  private static long dollar(String s, int start) {
    int n = s.length();
    int j = start + 1;
    if (j < n && isDollarTagStart(s.charAt(j))) {
      j++;
      while (j < n && isDollarTagCont(s.charAt(j))) j++;
    }
    if (!at(s, j, '$')) return pack(Kind.ERROR, start + 1); // stray $
    int tagLength = j + 1 - start;
    int close = s.indexOf(s.substring(start, j + 1), j + 1);
    if (close < 0) return pack(Kind.ERROR, n); // unterminated dollar-quoted string
    return pack(Kind.DOLLAR_STRING, close + tagLength);
  }

  private static long number(String s, int start) {
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
        return pack(Kind.ERROR, k); // trailing junk after numeric literal
      }
    }
    // PostgreSQL 15 would read "123abc" as a number then an identifier; we refuse to guess.
    if (j < n && isIdentCont(s.charAt(j))) return pack(Kind.ERROR, j + 1); // trailing junk after numeric literal
    return pack(Kind.NUMBER, j);
  }

  private static long operator(String s, int start) {
    int n = s.length();
    int j = start;
    boolean special = false;
    while (j < n && OP_CHARS.indexOf(s.charAt(j)) >= 0) {
      // A comment start ends the operator (scan.l: "--" and "/*" may not appear inside one).
      if (j > start && (s.startsWith("--", j) || s.startsWith("/*", j))) break;
      special |= "~!@#%^&|`?".indexOf(s.charAt(j)) >= 0;
      j++;
    }
    // scan.l: a multi-char operator may not end in + or - unless it contains ~ ! @ # % ^ & | ` ?.
    if (j - start > 1 && !special) {
      while (j - start > 1 && (s.charAt(j - 1) == '+' || s.charAt(j - 1) == '-')) j--;
    }
    return pack(Kind.OPERATOR, j);
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
