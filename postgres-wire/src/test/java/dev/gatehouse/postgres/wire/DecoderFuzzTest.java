package dev.gatehouse.postgres.wire;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.util.Optional;

/**
 * Jazzer fuzz targets for the two decoders, fed the way the proxy feeds them (FrameReader, then
 * the codec). The only acceptable failures are {@link ProtocolException} (malformed input, with a
 * SQLSTATE) and {@link EOFException} (truncated input); anything else, and any message that does
 * not survive encode and decode unchanged, is a finding.
 *
 * <p>A normal {@code mvn test} runs these in regression mode over the seeds under {@code
 * src/test/resources/dev/gatehouse/postgres/wire/DecoderFuzzTestInputs} (captured psql and pgjdbc
 * traffic). To fuzz: {@code JAZZER_FUZZ=1 ./mvnw -pl postgres-wire test -Dtest=DecoderFuzzTest}.
 */
class DecoderFuzzTest {
  private static final int MAX_LENGTH = 64 * 1024;

  @FuzzTest(maxDuration = "5m")
  void frontendDecoder(byte[] input) throws IOException {
    var reader = new FrameReader(new ByteArrayInputStream(input), 64);
    try {
      Optional<Frame> startup = reader.readStartup(10_000);
      if (startup.isEmpty()) {
        return;
      }
      checkFrontend(startup.get());
      for (var f = reader.read(MAX_LENGTH); f.isPresent(); f = reader.read(MAX_LENGTH)) {
        checkFrontend(f.get());
      }
    } catch (ProtocolException | EOFException expected) {
      // Malformed or truncated framing: the proxy answers with the SQLSTATE and closes.
    }
  }

  @FuzzTest(maxDuration = "5m")
  void backendDecoder(byte[] input) throws IOException {
    var reader = new FrameReader(new ByteArrayInputStream(input), 64);
    try {
      for (var f = reader.read(MAX_LENGTH); f.isPresent(); f = reader.read(MAX_LENGTH)) {
        checkBackend(f.get());
      }
    } catch (ProtocolException | EOFException expected) {
      // As above.
    }
  }

  private static void checkFrontend(Frame frame) {
    // What the relay reads in place must be exactly what the codec accepts, with the same fields.
    InPlaceMessage view = InPlaceMessageTest.read(frame);
    FrontendMessage message;
    try {
      message = FrontendCodec.decode(frame);
    } catch (ProtocolException expected) {
      assertThat(expected.sqlstate()).hasSize(5);
      assertThat(view).as("a message the codec refuses is not read in place").isNull();
      return;
    }
    if (view != null) InPlaceMessageTest.assertSameFields(view, message);
    assertThat(FrontendCodec.encode(message)).isEqualTo(frame);
    assertThat(FrontendCodec.decode(FrontendCodec.encode(message))).isEqualTo(message);
    if (message instanceof PasswordMessage p) {
      try {
        var sasl = SASLInitialResponse.parse(p);
        assertThat(SASLInitialResponse.parse(sasl.toPasswordMessage())).isEqualTo(sasl);
      } catch (ProtocolException notSasl) {
        // Not every 'p' body is a SASL initial response.
      }
      try {
        p.password();
      } catch (ProtocolException notCleartext) {
        // Nor a cleartext password.
      }
    }
  }

  private static void checkBackend(Frame frame) {
    // A CommandComplete's row count read in place must be the decoded one, or left to the codec.
    long inPlace = frame.type() == CommandComplete.TYPE
        ? CommandComplete.rowsInPlace(frame.body(), 0, frame.body().length) : CommandComplete.DECODE;
    BackendMessage message;
    try {
      message = BackendCodec.decode(frame);
    } catch (ProtocolException expected) {
      assertThat(expected.sqlstate()).hasSize(5);
      assertThat(inPlace).as("a CommandComplete the codec refuses is not read in place").isEqualTo(CommandComplete.DECODE);
      return;
    }
    if (inPlace != CommandComplete.DECODE) {
      assertThat(inPlace).isEqualTo(((CommandComplete) message).rows().orElse(CommandComplete.NO_COUNT));
    }
    if (!(message instanceof AuthenticationUnsupported)) {
      // The one lossy decode: GSSAPI continue data is dropped by design (the exchange is refused).
      assertThat(BackendCodec.encode(message)).isEqualTo(frame);
    }
    assertThat(BackendCodec.decode(BackendCodec.encode(message))).isEqualTo(message);
    if (message instanceof DataRow row) {
      for (int i = row.columnCount() - 1; i >= 0; i--) {
        try {
          row.text(i);
        } catch (ProtocolException binaryValue) {
          // A value need not be UTF-8 text.
        }
      }
      assertThat(DataRow.of(row.values())).isEqualTo(row);
    }
    if (message instanceof CommandComplete c) {
      c.rows();
    }
  }
}
