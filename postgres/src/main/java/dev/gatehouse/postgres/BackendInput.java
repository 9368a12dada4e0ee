package dev.gatehouse.postgres;

import dev.gatehouse.postgres.wire.Frame;
import dev.gatehouse.postgres.wire.ProtocolException;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;

/**
 * The target's bytes as {@link BackendRelay} reads them after startup: read into one buffer, as
 * much as the socket has, and framed in place. The current frame's header is parsed where it lies
 * ({@link #next()}); its bytes stay in the buffer until the relay hands them on, so a run of
 * frames relayed unchanged (the DataRows of a result no rule touches) leaves as one slice of the
 * buffer, with no object and no copy of its own per row.
 *
 * <p>The buffer starts at {@link #INITIAL} bytes and doubles, up to {@link #MAX_READ}, each time a
 * read fills it (a large result is streaming); {@link #shrink()} returns it to its initial size
 * when nothing is buffered (the relay calls it at ReadyForQuery), so an idle session holds little.
 * A frame is held whole only when the caller asks for it with a maximum ({@link #whole}, {@link
 * #frame}); otherwise a frame larger than the buffer passes through in slices ({@link #relay}), so
 * memory stays bounded whatever the target sends.
 *
 * <p>Before each read that may block, {@code beforeRead} runs: the relay sends the client what it
 * gathered, so nothing waits in Gatehouse while Gatehouse waits for the target.
 *
 * <p>Not thread-safe: used by the target→client thread only.
 */
final class BackendInput {
  static final int INITIAL = 8 * 1024;
  static final int MAX_READ = 256 * 1024;

  /** Runs before a read of the target that may block. */
  interface BeforeRead {
    void run() throws IOException;
  }

  private final InputStream in;
  private final BeforeRead beforeRead;
  private byte[] buf;
  /** Where the current frame (its type byte) starts, once {@link #next()} returned true. */
  private int pos;
  private int limit;
  private byte type;
  private int bodyLength;

  /**
   * @param in the target socket's stream
   * @param ahead bytes already read from it (by the startup's reader) and not consumed
   */
  BackendInput(InputStream in, byte[] ahead, BeforeRead beforeRead) {
    this.in = in;
    this.beforeRead = beforeRead;
    this.buf = new byte[Math.max(INITIAL, ahead.length)];
    System.arraycopy(ahead, 0, buf, 0, ahead.length);
    this.limit = ahead.length;
  }

  /**
   * Parses the next frame's header, which stays in the buffer at {@link #position()}; the frame
   * must then be consumed ({@link #frame}, {@link #relay}, {@link #skip}, {@link #consume}) before
   * the next call.
   *
   * @return false when the stream ended exactly at a frame boundary
   * @throws ProtocolException when the type byte is 0 or the length below 4
   * @throws EOFException when the stream ends inside a header
   */
  boolean next() throws IOException {
    if (!fill(1)) return false;
    if (!fill(5)) throw new EOFException("stream ended inside a message header");
    type = buf[pos];
    if (type == 0) throw ProtocolException.violation("message type 0 is invalid");
    int length = int32(buf, pos + 1);
    if (length < 4) throw ProtocolException.violation("invalid length of message " + typeName(type) + ": " + length + " < 4");
    bodyLength = length - 4;
    return true;
  }

  byte type() {
    return type;
  }

  int bodyLength() {
    return bodyLength;
  }

  /** The buffer the current frame and what follows it lie in; valid until the next read. */
  byte[] array() {
    return buf;
  }

  /** Where the current frame starts in {@link #array()}. */
  int position() {
    return pos;
  }

  /** Where the bytes read so far end in {@link #array()}. */
  int limit() {
    return limit;
  }

  /** Consumes everything before {@code end}: the current frame and the whole frames after it that the caller handled. */
  void consume(int end) {
    if (end < pos || end > limit) throw new IllegalArgumentException("end outside the buffered bytes: " + end);
    pos = end;
  }

  /**
   * Makes the current frame lie whole in {@link #array()} (from {@link #position()}), growing the
   * buffer when it is larger.
   *
   * @throws ProtocolException 54000 when its body is longer than {@code maxBody}
   */
  void whole(int maxBody) throws IOException {
    checkBody(maxBody);
    if (!fill(5 + bodyLength)) throw new EOFException("stream ended inside a message of " + bodyLength + " bytes");
  }

  /**
   * The current frame as a {@link Frame} (its body copied out), consumed.
   *
   * @throws ProtocolException 54000 when its body is longer than {@code maxBody}
   */
  Frame frame(int maxBody) throws IOException {
    checkBody(maxBody);
    int total = 5 + bodyLength;
    if (total <= Math.max(buf.length, MAX_READ)) {
      if (!fill(total)) throw new EOFException("stream ended inside a message of " + bodyLength + " bytes");
      Frame frame = new Frame(type, Arrays.copyOfRange(buf, pos + 5, pos + total));
      pos += total;
      return frame;
    }
    // Larger than the buffer: gather the body as it arrives (a stalling target holds little).
    pos += 5;
    byte[] body = new byte[MAX_READ];
    int have = 0;
    while (have < bodyLength) {
      if (pos == limit && !fill(1)) throw new EOFException("stream ended with " + (bodyLength - have) + " bytes of a message unread");
      if (have == body.length) body = Arrays.copyOf(body, (int) Math.min(bodyLength, 2L * body.length));
      int n = Math.min(body.length - have, limit - pos);
      System.arraycopy(buf, pos, body, have, n);
      pos += n;
      have += n;
    }
    return new Frame(type, body);
  }

  /** Hands the current frame, header and body, to {@code out} in slices of the buffer; consumed. */
  void relay(ClientBatch out) throws IOException {
    long left = 5L + bodyLength;
    while (left > 0) {
      if (pos == limit && !fill(1)) throw new EOFException("stream ended with " + left + " bytes of a message unread");
      int n = (int) Math.min(left, limit - pos);
      out.bytes(buf, pos, n);
      pos += n;
      left -= n;
    }
  }

  /** Drops the current frame unread. */
  void skip() throws IOException {
    long left = 5L + bodyLength;
    while (left > 0) {
      if (pos == limit && !fill(1)) throw new EOFException("stream ended with " + left + " bytes of a message unread");
      int n = (int) Math.min(left, limit - pos);
      pos += n;
      left -= n;
    }
  }

  /**
   * Event-loop mode: reads once what the socket has now (the stream returns 0 when it has nothing),
   * without running {@code beforeRead}. The buffer grows, up to {@link #MAX_READ}, when the frame
   * at its head needs it to lie whole, or when it is full (a result is streaming).
   *
   * @return bytes read, 0 when the socket had nothing, -1 at end of stream
   */
  int readAvailable() throws IOException {
    compact();
    long want = limit >= 5 ? 5L + Math.max(0, int32(buf, 1) - 4) : 0;
    if (want > buf.length && want <= MAX_READ) buf = Arrays.copyOf(buf, (int) Math.min(MAX_READ, Math.max(want, 2L * buf.length)));
    if (limit == buf.length && buf.length < MAX_READ) buf = Arrays.copyOf(buf, Math.min(MAX_READ, buf.length * 2));
    if (limit == buf.length) return 0;
    int r = in.read(buf, limit, buf.length - limit);
    if (r > 0) limit += r;
    return r;
  }

  /** Whether the buffer is full: right after {@link #readAvailable()}, the socket may have more. */
  boolean full() {
    return limit == buf.length;
  }

  /**
   * Whether {@link #next()} and handling the frame it parses can go without waiting for the
   * target: the frame lies whole in the buffer, or it is longer than {@link #MAX_READ} and streams
   * through as it arrives (or its header is invalid, which {@link #next()} reports).
   */
  boolean frameReady() {
    int n = limit - pos;
    if (n < 5) return false;
    int length = int32(buf, pos + 1);
    return length < 4 || buf[pos] == 0 || n - 1 >= length || length >= MAX_READ;
  }

  /** Bytes read past the current position. */
  int buffered() {
    return limit - pos;
  }

  /** Returns the buffer to its initial size when it has grown and holds nothing. */
  void shrink() {
    if (pos == limit && buf.length > INITIAL) {
      buf = new byte[INITIAL];
      pos = limit = 0;
    }
  }

  static int int32(byte[] b, int at) {
    return ((b[at] & 0xff) << 24) | ((b[at + 1] & 0xff) << 16) | ((b[at + 2] & 0xff) << 8) | (b[at + 3] & 0xff);
  }

  private void checkBody(int maxBody) {
    if (bodyLength > maxBody) {
      throw new ProtocolException(ProtocolException.PROGRAM_LIMIT_EXCEEDED, "message " + typeName(type) + " of "
          + (bodyLength + 4L) + " bytes from the resource exceeds the maximum " + maxBody);
    }
  }

  /** Ensures at least {@code n} bytes from {@link #position()} are buffered; false at end of stream. */
  private boolean fill(int n) throws IOException {
    if (limit - pos >= n) return true;
    compact();
    beforeRead.run();
    while (limit < n) {
      // A frame larger than the buffer: grow as its bytes arrive, so a stalling target holds little.
      if (limit == buf.length) buf = Arrays.copyOf(buf, (int) Math.min(n, 2L * buf.length));
      int free = buf.length - limit;
      int r = in.read(buf, limit, free);
      if (r < 0) return false;
      limit += r;
      if (r == free && buf.length < MAX_READ) {
        // The read filled the buffer: the target is streaming; read more at a time.
        buf = Arrays.copyOf(buf, Math.min(MAX_READ, buf.length * 2));
      }
    }
    return true;
  }

  /** Moves what is buffered to the buffer's start. */
  private void compact() {
    if (pos > 0) {
      System.arraycopy(buf, pos, buf, 0, limit - pos);
      limit -= pos;
      pos = 0;
    }
  }

  private static String typeName(byte type) {
    return type >= 0x20 && type < 0x7f ? "'" + (char) type + "'" : "0x" + Integer.toHexString(type & 0xff);
  }
}
