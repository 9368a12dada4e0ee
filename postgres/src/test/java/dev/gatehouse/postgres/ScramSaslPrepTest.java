package dev.gatehouse.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ScramSaslPrepTest {

  @Test
  void asciiPasswordIsUsedUnchangedEvenWithControlCharacters() {
    // PostgreSQL skips SASLprep for pure ASCII, so U+0007 (prohibited by RFC 4013) stays.
    assertThat(prep("user")).isEqualTo("user");
    assertThat(prep("a\u0007b")).isEqualTo("a\u0007b");
  }

  @Test
  void rfc4013ExamplesAreMappedAndNormalized() {
    assertThat(prep("I\u00ADX")).isEqualTo("IX"); // soft hyphen mapped to nothing
    assertThat(prep("\u00AA")).isEqualTo("a"); // NFKC
    assertThat(prep("\u2168")).isEqualTo("IX"); // NFKC of ROMAN NUMERAL NINE
    assertThat(prep("a\u00A0b\u00E9")).isEqualTo("a b\u00E9"); // non-ASCII space to SPACE
  }

  @Test
  void prohibitedOrBidiViolatingPasswordsFallBackToTheirRawBytes() {
    // PostgreSQL uses the raw bytes when SASLprep fails; so must we, or the proof won't match.
    assertThat(prep("\u00E9\u0627\u0031")).isEqualTo("\u00E9\u0627\u0031"); // RandAL with L
    assertThat(prep("x\uE000\u00E9")).isEqualTo("x\uE000\u00E9"); // private use
    assertThat(prep("\u00AD")).isEqualTo("\u00AD"); // maps to empty
  }

  @Test
  void invalidUtf8IsUsedAsRawBytes() {
    byte[] latin1 = {'p', (byte) 0xE9, 'x'};

    assertThat(ScramSaslPrep.prepare(latin1)).isEqualTo(latin1);
  }

  private static String prep(String s) {
    return new String(
        ScramSaslPrep.prepare(s.getBytes(StandardCharsets.UTF_8)), StandardCharsets.UTF_8);
  }
}
