package dev.gatehouse.postgres.wire;

import java.io.IOException;
import java.io.OutputStream;
import java.util.Objects;

/**
 * Buffered writer of frames and messages. Nothing reaches the peer before {@link #flush()}
 * unless the buffer fills: the caller decides when a batch is complete (write many, flush once),
 * which is how PostgreSQL itself batches replies.
 *
 * <p>Not thread-safe: each socket has exactly one writer, owned by one thread at a time.
 */
public final class MessageWriter {
  /** Above this, buffered bytes go to the stream even before a flush. */
  private static final int HIGH_WATER = 64 * 1024;

  private final OutputStream out;
  private final WireBuffer buffer = new WireBuffer(8192);
  private final OutputStream bufferSink =
      new OutputStream() {
        @Override
        public void write(int b) {
          buffer.putByte(b);
        }

        @Override
        public void write(byte[] b, int off, int len) {
          buffer.putBytes(b, off, len);
        }
      };

  public MessageWriter(OutputStream out) {
    this.out = Objects.requireNonNull(out, "out == null");
  }

  /** Runs before bytes written so far are handed to the stream; null for none. */
  private Runnable beforeHandOff;

  /**
   * Sets what runs each time, before the bytes written so far start going to the stream: from then
   * on the peer may receive every message written before it, while later ones, still buffered, are
   * lost with the writer if it is abandoned.
   */
  public void beforeHandOff(Runnable action) {
    beforeHandOff = action;
  }

  private void handingOff() {
    Runnable r = beforeHandOff;
    if (r != null) r.run();
  }

  /** Writes a frame as is: type byte (none for a startup packet), length, body. */
  public void write(Frame frame) throws IOException {
    int at = buffer.beginMessage(frame.type());
    byte[] body = frame.body();
    if (body.length >= HIGH_WATER) {
      // Large bodies go straight to the stream instead of through the buffer.
      patchLength(at, body.length);
      drain();
      handingOff();
      out.write(body);
      return;
    }
    buffer.putBytes(body);
    buffer.endMessage(at);
    drainIfFull();
  }

  public void write(FrontendMessage message) throws IOException {
    FrontendCodec.encode(message, buffer);
    drainIfFull();
  }

  public void write(BackendMessage message) throws IOException {
    BackendCodec.encode(message, buffer);
    drainIfFull();
  }

  /** CopyData is both a frontend and a backend message; this overload resolves the ambiguity. */
  public void write(CopyData message) throws IOException {
    write((BackendMessage) message);
  }

  /** CopyDone is both a frontend and a backend message; this overload resolves the ambiguity. */
  public void write(CopyDone message) throws IOException {
    write((BackendMessage) message);
  }

  /** Writes whole messages as they came (type, length, body each), e.g. one read in place from a {@link FrameReader}. */
  public void writeRaw(byte[] messages, int offset, int length) throws IOException {
    buffer.putBytes(messages, offset, length);
    drainIfFull();
  }

  /**
   * Relays the message whose header {@code reader} just returned. A small body is copied into the
   * buffer like any other message (relaying many small messages costs no extra writes); a body of
   * the high-water size or more is streamed through in chunks, so a body of any size costs only
   * the reader's buffer.
   */
  public void relay(FrameHeader header, FrameReader reader) throws IOException {
    int at = buffer.beginMessage(header.type());
    patchLength(at, header.bodyLength());
    if (header.bodyLength() < HIGH_WATER) {
      reader.copyBody(header, bufferSink);
      drainIfFull();
    } else {
      drain();
      handingOff();
      reader.copyBody(header, out);
    }
  }

  /** Sends everything written so far to the peer. */
  public void flush() throws IOException {
    drain();
    out.flush();
  }

  /** Bytes written but not yet handed to the stream. */
  public int buffered() {
    return buffer.size();
  }

  private void patchLength(int at, int bodyLength) {
    // The placeholder written by beginMessage is the last thing in the buffer.
    byte[] a = buffer.array();
    int length = bodyLength + 4;
    a[at] = (byte) (length >>> 24);
    a[at + 1] = (byte) (length >>> 16);
    a[at + 2] = (byte) (length >>> 8);
    a[at + 3] = (byte) length;
  }

  private void drainIfFull() throws IOException {
    if (buffer.size() >= HIGH_WATER) {
      drain();
    }
  }

  private void drain() throws IOException {
    if (buffer.size() > 0) {
      handingOff();
      out.write(buffer.array(), 0, buffer.size());
      buffer.reset();
    }
  }
}
