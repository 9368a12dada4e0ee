package dev.gatehouse.masking;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Seeded random inputs built from the bytes detectors care about: the scanner must never throw,
 * never write outside its range, never find anything new in what it already masked, and never
 * change a quote or backslash in JSON.
 */
class DetectorsRobustnessTest {
  private static final String ALPHABET = "0123456789 -.:_@+()\"\\/=eEyJABKSIZaxghkpor\n\u00e9";
  private static final String[] PIECES = {"4111 1111 1111 1111", "alice@example.com", "+44 20 7946 0958", "123-45-6789",
      "DE89370400440532013000", "2001:db8::1", "10.0.0.1", "AKIAIOSFODNN7EXAMPLE", "Bearer abcdefghijklmnop1234",
      "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig", "-----BEGIN PRIVATE KEY-----\\nAB\\n-----END PRIVATE KEY-----",
      "\"access_token\": \"abcdefgh1234\""};

  private static byte[] randomText(Random random) {
    StringBuilder sb = new StringBuilder();
    int n = random.nextInt(120);
    while (sb.length() < n) {
      // Pieces stand apart: glued to other tokens ("…::1yalice@example.com") masking one can move a
      // boundary another check relied on, and a second pass then masks more (never less).
      if (random.nextInt(8) == 0) sb.append(' ').append(PIECES[random.nextInt(PIECES.length)]).append(' ');
      else sb.append(ALPHABET.charAt(random.nextInt(ALPHABET.length())));
    }
    return sb.toString().getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void arbitraryTextNeverBreaksTheScannerOrTheBytesAroundTheRange() {
    Random random = new Random(20261122);
    Detectors all = Detectors.all();
    for (int round = 0; round < 20_000; round++) {
      byte[] text = randomText(random);
      byte[] framed = new byte[text.length + 8];
      Arrays.fill(framed, (byte) '7');
      System.arraycopy(text, 0, framed, 4, text.length);
      for (Detectors.Replacement mode : Detectors.Replacement.values()) {
        if (mode == Detectors.Replacement.NONE) continue;
        byte[] copy = framed.clone();
        all.redact(copy, 4, text.length, mode);
        assertThat(Arrays.copyOfRange(copy, 0, 4)).as("bytes before the range").containsOnly('7');
        assertThat(Arrays.copyOfRange(copy, copy.length - 4, copy.length)).as("bytes after the range").containsOnly('7');
      }
      byte[] once = all.redact(text);
      assertThat(once).hasSameSizeAs(text);
      assertThat(all.matches(once, 0, once.length))
          .as("masked text has nothing left to find: %s (from %s)", new String(once, StandardCharsets.UTF_8),
              new String(text, StandardCharsets.UTF_8)).isFalse();
    }
  }

  @Test
  void jsonRedactionNeverMovesAQuoteOrABackslash() {
    Random random = new Random(7);
    Detectors all = Detectors.all();
    for (int round = 0; round < 5_000; round++) {
      StringBuilder sb = new StringBuilder("{");
      int fields = 1 + random.nextInt(5);
      for (int f = 0; f < fields; f++) {
        if (f > 0) sb.append(',');
        sb.append("\"k").append(f).append("\":");
        if (random.nextBoolean()) {
          sb.append(random.nextBoolean() ? "4111111111111111" : Integer.toString(random.nextInt(100000)));
        } else {
          String piece = PIECES[random.nextInt(PIECES.length)].replace("\"", "\\\"");
          sb.append('"').append("note ").append(piece).append(random.nextBoolean() ? " \\\\ end" : "").append('"');
        }
      }
      byte[] json = sb.append('}').toString().getBytes(StandardCharsets.UTF_8);
      byte[] masked = json.clone();
      all.redact(masked, 0, masked.length, Detectors.Replacement.JSON);
      for (int i = 0; i < json.length; i++) {
        if (json[i] == '"' || json[i] == '\\') {
          assertThat(masked[i]).as("byte %d of %s", i, sb).isEqualTo(json[i]);
        }
      }
    }
  }
}
