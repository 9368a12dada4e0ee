package dev.gatehouse.postgres;

import dev.gatehouse.postgres.wire.BackendCodec;
import dev.gatehouse.postgres.wire.BackendMessage;
import dev.gatehouse.postgres.wire.Frame;
import java.io.IOException;
import java.io.OutputStream;
import java.util.Arrays;

/**
 * What {@link BackendRelay} sends the client, gathered: messages and slices of the target's
 * buffer are copied into one batch that leaves in one write when the relay is about to wait for
 * the target, at ReadyForQuery, or when it reaches {@link #HIGH_WATER}. A slice of {@link #DIRECT}
 * bytes or more (a run of rows) is not copied: what was gathered before it is written, then the
 * slice itself, so a large result goes out in writes as large as the target's reads.
 *
 * <p>Not thread-safe: the target→client thread is the only writer of the client socket after
 * startup.
 */
final class ClientBatch {
  static final int INITIAL = 8 * 1024;
  static final int HIGH_WATER = 64 * 1024;
  static final int DIRECT = 16 * 1024;

  private final OutputStream out;
  private byte[] buf = new byte[INITIAL];
  private int size;

  ClientBatch(OutputStream out) {
    this.out = out;
  }

  void write(Frame frame) throws IOException {
    byte[] body = frame.body();
    header(frame.type(), body.length);
    bytes(body, 0, body.length);
  }

  void write(BackendMessage message) throws IOException {
    write(BackendCodec.encode(message));
  }

  /** A message header: type byte and length word, for a body that follows. */
  void header(byte type, int bodyLength) throws IOException {
    ensure(5);
    buf[size] = type;
    int length = bodyLength + 4;
    buf[size + 1] = (byte) (length >>> 24);
    buf[size + 2] = (byte) (length >>> 16);
    buf[size + 3] = (byte) (length >>> 8);
    buf[size + 4] = (byte) length;
    size += 5;
  }

  /** Bytes of whole or partial messages, in order after what was written before. */
  void bytes(byte[] b, int off, int len) throws IOException {
    if (len >= DIRECT) {
      drain();
      out.write(b, off, len);
      return;
    }
    ensure(len);
    System.arraycopy(b, off, buf, size, len);
    size += len;
    if (size >= HIGH_WATER) drain();
  }

  /** Sends everything gathered. */
  void flush() throws IOException {
    drain();
    out.flush();
  }

  /** Bytes gathered and not sent yet. */
  int buffered() {
    return size;
  }

  /** Returns the batch to its initial size when it has grown and holds nothing. */
  void shrink() {
    if (size == 0 && buf.length > INITIAL) buf = new byte[INITIAL];
  }

  private void ensure(int n) {
    if (size + n <= buf.length) return;
    buf = Arrays.copyOf(buf, Math.max(buf.length * 2, size + n));
  }

  private void drain() throws IOException {
    if (size == 0) return;
    int n = size;
    size = 0;
    out.write(buf, 0, n);
  }
}
