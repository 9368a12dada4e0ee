package dev.gatehouse.policy;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class GlobTest {
  @Test
  void starAndQuestionMarkMatchAsInAShell() {
    assertThat(Glob.compile("pg-*").matches("pg-prod", false)).isTrue();
    assertThat(Glob.compile("pg-*").matches("mysql-prod", false)).isFalse();
    assertThat(Glob.compile("*-prod").matches("pg-prod", false)).isTrue();
    assertThat(Glob.compile("pg-*-eu?").matches("pg-prod-eu1", false)).isTrue();
    assertThat(Glob.compile("pg-*-eu?").matches("pg-prod-eu", false)).isFalse();
    assertThat(Glob.compile("a*b*c").matches("aXXbYYbZZc", false)).isTrue();
    assertThat(Glob.compile("a*b*c").matches("aXXbYYbZZ", false)).isFalse();
    assertThat(Glob.compile("*").matches("", false)).isTrue();
    assertThat(Glob.compile("exact").matches("EXACT", true)).isTrue();
    assertThat(Glob.compile("exact").matches("EXACT", false)).isFalse();
  }

  @Test
  void regexMetacharactersAreLiteral() {
    assertThat(Glob.compile("a.b").matches("aXb", false)).isFalse();
    assertThat(Glob.compile("(a+)+$").matches("(a+)+$", false)).isTrue();
  }

  @Test
  void aPathologicalPatternStillAnswers() {
    // The shape that makes backtracking regex engines explode; here it is one pass per star.
    String pattern = "*a".repeat(50) + "b";
    String text = "a".repeat(10_000);
    assertThat(Glob.compile(pattern).matches(text, false)).isFalse();
  }
}
