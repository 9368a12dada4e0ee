package dev.gatehouse.postgres.sql;

import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Replaces secret-bearing literals in statement text by {@code '***'}. Works on the lexer's tokens,
 * so a literal is replaced whole (prefix, quotes, continuation lines) whatever its quoting. When the
 * lexer cannot read the rest of the text, the rest is replaced: over-redaction is the safe error.
 * Stateless and thread-safe.
 */
final class Redaction {
  static final String MASK = "'***'";

  /**
   * Words that make a code body's literals secret-bearing: the body may set a password, open a
   * connection (whose string carries one) or pass a key to pgcrypto, in SQL it builds at run time
   * where the parse tree cannot point at the literal.
   */
  private static final List<String> SECRET_HINTS =
      List.of("password", "passwd", "secret", "token", "dblink", "crypt", "pgp_", "hmac", "connection");

  private Redaction() {}

  /** Every string and dollar-quoted literal replaced. */
  static String allStrings(String text) {
    return redact(text, Set.of(), true, false);
  }

  /**
   * Literals starting at the given char offsets (or every literal when {@code all}) replaced; at
   * those offsets a bare word or a number (a constant written so) too. Other offsets are ignored. With {@code codeBodies} (the text is a
   * {@code DO} block or a function's definition), a literal that mentions a password, a connection,
   * a key or a secret is code whose own literals may be secrets: a dollar-quoted body keeps its code
   * with every literal inside replaced, any other such literal is replaced whole.
   */
  static String redact(String text, Set<Integer> starts, boolean all, boolean codeBodies) {
    if (!all && !codeBodies && starts.isEmpty()) return text;
    List<Lexer.Token> tokens = Lexer.tokens(text);
    StringBuilder out = new StringBuilder(text.length());
    // With `all` (text no parse tree points into): a secret setting's value, read off the tokens.
    SecretValue value = all ? new SecretValue() : null;
    for (Lexer.Token t : tokens) {
      boolean secret = value != null && value.next(t);
      switch (t.kind()) {
        case STRING, DOLLAR_STRING -> {
          if (all || starts.contains(t.start())) out.append(MASK);
          else if (codeBodies && mentionsSecret(text, t)) body(text, t, out);
          else out.append(text, t.start(), t.end());
        }
        case IDENT, QUOTED_IDENT, UNICODE_IDENT, NUMBER -> {
          // A secret given as a bare word or a number (SET my.password TO s3cret): only where the
          // parse tree pointed at a constant, never a keyword or a name elsewhere; in unparsed text,
          // after a secret setting's TO or =, or after PASSWORD.
          if (secret || starts.contains(t.start())) out.append(MASK);
          else out.append(text, t.start(), t.end());
        }
        case ERROR -> {
          out.append(MASK);
          return out.toString();
        }
        default -> out.append(text, t.start(), t.end());
      }
    }
    // Unchanged text is returned as it came: one string where there is nothing to redact.
    String redacted = out.toString();
    return redacted.equals(text) ? text : redacted;
  }

  /**
   * Follows unparsed text token by token for the value of a setting named like a secret ({@code
   * SET my.password TO s3cret}, {@code = 123}, {@code ALTER DATABASE d SET …}) or of {@code
   * PASSWORD}: from the {@code TO} or {@code =} after such a name (or the word after {@code
   * PASSWORD}) to the next {@code ;}, every word and number is the value. Over-redaction is the
   * safe error (red-team round 24: a syntax error kept {@code SET my.password TO s3cret garbage}).
   */
  private static final class SecretValue {
    private boolean afterSecretName;
    private boolean afterDot;
    private boolean afterPassword;
    private boolean inValue;

    /** Whether {@code t}, the next token, is part of a secret value. */
    boolean next(Lexer.Token t) {
      Lexer.Kind kind = t.kind();
      if (kind == Lexer.Kind.WHITESPACE || kind == Lexer.Kind.COMMENT) return false;
      if (kind == Lexer.Kind.PUNCT && t.value().equals(";")) {
        inValue = afterSecretName = afterDot = afterPassword = false;
        return false;
      }
      if (inValue) return true;
      boolean assigns = kind == Lexer.Kind.IDENT && t.value().equals("to")
          || kind == Lexer.Kind.OPERATOR && t.value().equals("=")
          || kind == Lexer.Kind.PUNCT && t.value().equals("=>");
      if (afterSecretName && assigns || afterPassword) {
        // PASSWORD's value may be NULL, a signed number, a word: all of it to the ; is the value.
        inValue = true;
        afterSecretName = afterDot = afterPassword = false;
        return !assigns;
      }
      if (kind == Lexer.Kind.PUNCT && t.value().equals(".")) {
        afterDot = true; // a dotted name is secret if any of its parts is (my.password.x)
        return false;
      }
      boolean word = kind == Lexer.Kind.IDENT || kind == Lexer.Kind.QUOTED_IDENT || kind == Lexer.Kind.UNICODE_IDENT;
      // A U&"…" name's escapes are not decoded here: it may spell any name, so it may be a secret's.
      boolean secretName = word && (kind == Lexer.Kind.UNICODE_IDENT || Functions.secretSetting(t.value()));
      afterSecretName = word && (secretName || afterDot && afterSecretName);
      afterDot = false;
      afterPassword = kind == Lexer.Kind.IDENT && t.value().equals("password");
      return false;
    }
  }

  private static boolean mentionsSecret(String text, Lexer.Token t) {
    String literal = text.substring(t.start(), t.end()).toLowerCase(Locale.ROOT);
    for (String hint : SECRET_HINTS) {
      if (literal.contains(hint)) return true;
    }
    return false;
  }

  /** A code body with its own literals replaced (nested bodies whole), or the literal replaced whole. */
  private static void body(String text, Lexer.Token t, StringBuilder out) {
    if (t.kind() != Lexer.Kind.DOLLAR_STRING) {
      out.append(MASK); // a quoted body's inner quotes are doubled: not worth reading, replaced whole
      return;
    }
    int tagEnd = text.indexOf('$', t.start() + 1) + 1;
    String tag = text.substring(t.start(), tagEnd);
    String inner = text.substring(tagEnd, t.end() - tag.length());
    out.append(tag).append(redact(inner, Set.of(), true, false)).append(tag);
  }
}
