package dev.gatehouse.audit;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import org.junit.jupiter.api.Test;

/** The encoding's copy of text is byte for byte UTF-8, whether the text is ASCII or not. */
class CanonicalEncodingTextTest {
  private static final Instant T = Instant.parse("2025-03-01T10:00:00.123456Z");

  @Test
  void theHashOfAnEventWithNonAsciiTextNeverChanges() {
    // v1: computed by the encoding as first released (String.getBytes into a ByteArrayOutputStream);
    // v2: by an independent implementation of its layout (Python). Stored chains depend on both.
    String text = "SELECT 'Grüße, 東京 🐘' AS \"naïve\"";
    assertThat(CanonicalEncoding.eventHash(CanonicalEncoding.FORMAT_V1, "gw-1:00", 3, AuditEvent.GENESIS, ChainBuilder.command(text, T)))
        .isEqualTo("5e2c40ba4085fed708e85ead2a49cf8ab7382e028108ac7f565d722f286e1d02");
    assertThat(AuditEvent.seal("gw-1:00", 3, AuditEvent.GENESIS, ChainBuilder.command(text, T)).hash())
        .isEqualTo("569719cee60ff45442d678784ccc5b73277da494dfcb4207e457e40ce06976b5");
  }

  @Test
  void asciiAndNonAsciiTextsOfTheSameLengthInCharsHashDifferently() {
    String a = AuditEvent.seal("gw-1:00", 3, AuditEvent.GENESIS, ChainBuilder.command("SELECT 'e'", T)).hash();
    String b = AuditEvent.seal("gw-1:00", 3, AuditEvent.GENESIS, ChainBuilder.command("SELECT 'é'", T)).hash();
    assertThat(a).isNotEqualTo(b);
  }
}
