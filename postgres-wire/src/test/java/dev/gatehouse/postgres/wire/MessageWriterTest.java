package dev.gatehouse.postgres.wire;

import static dev.gatehouse.postgres.wire.Wire.hex;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class MessageWriterTest {

  @Test
  void nothingReachesThePeerUntilFlush() throws IOException {
    var sink = new ByteArrayOutputStream();
    var writer = new MessageWriter(sink);

    writer.write(ParseComplete.INSTANCE);
    writer.write(BindComplete.INSTANCE);
    writer.write(new CommandComplete("SELECT 0"));
    writer.write(ReadyForQuery.IDLE_INSTANCE);
    assertThat(sink.size()).isZero();

    writer.flush();
    assertThat(sink.toByteArray()).isEqualTo(hex(
        "31 00000004  32 00000004  43 0000000d 'SELECT 0'00  5a 00000005 49"));
  }

  @Test
  void framesAreRelayedVerbatimWithOrWithoutATypeByte() throws IOException {
    var sink = new ByteArrayOutputStream();
    var writer = new MessageWriter(sink);

    writer.write(Frame.startup(hex("04d2162f")));
    writer.write(new Frame((byte) 'Q', hex("'SELECT 1'00")));
    writer.flush();

    assertThat(sink.toByteArray()).isEqualTo(hex("00000008 04d2162f 51 0000000d 'SELECT 1'00"));
  }

  @Test
  void aFullBufferIsHandedToTheStreamBeforeFlushSoMemoryStaysBounded() throws IOException {
    var sink = new ByteArrayOutputStream();
    var writer = new MessageWriter(sink);

    for (int i = 0; i < 1000; i++) {
      writer.write(new CopyData(new byte[1000]));
    }

    assertThat(sink.size()).isPositive();
    assertThat(writer.buffered()).isLessThan(128 * 1024);
    writer.flush();
    assertThat(sink.size()).isEqualTo(1000 * 1005);
  }

  @Test
  void relayedSmallMessagesAreBatchedUntilFlush() throws IOException {
    var rows = new ArrayList<Object>();
    for (int i = 0; i < 100; i++) {
      rows.add(DataRow.of(List.of(("row " + i).getBytes(java.nio.charset.StandardCharsets.UTF_8))));
    }
    byte[] wire = Wire.written(rows);
    var reader = new FrameReader(new ByteArrayInputStream(wire));
    var writes = new int[1];
    var sink = new ByteArrayOutputStream() {
      @Override
      public void write(byte[] b, int off, int len) {
        writes[0]++;
        super.write(b, off, len);
      }
    };
    var writer = new MessageWriter(sink);

    for (var h = reader.readHeader(1 << 20); h.isPresent(); h = reader.readHeader(1 << 20)) {
      writer.relay(h.get(), reader);
    }
    assertThat(writes[0]).isZero();
    writer.flush();

    assertThat(writes[0]).isEqualTo(1);
    assertThat(sink.toByteArray()).isEqualTo(wire);
  }
}
