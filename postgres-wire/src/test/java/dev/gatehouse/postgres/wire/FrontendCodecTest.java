package dev.gatehouse.postgres.wire;

import static dev.gatehouse.postgres.wire.Wire.hex;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.gatehouse.postgres.wire.Wire.Feed;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

class FrontendCodecTest {

  static List<FrontendMessage> samples() {
    var params = new LinkedHashMap<String, String>();
    params.put("user", "alice");
    params.put("database", "pg-prod");
    params.put("application_name", "psql ✓");
    return List.of(
        new StartupMessage(ProtocolVersion.V3_0, params),
        new StartupMessage(ProtocolVersion.V3_2, Map.of()),
        SSLRequest.INSTANCE,
        GSSENCRequest.INSTANCE,
        new CancelRequest(12345, new byte[] {1, 2, 3, 4}),
        new CancelRequest(7, new byte[32]),
        new CancelRequest(0x01abcdef, new byte[] {9, 8, 7, 6}, true),
        PasswordMessage.cleartext("a token of several words"),
        new SASLInitialResponse("SCRAM-SHA-256", "n,,n=,r=abc".getBytes(StandardCharsets.UTF_8)),
        new SASLInitialResponse("SCRAM-SHA-256", Optional.empty()),
        new SASLResponse("c=biws,r=abc,p=xyz".getBytes(StandardCharsets.UTF_8)),
        new Query("SELECT 'é', 1; SELECT 2"),
        new Query(""),
        new Parse("s1", "SELECT $1::int, $2", new int[] {23, 0}),
        new Parse("", "BEGIN", new int[0]),
        new Bind("p1", "s1", new short[] {0, 1},
            Arrays.asList("42".getBytes(StandardCharsets.UTF_8), null), new short[] {1}),
        new Bind("", "", new short[0], List.of(), new short[0]),
        Describe.statement("s1"),
        Describe.portal(""),
        new Execute("p1", 100),
        new Execute("", 0),
        Sync.INSTANCE,
        Flush.INSTANCE,
        Close.statement("s1"),
        Close.portal("p1"),
        new CopyData("1\talice\n".getBytes(StandardCharsets.UTF_8)),
        CopyDone.INSTANCE,
        new CopyFail("aborted by user"),
        new FunctionCall(1598, new short[] {1},
            Arrays.asList(new byte[] {0, 0, 0, 1}, null), (short) 1),
        Terminate.INSTANCE);
  }

  static Stream<FrontendMessage> samplesStream() {
    return samples().stream();
  }

  @Test
  void everyFrontendMessageTypeHasARoundTripSample() {
    var covered = samples().stream().map(Object::getClass).distinct().toList();
    assertThat(covered).containsExactlyInAnyOrder(FrontendMessage.class.getPermittedSubclasses());
  }

  @ParameterizedTest
  @MethodSource("samplesStream")
  void everyMessageSurvivesEncodingAndDecodingFedWholeAndByteByByte(FrontendMessage message)
      throws IOException {
    byte[] wire = Wire.written(List.of(message));
    for (Feed feed : Feed.values()) {
      var reader = new FrameReader(feed.open(wire));
      Frame frame =
          (FrontendCodec.encode(message).isStartup() ? reader.readStartup(10_000) : reader.read(1 << 20))
              .orElseThrow();
      assertThat(frame).isEqualTo(FrontendCodec.encode(message));
      FrontendMessage decoded = FrontendCodec.decode(frame);
      switch (message) {
        case SASLInitialResponse s ->
            assertThat(SASLInitialResponse.parse((PasswordMessage) decoded)).isEqualTo(s);
        case SASLResponse s -> assertThat(SASLResponse.parse((PasswordMessage) decoded)).isEqualTo(s);
        default -> assertThat(decoded).isEqualTo(message);
      }
      assertThat(reader.read(1 << 20)).isEmpty();
    }
  }

  @ParameterizedTest
  @EnumSource(Feed.class)
  void startupMessageFromTheDocumentationDecodesWithParametersInOrder(Feed feed) throws IOException {
    byte[] wire = hex("00000025 00030000 'user'00 'alice'00 'database'00 'pg-prod'00 00");
    Frame frame = new FrameReader(feed.open(wire)).readStartup(10_000).orElseThrow();

    var startup = (StartupMessage) FrontendCodec.decode(frame);

    assertThat(startup.protocolVersion()).isEqualTo(196608);
    assertThat(startup.parameters()).containsExactly(
        Map.entry("user", "alice"), Map.entry("database", "pg-prod"));
    assertThat(Wire.written(List.of(startup))).isEqualTo(wire);
  }

  @ParameterizedTest
  @EnumSource(Feed.class)
  void sslGssencAndCancelRequestsAreRecognisedByTheirCodes(Feed feed) throws IOException {
    byte[] wire = hex("00000008 04d2162f  00000008 04d21630  00000010 04d2162e 00003039 01020304");
    var reader = new FrameReader(feed.open(wire));

    assertThat(FrontendCodec.decode(reader.readStartup(10_000).orElseThrow()))
        .isEqualTo(SSLRequest.INSTANCE);
    assertThat(FrontendCodec.decode(reader.readStartup(10_000).orElseThrow()))
        .isEqualTo(GSSENCRequest.INSTANCE);
    assertThat(FrontendCodec.decode(reader.readStartup(10_000).orElseThrow()))
        .isEqualTo(new CancelRequest(12345, new byte[] {1, 2, 3, 4}));
  }

  @ParameterizedTest
  @EnumSource(Feed.class)
  void aCancelRelayedByAnotherNodeCarriesGatehousesOwnCode(Feed feed) throws IOException {
    // 0x4748162e: major 0x4748 ("GH"), which no PostgreSQL request uses, minor 5678 as in CancelRequest.
    byte[] wire = hex("00000010 4748162e 00003039 01020304");
    var reader = new FrameReader(feed.open(wire));

    var cancel = (CancelRequest) FrontendCodec.decode(reader.readStartup(10_000).orElseThrow());

    assertThat(cancel).isEqualTo(new CancelRequest(12345, new byte[] {1, 2, 3, 4}, true));
    assertThat(cancel.relayed()).isTrue();
    assertThat(cancel).isNotEqualTo(new CancelRequest(12345, new byte[] {1, 2, 3, 4}));
    assertThat(Wire.written(List.of(cancel))).isEqualTo(wire);
    assertThat(cancel.toString()).contains("relayed").doesNotContain("1, 2, 3, 4");
  }

  @Test
  void queryVectorDecodesToItsText() {
    var frames = Wire.frames(hex("51 0000000d 'SELECT 1'00"), Feed.BYTE_BY_BYTE);

    assertThat(frames).hasSize(1);
    assertThat(FrontendCodec.decode(frames.getFirst())).isEqualTo(new Query("SELECT 1"));
  }

  @Test
  void parseAndBindWithANullParameterDecodeFromHandcraftedBytes() {
    byte[] wire = hex("""
        50 00000017 's1'00 'SELECT $1'00 0001 00000017
        42 0000001a 00 's1'00 0000 0002 00000002 '42' ffffffff 0001 0001
        """);
    var frames = Wire.frames(wire, Feed.BYTE_BY_BYTE);

    assertThat(FrontendCodec.decode(frames.get(0)))
        .isEqualTo(new Parse("s1", "SELECT $1", new int[] {23}));
    var bind = (Bind) FrontendCodec.decode(frames.get(1));
    assertThat(bind.portal()).isEmpty();
    assertThat(bind.statement()).isEqualTo("s1");
    assertThat(bind.parameters()).hasSize(2);
    assertThat(bind.parameter(0)).hasValueSatisfying(v -> assertThat(v).asString().isEqualTo("42"));
    assertThat(bind.parameter(1)).isEmpty();
    assertThat(bind.parameters().get(1)).isNull();
    assertThat(bind.resultFormat(0)).isEqualTo((short) 1);
    assertThat(bind.resultFormat(5)).isEqualTo((short) 1);
    assertThat(bind.parameterFormat(1)).isEqualTo((short) 0);
  }

  @Test
  void cleartextPasswordIsReadAsOneStringAndNeverShownInToString() {
    var message = (PasswordMessage) FrontendCodec.decode(new Frame((byte) 'p', hex("'hunter2'00")));

    assertThat(message.password()).isEqualTo("hunter2");
    assertThat(message.toString()).doesNotContain("hunter2");
    assertThat(new SASLResponse("proof".getBytes(StandardCharsets.UTF_8)).toString())
        .doesNotContain("proof");
    assertThat(new CancelRequest(1, hex("deadbeef")).toString())
        .doesNotContain(Arrays.toString(hex("deadbeef")))
        .contains("<redacted>");
  }

  @Test
  void passwordWithoutTerminatorOrWithTrailingBytesIsRefused() {
    assertViolation(() -> new PasswordMessage(hex("'hunter2'")).password(), "08P01", "NUL");
    assertViolation(() -> new PasswordMessage(hex("'a'00 'b'00")).password(), "08P01", "unexpected");
  }

  @Test
  void stringWithoutTerminatorIsAProtocolViolation() {
    assertViolation(() -> FrontendCodec.decode(new Frame((byte) 'Q', hex("'SELECT 1'"))),
        "08P01", "not NUL-terminated");
  }

  @Test
  void trailingBytesAfterTheLastFieldAreAProtocolViolation() {
    assertViolation(() -> FrontendCodec.decode(new Frame((byte) 'Q', hex("'SELECT 1'00 00"))),
        "08P01", "1 unexpected bytes");
    assertViolation(() -> FrontendCodec.decode(new Frame((byte) 'S', hex("00"))),
        "08P01", "unexpected bytes");
  }

  @Test
  void unknownMessageTypeIsAProtocolViolation() {
    assertViolation(() -> FrontendCodec.decode(new Frame((byte) 'z', new byte[0])),
        "08P01", "invalid frontend message type 'z'");
    // A backend-only type sent by a client is just as unknown.
    assertViolation(() -> FrontendCodec.decode(new Frame((byte) 'Z', hex("49"))),
        "08P01", "invalid frontend message type");
  }

  @Test
  void invalidUtf8IsRefusedRatherThanReplaced() {
    // 0xC0 0xAF is an overlong '/', a classic filter bypass.
    assertViolation(() -> FrontendCodec.decode(new Frame((byte) 'Q', hex("'SELECT ' c0af 00"))),
        "22021", "not valid UTF-8");
  }

  @Test
  void countLargerThanTheRemainingBytesIsRefusedBeforeAllocating() {
    // Bind claiming 65535 parameters in a 10-byte body.
    assertViolation(() -> FrontendCodec.decode(new Frame((byte) 'B', hex("00 00 0000 ffff 0000"))),
        "08P01", "count 65535 exceeds");
    // Parse claiming 65535 parameter types.
    assertViolation(() -> FrontendCodec.decode(new Frame((byte) 'P', hex("00 00 ffff"))),
        "08P01", "count 65535 exceeds");
  }

  @Test
  void valueLengthBelowMinusOneOrBeyondTheBodyIsRefused() {
    assertViolation(() -> FrontendCodec.decode(new Frame((byte) 'B',
        hex("00 00 0000 0001 fffffffe 0000"))), "08P01", "length -2 < -1");
    assertViolation(() -> FrontendCodec.decode(new Frame((byte) 'B',
        hex("00 00 0000 0001 7fffffff 0000"))), "08P01", "needs 2147483647 bytes");
  }

  @Test
  void bindWithFormatCountNotMatchingParameterCountIsRefusedAsPostgresDoes() {
    assertViolation(() -> FrontendCodec.decode(new Frame((byte) 'B',
        hex("00 00 0002 0000 0001  0003 00000001 '1' 00000001 '2' 00000001 '3' 0000"))),
        "08P01", "2 parameter formats but 3 parameters");
  }

  @Test
  void describeAndCloseAcceptOnlyStatementOrPortal() {
    assertViolation(() -> FrontendCodec.decode(new Frame((byte) 'D', hex("58 00"))),
        "08P01", "kind is not 'S' or 'P'");
    assertViolation(() -> FrontendCodec.decode(new Frame((byte) 'C', hex("00 00"))),
        "08P01", "kind is not 'S' or 'P'");
  }

  @Test
  void startupWithRepeatedParameterOrMissingTerminatorIsRefused() {
    assertViolation(() -> FrontendCodec.decode(Frame.startup(
        hex("00030000 'database'00 'a'00 'database'00 'b'00 00"))), "08P01", "repeated");
    assertViolation(() -> FrontendCodec.decode(Frame.startup(
        hex("00030000 'user'00 'alice'00"))), "08P01", "not NUL-terminated");
    assertViolation(() -> FrontendCodec.decode(Frame.startup(
        hex("00030000 'user'00 'alice'00 00 00"))), "08P01", "unexpected bytes");
  }

  @ParameterizedTest
  @EnumSource(Feed.class)
  void startupWithAnotherMajorVersionIsRefusedSayingWhatGatehouseAccepts(Feed feed) {
    // 3.1 and 3.2 are answered with NegotiateProtocolVersion 3.0; "3.0 to 3.2" would not be true.
    assertViolation(() -> decodeStartup(feed, "00020000 00"), "0A000",
        "unsupported frontend protocol 2.0: Gatehouse supports protocol 3.0"
            + " (3.1 and later 3.x versions are negotiated down to 3.0)");
    assertViolation(() -> decodeStartup(feed, "00040000 00"), "0A000",
        "unsupported frontend protocol 4.0: Gatehouse supports protocol 3.0 (");
  }

  @ParameterizedTest
  @EnumSource(Feed.class)
  void startupWithTwoParameterNamesEqualIgnoringCaseIsRefused(Feed feed) {
    assertViolation(() -> decodeStartup(feed, "00030000 'user'00 'alice'00 'USER'00 'bob'00 00"),
        "08P01", "two parameter names differ only in letter case");
    assertViolation(() -> decodeStartup(feed,
        "00030000 'database'00 'pg-prod'00 'DateStyle'00 'ISO'00 'datestyle'00 'SQL'00 00"),
        "08P01", "two parameter names differ only in letter case");
    // U+017F LATIN SMALL LETTER LONG S: "uſer".equalsIgnoreCase("user") is true in Java.
    assertViolation(() -> decodeStartup(feed, "00030000 'user'00 'alice'00 'uſer'00 'bob'00 00"),
        "08P01", "two parameter names differ only in letter case");
  }

  @ParameterizedTest
  @EnumSource(Feed.class)
  void startupParameterNamesStayCaseSensitive(Feed feed) {
    var startup = (StartupMessage) decodeStartup(feed, "00030000 'USER'00 'alice'00 'database'00 'd'00 00");

    assertThat(startup.parameters()).containsExactly(Map.entry("USER", "alice"), Map.entry("database", "d"));
    assertThat(startup.parameter("user")).isEmpty();
  }

  @ParameterizedTest
  @EnumSource(Feed.class)
  void userOrDatabaseNameLongerThan63BytesIsRefused(Feed feed) {
    String name63 = "a".repeat(63);
    var accepted = (StartupMessage) decodeStartup(feed,
        "00030000 'user'00 '" + name63 + "'00 'database'00 '" + name63 + "'00 00");
    assertThat(accepted.parameter("user")).hasValue(name63);

    assertViolation(() -> decodeStartup(feed, "00030000 'user'00 '" + "a".repeat(64) + "'00 00"),
        "42602", "StartupMessage: user name is 64 bytes long; Gatehouse accepts at most 63 bytes");
    assertViolation(() -> decodeStartup(feed,
        "00030000 'user'00 'alice'00 'database'00 '" + "d".repeat(5000) + "'00 00"),
        "42602", "database name is 5000 bytes long");
    // Bytes, not characters: 32 × "é" is 32 characters but 64 bytes of UTF-8.
    assertViolation(() -> decodeStartup(feed, "00030000 'user'00 '" + "é".repeat(32) + "'00 00"),
        "42602", "user name is 64 bytes long");
    // A spelling that a caseless reader would take for "user" is held to the same limit.
    assertViolation(() -> decodeStartup(feed, "00030000 'USER'00 '" + "a".repeat(64) + "'00 00"),
        "42602", "user name is 64 bytes long");
  }

  /** A startup packet whose body is {@code bodyHex}, length prefix added, read through a FrameReader. */
  private static FrontendMessage decodeStartup(Feed feed, String bodyHex) {
    byte[] body = hex(bodyHex);
    byte[] wire = ByteBuffer.allocate(4 + body.length).putInt(4 + body.length).put(body).array();
    try {
      return FrontendCodec.decode(new FrameReader(feed.open(wire)).readStartup(10_000).orElseThrow());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Test
  void cancelRequestWithAShortOrHugeKeyIsRefused() {
    assertViolation(() -> FrontendCodec.decode(Frame.startup(hex("04d2162e 00000001 0102"))),
        "08P01", "secret key length 2");
    assertViolation(() -> FrontendCodec.decode(Frame.startup(
        Wire.hex("04d2162e 00000001 " + "00".repeat(257)))), "08P01", "secret key length 257");
  }

  @Test
  void saslInitialResponseWithAnAbsentResponseUsesLengthMinusOne() {
    var parsed = SASLInitialResponse.parse(new PasswordMessage(hex("'SCRAM-SHA-256'00 ffffffff")));

    assertThat(parsed.mechanism()).isEqualTo("SCRAM-SHA-256");
    assertThat(parsed.data()).isEmpty();
    assertViolation(() -> SASLInitialResponse.parse(
        new PasswordMessage(hex("'SCRAM-SHA-256'00 00000010 'short'"))), "08P01", "needs 16 bytes");
  }

  @Test
  void stringsWithAnEmbeddedNulOrAnUnpairedSurrogateCannotBeEncoded() {
    assertThatThrownBy(() -> new Query("SELECT 1\0; DROP TABLE t"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("sql contains a NUL character");
    assertThatThrownBy(() -> new Query("SELECT '\uD800'"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("sql contains an unpaired surrogate");
    assertThat(new Query("SELECT '\uD83D\uDE00'").sql()).hasSize(11);
  }

  static void assertViolation(Runnable decode, String sqlstate, String messagePart) {
    assertThatThrownBy(decode::run)
        .isInstanceOfSatisfying(ProtocolException.class,
            e -> assertThat(e.sqlstate()).isEqualTo(sqlstate))
        .hasMessageContaining(messagePart);
  }
}
