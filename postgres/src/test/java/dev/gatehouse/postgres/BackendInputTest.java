package dev.gatehouse.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.gatehouse.postgres.wire.Frame;
import dev.gatehouse.postgres.wire.ProtocolException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The target's byte stream as the relay frames it: from byte vectors of the protocol
 * documentation's message layout, fed whole and one byte per read.
 */
class BackendInputTest {
  /** CommandComplete "SELECT 1", ReadyForQuery idle, as PostgreSQL sends them. */
  private static final byte[] COMPLETE_AND_READY = concat(
      frame('C', "SELECT 1\0".getBytes(StandardCharsets.US_ASCII)), frame('Z', new byte[] {'I'}));

  @Test
  void framesAreTheSameFedWholeOrOneByteAtATime() throws IOException {
    for (boolean trickle : new boolean[] {false, true}) {
      BackendInput in = input(COMPLETE_AND_READY, trickle, () -> { });
      assertThat(in.next()).isTrue();
      assertThat(in.type()).isEqualTo((byte) 'C');
      Frame complete = in.frame(1024);
      assertThat(new String(complete.body(), StandardCharsets.US_ASCII)).isEqualTo("SELECT 1\0");
      assertThat(in.next()).isTrue();
      assertThat(in.frame(1024)).isEqualTo(new Frame((byte) 'Z', new byte[] {'I'}));
      assertThat(in.next()).as("end of stream at a frame boundary").isFalse();
    }
  }

  @Test
  void bytesReadAheadByStartupComeFirst() throws IOException {
    byte[] ahead = Arrays.copyOf(COMPLETE_AND_READY, 7);
    byte[] rest = Arrays.copyOfRange(COMPLETE_AND_READY, 7, COMPLETE_AND_READY.length);
    BackendInput in = new BackendInput(new ByteArrayInputStream(rest), ahead, () -> { });
    assertThat(in.next()).isTrue();
    assertThat(in.frame(1024).type()).isEqualTo((byte) 'C');
    assertThat(in.next()).isTrue();
    assertThat(in.frame(1024).type()).isEqualTo((byte) 'Z');
  }

  @Test
  void aFrameLargerThanTheBufferIsRelayedInSlicesIntact() throws IOException {
    byte[] big = new byte[3 * BackendInput.MAX_READ + 17];
    for (int i = 0; i < big.length; i++) big[i] = (byte) (i * 31);
    byte[] stream = concat(frame('d', big), COMPLETE_AND_READY);
    for (boolean trickle : new boolean[] {false, true}) {
      BackendInput in = input(stream, trickle, () -> { });
      ByteArrayOutputStream sent = new ByteArrayOutputStream();
      ClientBatch out = new ClientBatch(sent);
      assertThat(in.next()).isTrue();
      in.relay(out);
      assertThat(in.array().length).as("the buffer never holds the large frame whole").isLessThanOrEqualTo(BackendInput.MAX_READ);
      assertThat(in.next()).isTrue();
      in.relay(out);
      out.flush();
      assertThat(sent.toByteArray()).isEqualTo(Arrays.copyOf(stream, stream.length - 6));
    }
  }

  @Test
  void aLargeFrameAskedForWholeIsReadWhole() throws IOException {
    byte[] big = new byte[BackendInput.MAX_READ * 2];
    Arrays.fill(big, (byte) 'x');
    BackendInput in = input(concat(frame('D', big), COMPLETE_AND_READY), true, () -> { });
    assertThat(in.next()).isTrue();
    in.whole(big.length);
    assertThat(in.buffered()).isGreaterThanOrEqualTo(5 + big.length);
    assertThat(Arrays.copyOfRange(in.array(), in.position() + 5, in.position() + 5 + big.length)).isEqualTo(big);
    in.consume(in.position() + 5 + big.length);
    assertThat(in.next()).isTrue();
    assertThat(in.type()).isEqualTo((byte) 'C');
  }

  @Test
  void aFrameOverTheLimitIsRefusedBeforeItsBodyIsRead() throws IOException {
    byte[] header = {'D', 0x10, 0, 0, 0}; // claims 256 MiB and sends nothing more
    BackendInput in = input(header, false, () -> { });
    assertThat(in.next()).isTrue();
    assertThatThrownBy(() -> in.frame(1024)).isInstanceOf(ProtocolException.class)
        .satisfies(e -> assertThat(((ProtocolException) e).sqlstate()).isEqualTo(ProtocolException.PROGRAM_LIMIT_EXCEEDED));
    assertThatThrownBy(() -> in.whole(1024)).isInstanceOf(ProtocolException.class);
  }

  @Test
  void malformedHeadersAreProtocolViolations() throws IOException {
    assertThatThrownBy(() -> input(new byte[] {0, 0, 0, 0, 4}, false, () -> { }).next())
        .isInstanceOf(ProtocolException.class).hasMessageContaining("type 0");
    assertThatThrownBy(() -> input(new byte[] {'D', 0, 0, 0, 3}, false, () -> { }).next())
        .isInstanceOf(ProtocolException.class).hasMessageContaining("< 4");
    assertThatThrownBy(() -> input(new byte[] {'D', 0, 0}, true, () -> { }).next()).isInstanceOf(EOFException.class);
    BackendInput cut = input(new byte[] {'C', 0, 0, 0, 9, 'S'}, true, () -> { });
    assertThat(cut.next()).isTrue();
    assertThatThrownBy(() -> cut.frame(1024)).isInstanceOf(EOFException.class);
  }

  @Test
  void theBufferGrowsWhileReadsFillItAndShrinksWhenEmpty() throws IOException {
    byte[][] parts = new byte[1000][];
    Arrays.fill(parts, frame('D', new byte[1000]));
    byte[] rows = concat(parts);
    BackendInput in = input(concat(rows, COMPLETE_AND_READY), false, () -> { });
    int largest = 0;
    for (int i = 0; i < 1000; i++) {
      assertThat(in.next()).isTrue();
      in.skip();
      largest = Math.max(largest, in.array().length);
    }
    assertThat(largest).isGreaterThan(BackendInput.INITIAL).isLessThanOrEqualTo(BackendInput.MAX_READ);
    assertThat(in.next()).isTrue();
    in.skip();
    assertThat(in.next()).isTrue();
    in.skip();
    in.shrink();
    assertThat(in.array().length).isEqualTo(BackendInput.INITIAL);
  }

  @Test
  void whatWasGatheredIsSentBeforeTheStreamIsRead() throws IOException {
    List<String> events = new ArrayList<>();
    InputStream stream = new ByteArrayInputStream(COMPLETE_AND_READY) {
      @Override
      public synchronized int read(byte[] b, int off, int len) {
        events.add("read");
        return super.read(b, off, len);
      }
    };
    BackendInput in = new BackendInput(stream, new byte[0], () -> events.add("send"));
    while (in.next()) in.skip();
    // Both frames came in one read: nothing is sent between them, only before each read.
    assertThat(events).containsExactly("send", "read", "send", "read");
  }

  private static BackendInput input(byte[] bytes, boolean trickle, BackendInput.BeforeRead beforeRead) {
    InputStream in = new ByteArrayInputStream(bytes) {
      @Override
      public synchronized int read(byte[] b, int off, int len) {
        return super.read(b, off, trickle ? Math.min(1, len) : len);
      }
    };
    return new BackendInput(in, new byte[0], beforeRead);
  }

  static byte[] frame(char type, byte[] body) {
    byte[] f = new byte[5 + body.length];
    f[0] = (byte) type;
    int length = body.length + 4;
    f[1] = (byte) (length >>> 24);
    f[2] = (byte) (length >>> 16);
    f[3] = (byte) (length >>> 8);
    f[4] = (byte) length;
    System.arraycopy(body, 0, f, 5, body.length);
    return f;
  }

  static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) out.writeBytes(p);
    return out.toByteArray();
  }
}
