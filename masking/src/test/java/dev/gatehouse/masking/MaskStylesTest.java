package dev.gatehouse.masking;

import static dev.gatehouse.masking.Fixtures.bytes;
import static dev.gatehouse.masking.Fixtures.oneColumn;
import static dev.gatehouse.masking.Fixtures.write;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.gatehouse.masking.MaskingRules.Style;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.util.UUID;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/** What each style makes of each type family, in text and binary format: always a valid value of the type. */
class MaskStylesTest {
  static final ValueFormat TEXT = ValueFormat.TEXT;
  static final ValueFormat BINARY = ValueFormat.BINARY;

  @Nested
  class Text {
    @Test
    void redactionHidesTheValueAndItsLength() {
      MaskPlan plan = oneColumn(Style.redact(), TypeFamily.TEXT, TEXT);
      assertThat(write(plan, "alice@example.com")).isEqualTo("****");
      assertThat(write(plan, "x")).isEqualTo("****");
    }

    @Test
    void keepLastShowsOnlyTheLastCharactersCountingCharactersNotBytes() {
      MaskPlan plan = oneColumn(Style.keepLast(4), TypeFamily.TEXT, TEXT);
      assertThat(write(plan, "4111 1111 1111 1234")).isEqualTo("***************1234");
      assertThat(write(plan, "Zoë Müller-Ångström")).isEqualTo("***************tröm");
    }

    @Test
    void keepLastMasksAValueNoLongerThanWhatItWouldKeep() {
      assertThat(write(oneColumn(Style.keepLast(4), TypeFamily.TEXT, TEXT), "1234")).isEqualTo("****");
    }

    @Test
    void aPlaceholderReplacesTheValue() {
      assertThat(write(oneColumn(Style.placeholder("<hidden>"), TypeFamily.TEXT, TEXT), "secret")).isEqualTo("<hidden>");
    }

    @Test
    void hashingIsAPrefixAndTruncatedHexOrBase32() {
      String hex = write(oneColumn(Style.hash(16, "h:"), TypeFamily.TEXT, TEXT), "alice@example.com");
      assertThat(hex).matches("h:[0-9a-f]{16}");
      Style base32 = new Style("hash", null, null, 20, "", "base32", null);
      assertThat(write(oneColumn(base32, TypeFamily.TEXT, TEXT), "alice@example.com")).matches("[a-z2-7]{20}");
    }

    @Test
    void textInBinaryFormatIsMaskedTheSameWay() {
      MaskPlan text = oneColumn(Style.hash(16, ""), TypeFamily.TEXT, TEXT);
      MaskPlan binary = oneColumn(Style.hash(16, ""), TypeFamily.TEXT, BINARY);
      assertThat(write(binary, "alice@example.com")).isEqualTo(write(text, "alice@example.com"));
    }
  }

  @Nested
  class Numbers {
    @Test
    void numbersBecomeZero() {
      assertThat(write(oneColumn(Style.redact(), TypeFamily.INTEGER, TEXT), "123456789")).isEqualTo("0");
      assertThat(write(oneColumn(Style.keepLast(4), TypeFamily.DECIMAL, TEXT), "-12345.67")).isEqualTo("0");
    }

    @Test
    void aHashedNumberIsANumberWithFewerDigitsSoItFitsTheColumn() {
      MaskPlan plan = oneColumn(Style.hash(16, "x"), TypeFamily.INTEGER, TEXT);
      String masked = write(plan, "32767");
      assertThat(Long.parseLong(masked)).isBetween(0L, 9999L);
      assertThat(write(plan, "32767")).isEqualTo(masked);
      assertThat(new BigDecimal(write(oneColumn(Style.hash(16, ""), TypeFamily.DECIMAL, TEXT), "98765.4321"))).isNotNull();
    }

    @Test
    void binaryIntegersBecomeZeroOfTheSameWidth() {
      MaskPlan plan = oneColumn(Style.redact(), TypeFamily.INTEGER, BINARY);
      assertThat(write(plan, bytes(0, 0, 0x30, 0x39))).containsExactly(0, 0, 0, 0);
      assertThat(write(plan, bytes(0x7f, 0xff))).containsExactly(0, 0);
    }

    @Test
    void aHashedBinaryIntegerMatchesTheHashedTextOfTheSameValue() {
      byte[] big = bytes(0, 0, 0, 0, 0, 0x01, 0xe2, 0x40); // 123456
      byte[] masked = write(oneColumn(Style.hash(16, ""), TypeFamily.INTEGER, BINARY), big);
      long v = 0;
      for (byte x : masked) v = (v << 8) | (x & 0xff);
      assertThat(masked).hasSize(8);
      assertThat(Long.toString(v)).isEqualTo(write(oneColumn(Style.hash(16, ""), TypeFamily.INTEGER, TEXT), "123456"));
    }

    /** numeric's binary form: digit count, weight, sign, scale, then base-10000 digits. */
    private static byte[] numeric(int weight, int sign, int dscale, int... digits) {
      java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(8 + 2 * digits.length);
      b.putShort((short) digits.length).putShort((short) weight).putShort((short) sign).putShort((short) dscale);
      for (int d : digits) b.putShort((short) d);
      return b.array();
    }

    /** The number a binary numeric holds (scale 0, as masking writes it). */
    private static String numericValue(byte[] v) {
      java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(v);
      int n = b.getShort(), weight = b.getShort(), sign = b.getShort(), dscale = b.getShort();
      assertThat(sign).isZero();
      assertThat(dscale).isZero();
      java.math.BigInteger x = java.math.BigInteger.ZERO;
      for (int i = 0; i < n; i++) x = x.multiply(java.math.BigInteger.valueOf(10_000)).add(java.math.BigInteger.valueOf(b.getShort()));
      return x.multiply(java.math.BigInteger.valueOf(10_000).pow(Math.max(0, weight - n + 1))).toString();
    }

    @Test
    void aHashedBinaryNumericMatchesTheHashedTextOfTheSameValue() {
      // Review round 45: a hashed numeric was the hashed number in text and 0 in binary.
      MaskPlan binary = oneColumn(Style.hash(16, ""), TypeFamily.NUMERIC, BINARY);
      MaskPlan text = oneColumn(Style.hash(16, ""), TypeFamily.NUMERIC, TEXT);
      java.util.Map<String, byte[]> values = new java.util.LinkedHashMap<>();
      values.put("5387.00", numeric(0, 0, 2, 5387));
      values.put("123456789.5", numeric(2, 0, 1, 1, 2345, 6789, 5000));
      values.put("-42", numeric(0, 0x4000, 0, 42));
      values.put("100000000", numeric(2, 0, 0, 1)); // trailing zero digits are not stored
      values.put("0.0001", numeric(-1, 0, 4, 1));
      values.put("0.00", numeric(0, 0, 2));
      values.put("12.3400", numeric(0, 0, 4, 12, 3400));
      values.forEach((t, v) -> assertThat(numericValue(write(binary, v))).as(t).isEqualTo(write(text, t)));
      assertThat(write(text, "5387.00")).isNotEqualTo("0");
      // NaN and the infinities mask to 0 in text, and so in binary.
      assertThat(numericValue(write(binary, numeric(0, 0xC000, 0)))).isEqualTo("0").isEqualTo(write(text, "NaN"));
      assertThat(write(oneColumn(Style.redact(), TypeFamily.NUMERIC, BINARY), numeric(0, 0, 2, 5387))).containsExactly(0, 0, 0, 0, 0, 0, 0, 0);
      assertThatThrownBy(() -> write(binary, bytes(0, 2, 0, 0, 0, 0, 0, 0, 0, 1))).isInstanceOf(MaskingException.class);
    }

    @Test
    void aBinaryIntegerOfAnOddWidthIsRefusedNotGuessed() {
      MaskPlan plan = oneColumn(Style.redact(), TypeFamily.INTEGER, BINARY);
      assertThatThrownBy(() -> write(plan, bytes(1, 2, 3))).isInstanceOf(MaskingException.class)
          .hasMessageContaining("3 bytes");
    }

    @Test
    void binaryDecimalsBecomeTheZeroOfTheirEncoding() {
      MaskPlan plan = oneColumn(Style.redact(), TypeFamily.DECIMAL, BINARY);
      assertThat(write(plan, bytes(0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18))).containsExactly(0, 0, 0, 0, 0, 0, 0, 0);
      // numeric 12345.678: a longer value becomes the 8-byte header of zero
      MaskPlan numeric = oneColumn(Style.redact(), TypeFamily.NUMERIC, BINARY);
      assertThat(write(numeric, bytes(0, 3, 0, 1, 0, 0, 0, 3, 0, 1, 0x09, 0x29, 0x1a, 0x7c))).hasSize(8).containsOnly(0);
    }
  }

  @Nested
  class OtherTypes {
    @Test
    void datesAndTimesBecomeTheStartOf2000AndStillParse() {
      assertThat(LocalDate.parse(write(oneColumn(Style.redact(), TypeFamily.DATE, TEXT), "1984-06-01")))
          .isEqualTo(LocalDate.of(2000, 1, 1));
      assertThat(LocalTime.parse(write(oneColumn(Style.redact(), TypeFamily.TIME, TEXT), "13:45:00"))).isEqualTo(LocalTime.MIDNIGHT);
      assertThat(LocalDateTime.parse(write(oneColumn(Style.hash(16, ""), TypeFamily.TIMESTAMP, TEXT), "1984-06-01 10:00:00"),
          DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss"))).isEqualTo(LocalDateTime.of(2000, 1, 1, 0, 0));
      assertThat(OffsetDateTime.parse(write(oneColumn(Style.redact(), TypeFamily.TIMESTAMPTZ, TEXT), "1984-06-01 10:00:00+02"),
          DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ssx"))).isNotNull();
      assertThat(write(oneColumn(Style.redact(), TypeFamily.DATE, BINARY), bytes(0xff, 0xff, 0xf0, 0x10))).containsOnly(0).hasSize(4);
    }

    @Test
    void booleansBecomeFalse() {
      assertThat(write(oneColumn(Style.redact(), TypeFamily.BOOLEAN, TEXT), "t")).isEqualTo("f");
      assertThat(write(oneColumn(Style.redact(), TypeFamily.BOOLEAN, BINARY), bytes(1))).containsExactly(0);
    }

    @Test
    void uuidsBecomeTheNilUuidOrAHashDerivedVersion8Uuid() {
      String id = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";
      assertThat(write(oneColumn(Style.redact(), TypeFamily.UUID, TEXT), id)).isEqualTo("00000000-0000-0000-0000-000000000000");
      UUID hashed = UUID.fromString(write(oneColumn(Style.hash(16, ""), TypeFamily.UUID, TEXT), id));
      assertThat(hashed.version()).isEqualTo(8);
      assertThat(hashed.toString()).isNotEqualTo(id);
      assertThat(write(oneColumn(Style.hash(16, ""), TypeFamily.UUID, TEXT), id.toUpperCase())).isEqualTo(hashed.toString());
    }

    @Test
    void aBinaryUuidHashesLikeItsText() {
      UUID id = UUID.fromString("3f2504e0-4f89-11d3-9a0c-0305e82c3301");
      byte[] binary = java.nio.ByteBuffer.allocate(16).putLong(id.getMostSignificantBits()).putLong(id.getLeastSignificantBits()).array();
      java.nio.ByteBuffer masked = java.nio.ByteBuffer.wrap(write(oneColumn(Style.hash(16, ""), TypeFamily.UUID, BINARY), binary));
      UUID fromBinary = new UUID(masked.getLong(), masked.getLong());
      assertThat(fromBinary.toString()).isEqualTo(write(oneColumn(Style.hash(16, ""), TypeFamily.UUID, TEXT), id.toString()));
    }

    @Test
    void byteaBecomesEmpty() {
      assertThat(write(oneColumn(Style.redact(), TypeFamily.BYTEA, TEXT), "\\x68656c6c6f")).isEqualTo("\\x");
      assertThat(write(oneColumn(Style.redact(), TypeFamily.BYTEA, BINARY), bytes(1, 2, 3))).isEmpty();
    }

    @Test
    void otherTypesCannotBeMaskedSoThePlanRefuses() {
      MaskPlan plan = oneColumn(Style.redact(), TypeFamily.OTHER, TEXT);
      assertThat(plan.refusal()).hasValueSatisfying(r -> {
        assertThat(r.rule()).isEqualTo("r");
        assertThat(r.reason()).contains("result column 1").contains("other").contains("cast it to text");
      });
      assertThatThrownBy(() -> write(plan, "{a,b}")).isInstanceOf(MaskingException.class);
    }
  }

  @Nested
  class Json {
    @Test
    void stringValuesAreMaskedKeysNumbersAndStructureStay() {
      MaskPlan plan = oneColumn(Style.redact(), TypeFamily.JSON, TEXT);
      assertThat(write(plan, "{\"email\": \"a@b.example\", \"n\": [1, -2.5e3, true, null], \"o\": {\"k\": \"v\"}}"))
          .isEqualTo("{\"email\": \"****\", \"n\": [0, 0, true, null], \"o\": {\"k\": \"****\"}}");
    }

    @Test
    void escapesAreDecodedBeforeMaskingAndTheResultIsEscaped() {
      MaskPlan plan = oneColumn(Style.keepLast(3), TypeFamily.JSON, TEXT);
      assertThat(write(plan, "[\"ab\\\"c\\u00e9d\"]")).isEqualTo("[\"***céd\"]");
      MaskPlan quote = oneColumn(Style.placeholder("say \"no\""), TypeFamily.JSON, TEXT);
      assertThat(write(quote, "[\"x\"]")).isEqualTo("[\"say \\\"no\\\"\"]");
    }

    @Test
    void aHashedJsonStringEqualsTheHashedTextColumn() {
      String json = write(oneColumn(Style.hash(16, "h:"), TypeFamily.JSON, TEXT), "{\"e\":\"alice@example.com\"}");
      String text = write(oneColumn(Style.hash(16, "h:"), TypeFamily.TEXT, TEXT), "alice@example.com");
      assertThat(json).isEqualTo("{\"e\":\"" + text + "\"}");
    }

    @Test
    void jsonbInBinaryKeepsItsVersionByte() {
      byte[] jsonb = "\u0001{\"e\":\"x\"}".getBytes(StandardCharsets.UTF_8);
      assertThat(write(oneColumn(Style.redact(), TypeFamily.JSON, BINARY), jsonb))
          .isEqualTo("\u0001{\"e\":\"****\"}".getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void jsonMaskingCannotReadBecomesJsonNull() {
      assertThat(write(oneColumn(Style.redact(), TypeFamily.JSON, TEXT), "{\"e\":\"unterminated")).isEqualTo("null");
    }
  }
}
