package dev.gatehouse.masking;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class DetectorsTest {
  private static final Detectors ALL = Detectors.all();

  record Found(Detector detector, String text) {}

  static List<Found> find(Detectors detectors, String text) {
    byte[] b = text.getBytes(StandardCharsets.UTF_8);
    List<Found> found = new ArrayList<>();
    detectors.scan(b, 0, b.length, (d, s, e) -> found.add(new Found(d, new String(b, s, e - s, StandardCharsets.UTF_8))));
    return found;
  }

  static List<Found> find(String text) {
    return find(ALL, text);
  }

  static String redact(String text) {
    return new String(ALL.redact(text.getBytes(StandardCharsets.UTF_8)), StandardCharsets.UTF_8);
  }

  static void assertFinds(Detector detector, String text, String match) {
    assertThat(find(text)).as("matches in %s", text).containsExactly(new Found(detector, match));
  }

  static void assertNothingIn(String text) {
    assertThat(find(text)).as("matches in %s", text).isEmpty();
  }

  @Nested
  class Cards {
    @ParameterizedTest
    @ValueSource(strings = {"4111111111111111", "4111 1111 1111 1111", "4111-1111-1111-1111", "5555555555554444",
        "378282246310005", "6011111111111117", "3530111333300000", "2223003122003222", "4012888888881881"})
    void luhnValidNumbersWithAKnownPrefixAreCards(String number) {
      assertFinds(Detector.CARD, "paid with " + number + " yesterday", number);
    }

    @Test
    void aSixteenDigitOrderIdThatFailsLuhnIsNotACard() {
      assertNothingIn("order 4111111111111112 shipped");
    }

    @Test
    void aLuhnValidNumberWithoutAnIssuerPrefixIsNotACard() {
      // 1234567812345670 passes Luhn but no network issues cards starting with 1.
      assertNothingIn("ref 1234567812345670");
    }

    @Test
    void theWrongLengthForTheNetworkIsNotACard() {
      // Amex is 15 digits; a Luhn-valid 16-digit number starting 37 is not an Amex card.
      assertNothingIn("id 3782822463100053");
    }

    @Test
    void digitsInsideAWordOrADecimalAreNotCards() {
      assertNothingIn("hash a4111111111111111 and 0.4111111111111111 and 4111111111111111x");
    }

    @Test
    void aCardFollowedByMoreDigitGroupsIsStillFound() {
      assertFinds(Detector.CARD, "card 4111 1111 1111 1111 2030 exp", "4111 1111 1111 1111");
    }

    @Test
    void binaryIntegersAreCheckedToo() {
      assertThat(Detectors.isCardNumber(4111111111111111L)).isTrue();
      assertThat(Detectors.isCardNumber(4111111111111112L)).isFalse();
      assertThat(Detectors.isCardNumber(42L)).isFalse();
    }
  }

  @Nested
  class Emails {
    @ParameterizedTest
    @ValueSource(strings = {"alice@example.com", "a.b+tag@mail.example.co.uk", "x_y-z%1@sub-domain.example.org"})
    void addressesAreFound(String address) {
      assertFinds(Detector.EMAIL, "contact: " + address + ".", address);
    }

    @Test
    void anAddressInJsonIsFoundWithoutTheQuotes() {
      assertFinds(Detector.EMAIL, "{\"email\":\"bob@example.net\"}", "bob@example.net");
    }

    @ParameterizedTest
    @ValueSource(strings = {"follow @gatehouse", "user@localhost", "a@b.c", "me@192.168.0", "price @ 5.00", "@example.com"})
    void thingsWithAnAtSignThatAreNotAddressesAreLeft(String text) {
      assertThat(find(ALL, text)).extracting(Found::detector).doesNotContain(Detector.EMAIL);
    }
  }

  @Nested
  class Phones {
    @ParameterizedTest
    @ValueSource(strings = {"+1 415 555 2671", "+44 20 7946 0958", "+4915112345678", "+1 (415) 555-2671",
        "(415) 555-2671", "(415)555-2671", "415-555-2671", "415.555.2671"})
    void phoneNumbersAreFound(String number) {
      assertFinds(Detector.PHONE, "call " + number + " now", number);
    }

    @ParameterizedTest
    @ValueSource(strings = {"2024-01-15", "12:30:45", "call 555-1234", "+123", "ISBN 978-3-16-148410-0",
        "tracking 415-555-26712", "area 115-555-2671", "version 1.2.3", "total 123456789"})
    void ordinaryNumbersAreNotPhones(String text) {
      assertThat(find(text)).extracting(Found::detector).doesNotContain(Detector.PHONE);
    }
  }

  @Nested
  class Ssns {
    @Test
    void aValidSsnIsFound() {
      assertFinds(Detector.SSN, "ssn 123-45-6789;", "123-45-6789");
    }

    @ParameterizedTest
    @ValueSource(strings = {"000-12-3456", "666-12-3456", "900-12-3456", "123-00-4567", "123-45-0000", "123456789",
        "123-45-67890", "1123-45-6789"})
    void numbersBreakingTheSsaRulesOrTheShapeAreNotSsns(String text) {
      assertThat(find(text)).extracting(Found::detector).doesNotContain(Detector.SSN);
    }
  }

  @Nested
  class Ibans {
    @ParameterizedTest
    @ValueSource(strings = {"DE89370400440532013000", "DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432",
        "FR1420041010050500013M02606", "NO9386011117947"})
    void ibansWithAValidChecksumAreFound(String iban) {
      assertFinds(Detector.IBAN, "pay to " + iban + " please", iban);
    }

    @ParameterizedTest
    @ValueSource(strings = {"DE89370400440532013001", "DE8937040044053201300", "ZZ89370400440532013000",
        "XDE89370400440532013000"})
    void wrongChecksumLengthOrCountryIsNotAnIban(String text) {
      assertNothingIn(text);
    }
  }

  @Nested
  class IpAddresses {
    @ParameterizedTest
    @ValueSource(strings = {"192.168.1.10", "8.8.8.8", "1.2.3.4", "2001:db8::8a2e:370:7334", "fe80::1",
        "2001:0db8:85a3:0000:0000:8a2e:0370:7334", "::ffff:192.0.2.128"})
    void addressesAreFound(String address) {
      assertFinds(Detector.IP, "from " + address + " at noon", address);
    }

    @ParameterizedTest
    @ValueSource(strings = {"version 1.2.3", "1.2.3.4.5", "v1.2.3.4", "256.1.1.1", "12:30:45", "00:1a:2b:3c:4d:5e",
        "std::vector", "deadbeefcafe", "pi 3.14159", "::1"})
    void thingsThatOnlyLookLikeAddressesAreLeft(String text) {
      assertThat(find(text)).extracting(Found::detector).doesNotContain(Detector.IP);
    }
  }

  @Nested
  class Secrets {
    @Test
    void awsAccessKeyIdsAreFound() {
      assertFinds(Detector.CLOUD_KEY, "key=AKIAIOSFODNN7EXAMPLE.", "AKIAIOSFODNN7EXAMPLE");
    }

    @Test
    void anAkiaWordOfTheWrongLengthIsNotAKey() {
      assertNothingIn("AKIAIOSFODNN7EXAMPLEX and AKIA1234");
    }

    @Test
    void githubSlackStripeAndGoogleTokensAreFound() {
      String gh = "ghp_" + "a".repeat(36);
      String slack = "xoxb-1234567890-abcdefghij";
      String stripe = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc";
      String google = "AIza" + "SyA-1234567890abcdefghijklmnopqrstu";
      assertThat(find(gh + " " + slack + " " + stripe + " " + google)).extracting(Found::text)
          .containsExactly(gh, slack, stripe, google);
    }

    @Test
    void aPemPrivateKeyBlockIsFoundWhole() {
      String key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\nabc=\n-----END RSA PRIVATE KEY-----";
      assertFinds(Detector.PRIVATE_KEY, "here: " + key + "\nbye", key);
    }

    @Test
    void aPublicKeyOrCertificateIsNotAPrivateKey() {
      assertNothingIn("-----BEGIN PUBLIC KEY-----\nMIIBIjAN\n-----END PUBLIC KEY-----");
      assertNothingIn("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----");
    }

    @Test
    void aGcpServiceAccountKeyFileLosesItsKeyAndKeyId() {
      String json = "{\"type\":\"service_account\",\"private_key_id\":\"" + "0123456789abcdef".repeat(2) + "01234567"
          + "\",\"private_key\":\"-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBg\\n-----END PRIVATE KEY-----\\n\"}";
      assertThat(find(json)).extracting(Found::detector).containsExactly(Detector.CLOUD_KEY, Detector.PRIVATE_KEY);
    }

    @Test
    void jwtsAreFound() {
      String jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
      assertThat(find("token " + jwt + " end")).extracting(Found::text).containsExactly(jwt);
    }

    @Test
    void bearerTokensAndTokenAssignmentsAreFound() {
      assertFinds(Detector.BEARER_TOKEN, "Authorization: Bearer abcdef0123456789XYZ", "abcdef0123456789XYZ");
      assertFinds(Detector.BEARER_TOKEN, "{\"access_token\": \"s3cr3t-t0ken-value\"}", "s3cr3t-t0ken-value");
      assertFinds(Detector.BEARER_TOKEN, "url?refresh_token=r1r2r3r4r5r6&x=1", "r1r2r3r4r5r6");
    }

    @Test
    void proseMentioningABearerIsLeft() {
      assertNothingIn("the bearer of this letter; an access_token is required");
    }
  }

  @Nested
  class Redaction {
    @Test
    void onlyTheMatchIsMaskedAndTheLengthIsKept() {
      assertThat(redact("mail alice@example.com or call 415-555-2671."))
          .isEqualTo("mail ***************** or call ************.");
    }

    @Test
    void textWithNothingToMaskComesBackAsTheSameArray() {
      byte[] text = "just an ordinary sentence with 42 words and 3.5 ratios".getBytes(StandardCharsets.UTF_8);
      assertThat(ALL.redact(text)).isSameAs(text);
    }

    @Test
    void theArgumentIsNeverChanged() {
      byte[] text = "alice@example.com".getBytes(StandardCharsets.UTF_8);
      byte[] masked = ALL.redact(text);
      assertThat(masked).isNotSameAs(text);
      assertThat(new String(text, StandardCharsets.UTF_8)).isEqualTo("alice@example.com");
    }

    @Test
    void aRangeIsMaskedInPlaceWithoutTouchingBytesOutsideIt() {
      byte[] buf = "alice@example.com|bob@example.com".getBytes(StandardCharsets.UTF_8);
      assertThat(ALL.redact(buf, 18, 15)).isTrue();
      assertThat(new String(buf, StandardCharsets.UTF_8)).isEqualTo("alice@example.com|***************");
    }

    @Test
    void insideJsonStringsAreStarredAndNumbersBecomeZeroSoTheDocumentStaysValid() {
      byte[] json = "{\"card\":4111111111111111,\"mail\":\"a@example.com\",\"k\":\"-----BEGIN PRIVATE KEY-----\\nAB\\n-----END PRIVATE KEY-----\"}"
          .getBytes(StandardCharsets.UTF_8);
      ALL.redact(json, 0, json.length, Detectors.Replacement.JSON);
      String out = new String(json, StandardCharsets.UTF_8);
      assertThat(out).startsWith("{\"card\":0               ,\"mail\":\"*************\",\"k\":\"");
      assertThat(out).contains("\\n").doesNotContain("BEGIN").doesNotContain("AB");
      assertThat(out).endsWith("\"}");
    }

    @Test
    void inNumbersArraysAndRowsDigitsBecomeZeros() {
      byte[] array = "{4111111111111111,42}".getBytes(StandardCharsets.UTF_8);
      ALL.redact(array, 0, array.length, Detectors.Replacement.DIGITS);
      assertThat(new String(array, StandardCharsets.UTF_8)).isEqualTo("{0000000000000000,42}");
    }

    @Test
    void onlyEnabledDetectorsMask() {
      Detectors emailOnly = Detectors.of(Detector.EMAIL);
      byte[] b = "alice@example.com 4111111111111111".getBytes(StandardCharsets.UTF_8);
      assertThat(new String(emailOnly.redact(b), StandardCharsets.UTF_8)).isEqualTo("***************** 4111111111111111");
      assertThat(Detectors.none().matches(b, 0, b.length)).isFalse();
    }

    @Test
    void nonAsciiTextAroundAMatchIsABoundary() {
      assertThat(redact("né alice@example.com — fin")).isEqualTo("né ***************** — fin");
    }

    @Test
    void aRangeOutsideTheArrayIsRefused() {
      assertThatThrownBy(() -> ALL.redact(new byte[4], 2, 5)).isInstanceOf(IndexOutOfBoundsException.class);
    }
  }

  @Test
  void aLongTextWithManyMatchesIsScannedCompletely() {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < 10_000; i++) sb.append("row ").append(i).append(" user").append(i).append("@example.com; ");
    assertThat(find(Detectors.of(Detector.EMAIL), sb.toString())).hasSize(10_000);
  }
}
