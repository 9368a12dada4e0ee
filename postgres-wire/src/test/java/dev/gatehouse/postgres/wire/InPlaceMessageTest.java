package dev.gatehouse.postgres.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@link InPlaceMessage} and {@link CommandComplete#rowsInPlace}: what the relay reads where a
 * message lies must be what the codec decodes from the same bytes, and anything the codec refuses
 * (or reads as UTF-8) is left to the codec. {@link DecoderFuzzTest} checks the same on every seed.
 */
class InPlaceMessageTest {

  /** The frame's bytes at an offset in a larger buffer, read in place; null when not vouched for. */
  static InPlaceMessage read(Frame frame) {
    byte[] bytes = Wire.written(List.of(frame));
    byte[] buffer = new byte[bytes.length + 10];
    Arrays.fill(buffer, (byte) 'x'); // what lies around the message must not be read
    System.arraycopy(bytes, 0, buffer, 7, bytes.length);
    InPlaceMessage view = new InPlaceMessage();
    if (!view.read(buffer, 7, bytes.length)) return null;
    assertThat(Arrays.copyOfRange(view.array(), view.start(), view.start() + view.length())).isEqualTo(bytes);
    return view;
  }

  /** The fields read in place are the decoded message's. */
  static void assertSameFields(InPlaceMessage view, FrontendMessage message) {
    switch (message) {
      case Bind b -> {
        assertThat(view.type()).isEqualTo(Bind.TYPE);
        assertThat(view.name(null)).isEqualTo(b.portal());
        assertThat(view.statement(null)).isEqualTo(b.statement());
        assertThat(view.resultFormats()).isEqualTo(b.resultFormats());
      }
      case Describe d -> {
        assertThat(view.type()).isEqualTo(Describe.TYPE);
        assertThat(view.kind()).isEqualTo(d.kind());
        assertThat(view.name(null)).isEqualTo(d.name());
      }
      case Execute e -> {
        assertThat(view.type()).isEqualTo(Execute.TYPE);
        assertThat(view.name(null)).isEqualTo(e.portal());
        assertThat(view.maxRows()).isEqualTo(e.maxRows());
      }
      case Sync s -> assertThat(view.type()).isEqualTo(Sync.TYPE);
      default -> throw new AssertionError("read in place, but decoded as " + message);
    }
  }

  private static void sameAsCodec(FrontendMessage message) {
    Frame frame = FrontendCodec.encode(message);
    InPlaceMessage view = read(frame);
    assertThat(view).as("read in place: %s", message).isNotNull();
    assertSameFields(view, FrontendCodec.decode(frame));
  }

  @Test
  void libpqsPreparedExecutionIsReadInPlace() {
    // PQexecPrepared: Bind (text parameters, one NULL), Describe portal, Execute, Sync.
    sameAsCodec(new Bind("", "P_0", new short[0], Arrays.asList("42".getBytes(StandardCharsets.US_ASCII), null), new short[0]));
    sameAsCodec(Describe.portal(""));
    sameAsCodec(new Execute("", 0));
    sameAsCodec(Sync.INSTANCE);
    // pgjdbc: binary parameters and results, named portal, a row limit, a statement Describe.
    sameAsCodec(new Bind("C_1", "S_7", new short[] {1, 1}, List.of(new byte[] {0, 0, 0, 1}, new byte[0]), new short[] {1}));
    sameAsCodec(new Bind("", "", new short[] {0}, List.of(), new short[] {0, 1, 1}));
    sameAsCodec(new Describe(Describe.STATEMENT, "S_7"));
    sameAsCodec(new Execute("C_1", 50));
  }

  @Test
  void namesThatAreNotPlainAsciiAreLeftToTheCodec() {
    assertThat(read(FrontendCodec.encode(new Bind("", "statement_é", new short[0], List.of(), new short[0])))).isNull();
    assertThat(read(FrontendCodec.encode(Describe.portal("tab\there")))).isNull();
    assertThat(read(FrontendCodec.encode(new Execute("ポータル", 0)))).isNull();
  }

  @Test
  void otherMessagesAreLeftToTheCodec() {
    assertThat(read(FrontendCodec.encode(new Parse("", "SELECT 1", new int[0])))).isNull();
    assertThat(read(FrontendCodec.encode(new Query("SELECT 1")))).isNull();
    assertThat(read(FrontendCodec.encode(new Close(Close.PORTAL, "")))).isNull();
    assertThat(read(FrontendCodec.encode(Flush.INSTANCE))).isNull();
  }

  @Test
  void malformedMessagesAreLeftToTheCodecWhichRefusesThem() {
    List<Frame> malformed = List.of(
        // two parameter formats for one parameter
        new Frame(Bind.TYPE, Wire.hex("00 00 0002 0000 0000 0001 ffffffff 0000")),
        // a parameter longer than the body
        new Frame(Bind.TYPE, Wire.hex("00 00 0000 0001 00000010 41 0000")),
        // a parameter length below -1
        new Frame(Bind.TYPE, Wire.hex("00 00 0000 0001 fffffffe 0000")),
        // a byte after the last result format
        new Frame(Bind.TYPE, Wire.hex("00 00 0000 0000 0001 0001 00")),
        // result formats cut short
        new Frame(Bind.TYPE, Wire.hex("00 00 0000 0000 0002 0001")),
        // a portal name without its NUL
        new Frame(Bind.TYPE, Wire.hex("41 42")),
        // Describe of kind 'X', and with a byte after the name
        new Frame(Describe.TYPE, Wire.hex("58 00")),
        new Frame(Describe.TYPE, Wire.hex("50 00 00")),
        // Execute without its row limit, or with a byte too many
        new Frame(Execute.TYPE, Wire.hex("00 0000")),
        new Frame(Execute.TYPE, Wire.hex("00 00000000 00")),
        // Sync with a body
        new Frame(Sync.TYPE, Wire.hex("00")));
    for (Frame frame : malformed) {
      assertThat(read(frame)).as("%s", frame).isNull();
      assertThatThrownBy(() -> FrontendCodec.decode(frame)).as("%s", frame).isInstanceOf(ProtocolException.class);
    }
  }

  @Test
  void aNameSeenLastTimeIsTheSameString() {
    InPlaceMessage view = read(FrontendCodec.encode(new Bind("portal_1", "P_0", new short[0], List.of(), new short[0])));
    String known = "P_0";
    assertThat(view.statement(known)).isSameAs(known);
    assertThat(view.statement("P_1")).isEqualTo("P_0").isNotSameAs("P_1");
    assertThat(view.name("portal_2")).isEqualTo("portal_1");
    assertThat(view.name(null)).isEqualTo("portal_1");
  }

  @Test
  void commandCompleteRowsReadInPlaceAreTheDecodedOnes() {
    long none = CommandComplete.NO_COUNT;
    Map<String, Long> expected = new java.util.LinkedHashMap<>();
    expected.put("SELECT 1", 1L);
    expected.put("SELECT 0", 0L);
    expected.put("INSERT 0 3", 3L);
    expected.put("UPDATE 12", 12L);
    expected.put("DELETE 9223372036854775807", Long.MAX_VALUE);
    expected.put("MERGE 4", 4L);
    expected.put("FETCH 100", 100L);
    expected.put("MOVE 2", 2L);
    expected.put("COPY 10", 10L);
    expected.put("CREATE TABLE", none);
    expected.put("BEGIN", none);
    expected.put("SELECT", none);
    expected.put("SELECT 9223372036854775808", none);
    expected.put("SELECT 99999999999999999999", none);
    expected.put("SELECT x", none);
    expected.put("SELECTED 5", none);
    expected.put("INSERT 0 ", none);
    expected.put("", none);
    expected.forEach((tag, count) -> {
      Frame frame = BackendCodec.encode(new CommandComplete(tag));
      assertThat(CommandComplete.rowsInPlace(frame.body(), 0, frame.body().length)).as(tag).isEqualTo(count);
      assertThat(new CommandComplete(tag).rows().orElse(none)).as(tag).isEqualTo(count);
    });
    assertThat(CommandComplete.rowsInPlace("SELECT 5\0".getBytes(StandardCharsets.US_ASCII), 0, 9)).isEqualTo(5);
    // Non-ASCII, an inner NUL, no NUL at the end: the codec reads (and judges) these.
    assertThat(CommandComplete.rowsInPlace("SELECT é\0".getBytes(StandardCharsets.UTF_8), 0, 10)).isEqualTo(CommandComplete.DECODE);
    assertThat(CommandComplete.rowsInPlace("SEL\0ECT 5\0".getBytes(StandardCharsets.US_ASCII), 0, 10)).isEqualTo(CommandComplete.DECODE);
    assertThat(CommandComplete.rowsInPlace("SELECT 5".getBytes(StandardCharsets.US_ASCII), 0, 8)).isEqualTo(CommandComplete.DECODE);
    assertThat(CommandComplete.rowsInPlace(new byte[0], 0, 0)).isEqualTo(CommandComplete.DECODE);
  }

  @Test
  void theTagRollbackIsRecognisedWhereItLiesAndNothingElseIs() {
    byte[] b = "xxROLLBACK\0".getBytes(StandardCharsets.US_ASCII);
    assertThat(CommandComplete.rollbackInPlace(b, 2, 9)).isTrue();
    for (String other : new String[] {"ROLLBACK PREPARED", "ROLLBAC", "COMMIT", "ROLLBACKS", "rollback"}) {
      byte[] o = (other + "\0").getBytes(StandardCharsets.US_ASCII);
      assertThat(CommandComplete.rollbackInPlace(o, 0, o.length)).as(other).isFalse();
    }
    assertThat(CommandComplete.rollbackInPlace("ROLLBACKX".getBytes(StandardCharsets.US_ASCII), 0, 9)).isFalse();
  }
}
