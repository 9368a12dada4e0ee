package dev.gatehouse.identity;

import dev.gatehouse.core.AuthenticationException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * How a principal's subject is built from verified claims: either one claim's name ({@code sub},
 * {@code email}) or a template combining several, written with braces around claim names ({@code
 * repo:{repository}:ref:{ref}}), for machine identities whose {@code sub} alone is too coarse or
 * too easy to confuse. Every claim a template names must be present as a string or number, else
 * the token is refused: a subject with a hole in it could collide with another identity's.
 *
 * <p>Immutable and thread-safe.
 */
final class SubjectTemplate {
  private sealed interface Part permits Literal, Claim {}

  private record Literal(String text) implements Part {}

  private record Claim(String name) implements Part {}

  private final List<Part> parts;

  private SubjectTemplate(List<Part> parts) {
    this.parts = List.copyOf(parts);
  }

  /**
   * Parses {@code spec}: a claim name when it holds no brace, a template otherwise.
   *
   * @throws IllegalArgumentException with the reason when braces are unbalanced or empty
   */
  static SubjectTemplate parse(String spec) {
    if (spec.isBlank()) throw new IllegalArgumentException("is blank");
    if (spec.indexOf('{') < 0 && spec.indexOf('}') < 0) {
      return new SubjectTemplate(List.of(new Claim(spec)));
    }
    List<Part> parts = new ArrayList<>();
    int i = 0;
    while (i < spec.length()) {
      int open = spec.indexOf('{', i);
      int close = spec.indexOf('}', i);
      if (open < 0) {
        if (close >= 0) throw new IllegalArgumentException("has '}' without '{' at position " + close);
        parts.add(new Literal(spec.substring(i)));
        break;
      }
      if (close >= 0 && close < open) throw new IllegalArgumentException("has '}' without '{' at position " + close);
      if (open > i) parts.add(new Literal(spec.substring(i, open)));
      int end = spec.indexOf('}', open);
      if (end < 0) throw new IllegalArgumentException("has '{' without '}' at position " + open);
      String name = spec.substring(open + 1, end).trim();
      if (name.isEmpty() || name.indexOf('{') >= 0) {
        throw new IllegalArgumentException("has an empty or nested placeholder at position " + open);
      }
      parts.add(new Claim(name));
      i = end + 1;
    }
    return new SubjectTemplate(parts);
  }

  /** The subject for {@code claims}, or a refusal naming the missing claim. */
  String render(Map<String, Object> claims) {
    StringBuilder subject = new StringBuilder();
    for (Part part : parts) {
      switch (part) {
        case Literal literal -> subject.append(literal.text());
        case Claim claim -> {
          String value = ClaimPath.scalar(claims, claim.name())
              .orElseThrow(() -> new AuthenticationException(
                  "token has no usable '" + claim.name() + "' claim, which the subject is built from"));
          if (value.isBlank()) {
            throw new AuthenticationException("token's '" + claim.name() + "' claim, which the subject is built from, is blank");
          }
          subject.append(value);
        }
      }
    }
    return subject.toString();
  }
}
