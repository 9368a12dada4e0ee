package dev.gatehouse.postgres.wire;

import static dev.gatehouse.postgres.wire.FrontendCodecTest.assertViolation;
import static dev.gatehouse.postgres.wire.Wire.hex;
import static org.assertj.core.api.Assertions.assertThat;

import dev.gatehouse.postgres.wire.Wire.Feed;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

class BackendCodecTest {

  static List<BackendMessage> samples() {
    return List.of(
        AuthenticationOk.INSTANCE,
        AuthenticationCleartextPassword.INSTANCE,
        new AuthenticationMD5Password(new byte[] {1, 2, 3, 4}),
        new AuthenticationSASL(List.of("SCRAM-SHA-256-PLUS", "SCRAM-SHA-256")),
        new AuthenticationSASLContinue("r=abc,s=c2FsdA==,i=4096".getBytes(StandardCharsets.UTF_8)),
        new AuthenticationSASLFinal("v=c2lnbmF0dXJl".getBytes(StandardCharsets.UTF_8)),
        new AuthenticationUnsupported(Authentication.SSPI),
        new BackendKeyData(4242, new byte[] {9, 8, 7, 6}),
        new BackendKeyData(4242, new byte[32]),
        new ParameterStatus("client_encoding", "UTF8"),
        new ReadyForQuery(ReadyForQuery.IN_TRANSACTION),
        new RowDescription(List.of(
            new RowDescription.Field("id", 16384, (short) 1, 23, (short) 4, -1, (short) 0),
            new RowDescription.Field("émail", 16384, (short) 2, 25, (short) -1, -1, (short) 1))),
        DataRow.of(Arrays.asList("1".getBytes(StandardCharsets.UTF_8), null, new byte[0])),
        new CommandComplete("INSERT 0 3"),
        EmptyQueryResponse.INSTANCE,
        ErrorResponse.of("ERROR", "42501", "permission denied for table customers")
            .with(ErrorField.HINT, "ask for access"),
        NoticeResponse.of("NOTICE", "00000", "hello from RAISE NOTICE"),
        ParseComplete.INSTANCE,
        BindComplete.INSTANCE,
        CloseComplete.INSTANCE,
        NoData.INSTANCE,
        PortalSuspended.INSTANCE,
        new ParameterDescription(new int[] {23, 25}),
        new CopyInResponse((byte) 0, new short[] {0, 0}),
        new CopyOutResponse((byte) 1, new short[] {1}),
        new CopyBothResponse((byte) 0, new short[0]),
        new CopyData(new byte[] {1, 2, 3}),
        CopyDone.INSTANCE,
        new NotificationResponse(77, "jobs", "{\"id\": 1}"),
        new NegotiateProtocolVersion(0, List.of("_pq_.unknown")),
        new FunctionCallResponse(Optional.of(new byte[] {0, 0, 0, 42})),
        new FunctionCallResponse(Optional.empty()));
  }

  static Stream<BackendMessage> samplesStream() {
    return samples().stream();
  }

  @Test
  void everyBackendMessageTypeHasARoundTripSample() {
    var expected = new ArrayList<Class<?>>();
    for (Class<?> c : BackendMessage.class.getPermittedSubclasses()) {
      if (c.isSealed()) {
        expected.addAll(List.of(c.getPermittedSubclasses()));
      } else {
        expected.add(c);
      }
    }
    var covered = samples().stream().map(Object::getClass).distinct().toList();
    assertThat(covered).containsExactlyInAnyOrderElementsOf(expected);
  }

  @ParameterizedTest
  @MethodSource("samplesStream")
  void everyMessageSurvivesEncodingAndDecodingFedWholeAndByteByByte(BackendMessage message) {
    byte[] wire = Wire.written(List.of(message));
    for (Feed feed : Feed.values()) {
      var frames = Wire.frames(wire, feed);
      assertThat(frames).containsExactly(BackendCodec.encode(message));
      assertThat(BackendCodec.decode(frames.getFirst())).isEqualTo(message);
    }
  }

  @ParameterizedTest
  @EnumSource(Feed.class)
  void authenticationExchangeFromTheDocumentationDecodes(Feed feed) {
    byte[] wire = hex("""
        52 00000017 0000000a 'SCRAM-SHA-256'00 00
        52 00000008 00000000
        53 00000019 'client_encoding'00 'UTF8'00
        4b 0000000c 00001234 cafebabe
        5a 00000005 49
        """);
    var messages = Wire.frames(wire, feed).stream().map(BackendCodec::decode).toList();

    assertThat(messages).containsExactly(
        new AuthenticationSASL(List.of("SCRAM-SHA-256")),
        AuthenticationOk.INSTANCE,
        new ParameterStatus("client_encoding", "UTF8"),
        new BackendKeyData(0x1234, hex("cafebabe")),
        ReadyForQuery.IDLE_INSTANCE);
    assertThat(messages.get(3).toString()).doesNotContain("cafebabe").contains("<redacted>");
  }

  @ParameterizedTest
  @EnumSource(Feed.class)
  void dataRowWithANullColumnIsReadLazilyByIndex(Feed feed) {
    var frames = Wire.frames(hex("44 00000013 0003 00000001 '1' ffffffff 00000000"), feed);

    var row = (DataRow) BackendCodec.decode(frames.getFirst());

    assertThat(row.columnCount()).isEqualTo(3);
    assertThat(row.text(0)).contains("1");
    assertThat(row.isNull(1)).isTrue();
    assertThat(row.value(1)).isEmpty();
    assertThat(row.value(2)).hasValueSatisfying(v -> assertThat(v).isEmpty());
    assertThat(row.values()).hasSize(3).element(1).isNull();
    assertThat(DataRow.of(row.values())).isEqualTo(row);
    assertThat(row.toString()).isEqualTo("DataRow[<3 columns>]");
  }

  @Test
  void dataRowWhoseLengthsDoNotFitTheBodyIsRefused() {
    assertViolation(() -> BackendCodec.decode(new Frame((byte) 'D', hex("0002 00000001 '1'"))),
        "08P01", "column count 2 exceeds the 5 bytes that remain");
    assertViolation(() -> BackendCodec.decode(new Frame((byte) 'D', hex("0002 00000001 '1' 000000"))),
        "08P01", "needs 4 bytes");
    assertViolation(() -> BackendCodec.decode(new Frame((byte) 'D', hex("0001 00000005 '1'"))),
        "08P01", "needs 5 bytes");
    assertViolation(() -> BackendCodec.decode(new Frame((byte) 'D', hex("0001 fffffffe"))),
        "08P01", "length -2 < -1");
    assertViolation(() -> BackendCodec.decode(new Frame((byte) 'D', hex("0000 00"))),
        "08P01", "unexpected bytes");
  }

  @ParameterizedTest
  @EnumSource(Feed.class)
  void errorResponseKeepsEveryFieldInOrder(Feed feed) {
    byte[] wire = hex("""
        45 00000055 53 'ERROR'00 56 'ERROR'00 43 '42P01'00
        4d 'relation "x" does not exist'00 50 '15'00 46 'parse_relation.c'00 5a 'future'00 00
        """);
    var error = (ErrorResponse) BackendCodec.decode(Wire.frames(wire, feed).getFirst());

    assertThat(error.severity()).isEqualTo("ERROR");
    assertThat(error.sqlstate()).isEqualTo("42P01");
    assertThat(error.message()).isEqualTo("relation \"x\" does not exist");
    assertThat(error.field(ErrorField.POSITION)).contains("15");
    assertThat(error.field(ErrorField.HINT)).isEmpty();
    assertThat(error.fields()).extracting(ErrorField::code).containsExactly(
        (byte) 'S', (byte) 'V', (byte) 'C', (byte) 'M', (byte) 'P', (byte) 'F', (byte) 'Z');
    assertThat(Wire.written(List.of(error))).isEqualTo(wire);
  }

  @Test
  void errorResponseFactoryBuildsWhatPsqlExpects() {
    var error = ErrorResponse.of("FATAL", "28000", "access to \"pg-prod\" denied");

    assertThat(BackendCodec.encode(error).body()).isEqualTo(hex(
        "53 'FATAL'00 56 'FATAL'00 43 '28000'00 4d 'access to \"pg-prod\" denied'00 00"));
  }

  @Test
  void errorFieldsWithoutTerminatorAreRefused() {
    assertViolation(() -> BackendCodec.decode(new Frame((byte) 'E', hex("53 'ERROR'00"))),
        "08P01", "needs 1 bytes");
    assertViolation(() -> BackendCodec.decode(new Frame((byte) 'N', hex("53 'ERROR'"))),
        "08P01", "not NUL-terminated");
  }

  @ParameterizedTest
  @CsvSource(textBlock = """
      SELECT 5,          5
      INSERT 0 3,        3
      UPDATE 2,          2
      DELETE 0,          0
      MERGE 7,           7
      COPY 10,           10
      FETCH 100,         100
      MOVE 4,            4
      CREATE TABLE,
      BEGIN,
      SELECT x,
      INSERT 0 99999999999999999999,
      INSERT 0 9223372036854775807, 9223372036854775807
      INSERT 0 9223372036854775808,
      SELECTED 5,
      SELEC 5,
      'SELECT ',
      """)
  void commandCompleteReportsTheRowCountOfCountingTags(String tag, Long rows) {
    var complete = new CommandComplete(tag);

    assertThat(complete.rows())
        .isEqualTo(rows == null ? OptionalLong.empty() : OptionalLong.of(rows));
  }

  @Test
  void readyForQueryWithAnUnknownStatusIsRefused() {
    assertViolation(() -> BackendCodec.decode(new Frame((byte) 'Z', hex("58"))),
        "08P01", "status is not");
  }

  @Test
  void unknownAuthenticationCodeAndUnknownTypeAreRefused() {
    assertViolation(() -> BackendCodec.decode(new Frame((byte) 'R', hex("00000063"))),
        "08P01", "unknown request code 99");
    assertViolation(() -> BackendCodec.decode(new Frame((byte) 'Q', hex("00"))),
        "08P01", "invalid backend message type 'Q'");
  }

  @Test
  void kerberosAndGssRequestsDecodeAsUnsupported() {
    assertThat(BackendCodec.decode(new Frame((byte) 'R', hex("00000007"))))
        .isEqualTo(new AuthenticationUnsupported(Authentication.GSS));
    assertThat(BackendCodec.decode(new Frame((byte) 'R', hex("00000008 01020304"))))
        .isEqualTo(new AuthenticationUnsupported(Authentication.GSS_CONTINUE));
  }

  @Test
  void rowDescriptionClaimingMoreFieldsThanFitIsRefusedBeforeAllocating() {
    assertViolation(() -> BackendCodec.decode(new Frame((byte) 'T', hex("ffff 00"))),
        "08P01", "field count 65535 exceeds");
  }

  @Test
  void negotiateProtocolVersionWithANegativeCountIsRefused() {
    assertViolation(() -> BackendCodec.decode(new Frame((byte) 'v', hex("00000000 ffffffff"))),
        "08P01", "option count -1 < 0");
    assertViolation(() -> BackendCodec.decode(new Frame((byte) 'v', hex("00000000 7fffffff 00"))),
        "08P01", "exceeds");
  }
}
