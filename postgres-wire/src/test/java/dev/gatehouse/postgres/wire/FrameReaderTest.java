package dev.gatehouse.postgres.wire;

import static dev.gatehouse.postgres.wire.Wire.hex;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.management.ThreadMXBean;
import dev.gatehouse.postgres.wire.Wire.Feed;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.SequenceInputStream;
import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class FrameReaderTest {
  private static final int ONE_MIB = 1 << 20;
  private static final int ONE_GIB = 1 << 30;

  @ParameterizedTest
  @EnumSource(Feed.class)
  void endOfStreamAtAMessageBoundaryIsEmptyNotAnError(Feed feed) throws IOException {
    var reader = new FrameReader(feed.open(hex("53 00000004")));

    assertThat(reader.read(ONE_MIB)).contains(new Frame((byte) 'S', new byte[0]));
    assertThat(reader.read(ONE_MIB)).isEmpty();
    assertThat(new FrameReader(feed.open(new byte[0])).readStartup(10_000)).isEmpty();
  }

  @ParameterizedTest
  @EnumSource(Feed.class)
  void endOfStreamInsideAHeaderOrBodyIsATruncatedMessage(Feed feed) {
    assertThatThrownBy(() -> new FrameReader(feed.open(hex("51 0000"))).read(ONE_MIB))
        .isInstanceOf(EOFException.class);
    assertThatThrownBy(() -> new FrameReader(feed.open(hex("51 0000000d 'SELECT'"))).read(ONE_MIB))
        .isInstanceOf(EOFException.class)
        .hasMessageContaining("3 bytes of a message unread");
    assertThatThrownBy(() -> new FrameReader(feed.open(hex("00000025 0003"))).readStartup(10_000))
        .isInstanceOf(EOFException.class);
  }

  @ParameterizedTest
  @EnumSource(Feed.class)
  void negativeLengthIsAProtocolViolation(Feed feed) {
    assertThatThrownBy(() -> new FrameReader(feed.open(hex("51 ffffffff"))).read(ONE_MIB))
        .isInstanceOfSatisfying(ProtocolException.class, e -> assertThat(e.sqlstate()).isEqualTo("08P01"))
        .hasMessage("invalid length of message 'Q': -1 < 4");
    assertThatThrownBy(() -> new FrameReader(feed.open(hex("80000000 00030000"))).readStartup(10_000))
        .isInstanceOfSatisfying(ProtocolException.class, e -> assertThat(e.sqlstate()).isEqualTo("08P01"));
  }

  @ParameterizedTest
  @EnumSource(Feed.class)
  void lengthBelowItsOwnSizeIsAProtocolViolation(Feed feed) {
    assertThatThrownBy(() -> new FrameReader(feed.open(hex("51 00000003"))).read(ONE_MIB))
        .isInstanceOfSatisfying(ProtocolException.class, e -> assertThat(e.sqlstate()).isEqualTo("08P01"))
        .hasMessage("invalid length of message 'Q': 3 < 4");
    // A startup packet needs at least its length and a code.
    assertThatThrownBy(() -> new FrameReader(feed.open(hex("00000004"))).readStartup(10_000))
        .isInstanceOfSatisfying(ProtocolException.class, e -> assertThat(e.sqlstate()).isEqualTo("08P01"))
        .hasMessage("invalid length of startup packet: 4 < 8");
  }

  @Test
  void lengthOverTheMaximumIsRefusedBeforeAnythingIsAllocated() {
    // Claims 1 GiB against a 1 MiB maximum; the rest of the stream would take forever to arrive.
    InputStream in = new SequenceInputStream(
        new ByteArrayInputStream(hex("44 40000000")), InputStream.nullInputStream());
    var reader = new FrameReader(in);

    long allocated = allocatedBy(() -> assertThatThrownBy(() -> reader.read(ONE_MIB))
        .isInstanceOfSatisfying(ProtocolException.class,
            e -> assertThat(e.sqlstate()).isEqualTo("54000"))
        .hasMessage("length of message 'D' 1073741824 exceeds the maximum 1048576"));

    assertThat(allocated).isLessThan(ONE_MIB);
  }

  @Test
  void startupPacketOverTheMaximumIsAProgramLimitError() {
    assertThatThrownBy(() -> new FrameReader(new ByteArrayInputStream(hex("00002711 00030000")))
            .readStartup(10_000))
        .isInstanceOfSatisfying(ProtocolException.class,
            e -> assertThat(e.sqlstate()).isEqualTo("54000"));
  }

  @Test
  void aPeerClaimingAHugeMessageAndSendingLittleHoldsOnlyWhatItSent() {
    // Within the maximum, but only 10 body bytes ever arrive: memory follows the bytes received.
    byte[] wire = Arrays.copyOf(hex("64 40000000"), 15);
    var reader = new FrameReader(new ByteArrayInputStream(wire));

    long allocated = allocatedBy(() -> assertThatThrownBy(() -> reader.read(ONE_GIB + 4))
        .isInstanceOf(EOFException.class));

    assertThat(allocated).isLessThan(ONE_MIB);
  }

  @Test
  void typeByteZeroIsAProtocolViolation() {
    assertThatThrownBy(() -> new FrameReader(new ByteArrayInputStream(hex("00 00000004"))).read(ONE_MIB))
        .isInstanceOfSatisfying(ProtocolException.class, e -> assertThat(e.sqlstate()).isEqualTo("08P01"))
        .hasMessage("message type 0 is invalid");
  }

  @Test
  void bytesSentRightAfterAnSslRequestAreNoticed() throws IOException {
    // CVE-2021-23214: a plaintext query injected after SSLRequest, before the TLS handshake.
    byte[] wire = hex("00000008 04d2162f  51 0000000d 'SELECT 1'00");
    var reader = new FrameReader(new ByteArrayInputStream(wire));

    assertThat(FrontendCodec.decode(reader.readStartup(10_000).orElseThrow()))
        .isEqualTo(SSLRequest.INSTANCE);
    assertThat(reader.hasBufferedBytes()).isTrue();
    assertThat(reader.takeBuffered()).isEqualTo(hex("51 0000000d 'SELECT 1'00"));
    assertThat(reader.hasBufferedBytes()).isFalse();
  }

  @Test
  void aClientThatWaitsAfterItsSslRequestLeavesNothingBuffered() throws IOException {
    var reader = new FrameReader(new ByteArrayInputStream(hex("00000008 04d2162f")));

    reader.readStartup(10_000).orElseThrow();

    assertThat(reader.hasBufferedBytes()).isFalse();
  }

  @Test
  void peekTellsADirectTlsHandshakeFromAStartupPacketWithoutConsumingIt() throws IOException {
    var tls = new FrameReader(new ByteArrayInputStream(hex("16 0301 0200")));
    assertThat(tls.peek()).hasValue(0x16);
    assertThat(tls.takeBuffered()).isEqualTo(hex("16 0301 0200"));

    var plain = new FrameReader(new ByteArrayInputStream(hex("00000008 04d2162f")));
    assertThat(plain.peek()).hasValue(0);
    assertThat(plain.readStartup(10_000)).isPresent();
    assertThat(plain.peek()).isEmpty();
  }

  @ParameterizedTest
  @EnumSource(Feed.class)
  void aLargeBodyIsRelayedInChunksByteForByte(Feed feed) throws IOException {
    byte[] body = new byte[300_000];
    for (int i = 0; i < body.length; i++) {
      body[i] = (byte) (i * 31);
    }
    byte[] wire = Wire.written(List.of(new CopyData(body), CopyDone.INSTANCE));
    var reader = new FrameReader(feed.open(wire), 4096);
    var sink = new ByteArrayOutputStream();
    var writer = new MessageWriter(sink);

    FrameHeader header = reader.readHeader(ONE_MIB).orElseThrow();
    assertThat(header).isEqualTo(new FrameHeader(CopyData.TYPE, body.length));
    writer.relay(header, reader);
    writer.write(reader.read(ONE_MIB).orElseThrow());
    writer.flush();

    assertThat(sink.toByteArray()).isEqualTo(wire);
  }

  @Test
  void readingAgainBeforeTheBodyOfAHeaderIsConsumedIsRefused() throws IOException {
    var reader = new FrameReader(new ByteArrayInputStream(hex("53 00000004 53 00000004")));
    reader.readHeader(ONE_MIB).orElseThrow();

    assertThatThrownBy(() -> reader.read(ONE_MIB)).isInstanceOf(IllegalStateException.class);
  }

  /** Bytes the current thread allocated while running {@code action}. */
  private static long allocatedBy(Runnable action) {
    var threads = (ThreadMXBean) ManagementFactory.getThreadMXBean();
    long id = Thread.currentThread().threadId();
    long before = threads.getThreadAllocatedBytes(id);
    action.run();
    return threads.getThreadAllocatedBytes(id) - before;
  }
}
