package dev.gatehouse.postgres.wire;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Arrays;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * Reads frames from a stream, bounded: the declared length is checked against the caller's
 * maximum before anything is allocated, and a body is allocated as its bytes arrive (never more
 * than twice what was received, up to the declared length), so a peer that claims a long message
 * and stalls holds little memory.
 *
 * <p>End of stream exactly at a message boundary is {@link Optional#empty()}; end of stream inside
 * a message is an {@link EOFException} (the peer is gone mid-message; there is no one to answer).
 * A malformed length or type is a {@link ProtocolException} carrying the SQLSTATE to report.
 * After an exception the stream position is undefined: close the connection.
 *
 * <p>Buffered: the reader may read ahead of the current message. {@link #hasBufferedBytes()}
 * tells whether the peer sent bytes past the last message, which must end the connection when
 * they follow an SSLRequest (CVE-2021-23214), and {@link #takeBuffered()} hands read-ahead bytes
 * over when the connection switches to TLS.
 *
 * <p>Not thread-safe: one reader per connection direction, used by one thread.
 */
public final class FrameReader {
  /** Bodies up to this size are allocated at once; larger ones grow as their bytes arrive. */
  private static final int EAGER_ALLOCATION = 64 * 1024;

  private final InputStream in;
  private final byte[] buf;
  private int pos;
  private int limit;
  private FrameHeader pending;

  public FrameReader(InputStream in) {
    this(in, 8192);
  }

  public FrameReader(InputStream in, int bufferSize) {
    this.in = Objects.requireNonNull(in, "in == null");
    if (bufferSize < 16) {
      throw new IllegalArgumentException("bufferSize < 16");
    }
    this.buf = new byte[bufferSize];
  }

  /**
   * Reads a startup-phase packet (StartupMessage, SSLRequest, GSSENCRequest, CancelRequest): an
   * int32 length including itself, then the body, no type byte. The frame's type is {@link
   * Frame#STARTUP}.
   *
   * @param maxLength the longest length word accepted (PostgreSQL caps startup packets at 10,000)
   * @return the packet, or empty if the stream ended before its first byte
   * @throws ProtocolException 08P01 if the length is below 8 (the smallest valid packet), 54000 if
   *     it exceeds {@code maxLength}
   * @throws EOFException if the stream ends inside the packet
   */
  public Optional<Frame> readStartup(int maxLength) throws IOException {
    checkNoPending();
    if (!fill(1)) {
      return Optional.empty();
    }
    requireBytes(4);
    int length = BodyReader.int32At(buf, pos);
    checkLength(length, 8, maxLength, "startup packet");
    pos += 4;
    return Optional.of(Frame.startup(readBytes(length - 4)));
  }

  /**
   * Reads one message: type byte, int32 length including itself, body.
   *
   * @param maxLength the longest length word accepted
   * @return the message, or empty if the stream ended exactly at a message boundary
   * @throws ProtocolException 08P01 if the type byte is 0 or the length is below 4, 54000 if the
   *     length exceeds {@code maxLength}
   * @throws EOFException if the stream ends inside the message
   */
  public Optional<Frame> read(int maxLength) throws IOException {
    Optional<FrameHeader> header = readHeader(maxLength);
    if (header.isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(readBody(header.get()));
  }

  /**
   * Reads only the type and length of the next message; its body must then be consumed with
   * {@link #readBody} or {@link #copyBody} before anything else is read. Lets the caller relay a
   * large body in chunks.
   */
  public Optional<FrameHeader> readHeader(int maxLength) throws IOException {
    checkNoPending();
    if (!fill(1)) {
      return Optional.empty();
    }
    requireBytes(5);
    byte type = buf[pos];
    if (type == Frame.STARTUP) {
      // Type 0 is no message type; a frame of type 0 would be written back without a type byte.
      throw ProtocolException.violation("message type 0 is invalid");
    }
    int length = BodyReader.int32At(buf, pos + 1);
    checkLength(length, 4, maxLength, "message " + Frame.typeName(type));
    pos += 5;
    pending = new FrameHeader(type, length - 4);
    return Optional.of(pending);
  }

  /** Reads the body of the message whose header {@link #readHeader} just returned. */
  public Frame readBody(FrameHeader header) throws IOException {
    checkPending(header);
    pending = null;
    return new Frame(header.type(), readBytes(header.bodyLength()));
  }

  /**
   * Copies the body of the message whose header {@link #readHeader} just returned to {@code out}
   * in chunks, without holding it whole.
   */
  public void copyBody(FrameHeader header, OutputStream out) throws IOException {
    checkPending(header);
    pending = null;
    int left = header.bodyLength();
    while (left > 0) {
      if (pos == limit && !fill(1)) {
        throw new EOFException("stream ended with " + left + " bytes of a message body unread");
      }
      int n = Math.min(left, limit - pos);
      out.write(buf, pos, n);
      pos += n;
      left -= n;
    }
  }

  /**
   * Whether bytes past the last message read are already available: buffered here or readable
   * from the stream without blocking. An I/O error counts as yes, so a caller that refuses
   * unexpected bytes fails closed.
   */
  public boolean hasBufferedBytes() {
    if (pos < limit) {
      return true;
    }
    try {
      return in.available() > 0;
    } catch (IOException e) {
      return true;
    }
  }

  /**
   * Bytes already read from the stream past the last message, without asking the stream. Cheap
   * (no system call): a relay loop can use it to decide whether to flush before blocking on the
   * next read. For the CVE-2021-23214 check use {@link #hasBufferedBytes()}, which also asks the
   * stream.
   */
  public int buffered() {
    return limit - pos;
  }

  /**
   * Reads once from the stream into the buffer, without waiting when the stream can say it has
   * nothing now (a non-blocking channel's stream returns 0): how an event loop takes what a socket
   * has. Moves what is buffered to the buffer's start first.
   *
   * @return bytes read; 0 when the stream had nothing or the buffer is full; -1 at end of stream
   */
  public int readAvailable() throws IOException {
    checkNoPending();
    compact();
    if (limit == buf.length) {
      return 0;
    }
    int r = in.read(buf, limit, buf.length - limit);
    if (r > 0) {
      limit += r;
    }
    return r;
  }

  /** Free room in the buffer once what is buffered is moved to its start. */
  public int room() {
    return buf.length - (limit - pos);
  }

  /**
   * Whether the next message can be read from what is buffered, without waiting for the stream:
   * it lies whole in the buffer, or its header does and it is longer than the buffer, so it must
   * be read as it arrives anyway (or its header is invalid, which reading it reports).
   */
  public boolean nextBuffered() {
    int n = limit - pos;
    if (pending != null || n < 5) {
      return false;
    }
    int length = BodyReader.int32At(buf, pos + 1);
    return length < 4 || n - 1 >= length || length >= buf.length;
  }

  /**
   * The total length (type byte and length word included) of the next message when it lies whole
   * in the buffer with a declared length from 4 to {@code maxLength}, for reading it in place
   * ({@link #array()} from {@link #position()}; {@link InPlaceMessage}) and then {@link #consume}
   * it; 0 otherwise (read it with {@link #readHeader}, which also reports a bad length).
   */
  public int wholeMessage(int maxLength) {
    int n = limit - pos;
    if (pending != null || n < 5 || buf[pos] == Frame.STARTUP) {
      return 0;
    }
    int length = BodyReader.int32At(buf, pos + 1);
    return length >= 4 && length <= maxLength && n - 1 >= length ? length + 1 : 0;
  }

  /** The type byte of the next message when at least that much is buffered and no header is pending; -1 otherwise. */
  public int bufferedType() {
    return pending == null && limit > pos ? buf[pos] & 0xff : -1;
  }

  /** The buffer, for reading the message {@link #wholeMessage} measured in place; valid until the next read. */
  public byte[] array() {
    return buf;
  }

  /** Where the next message starts in {@link #array()}. */
  public int position() {
    return pos;
  }

  /** Consumes the {@code n} bytes of the message read in place ({@link #wholeMessage}'s length). */
  public void consume(int n) {
    checkNoPending();
    if (n < 0 || n > limit - pos) {
      throw new IllegalArgumentException("cannot consume " + n + " of " + (limit - pos) + " buffered bytes");
    }
    pos += n;
  }

  /** Removes and returns the bytes read ahead of the last message (possibly none). */
  public byte[] takeBuffered() {
    checkNoPending();
    byte[] taken = Arrays.copyOfRange(buf, pos, limit);
    pos = limit = 0;
    return taken;
  }

  /**
   * The next byte without consuming it (blocking until it arrives), or empty at end of stream.
   * Lets a listener tell a TLS ClientHello (0x16, direct TLS) from a startup packet.
   */
  public OptionalInt peek() throws IOException {
    checkNoPending();
    return fill(1) ? OptionalInt.of(buf[pos] & 0xff) : OptionalInt.empty();
  }

  private static void checkLength(int length, int min, int maxLength, String what) {
    if (length < min) {
      throw ProtocolException.violation("invalid length of " + what + ": " + length + " < " + min);
    }
    if (length > maxLength) {
      throw new ProtocolException(
          ProtocolException.PROGRAM_LIMIT_EXCEEDED,
          "length of " + what + " " + length + " exceeds the maximum " + maxLength);
    }
  }

  private void checkNoPending() {
    if (pending != null) {
      throw new IllegalStateException("the body of " + pending + " has not been consumed");
    }
  }

  private void checkPending(FrameHeader header) {
    if (pending == null || !pending.equals(header)) {
      throw new IllegalStateException("header is not the one readHeader just returned");
    }
  }

  /** Reads the whole of an n-byte body, allocating as bytes arrive for large ones. */
  private byte[] readBytes(int n) throws IOException {
    byte[] out = new byte[Math.min(n, EAGER_ALLOCATION)];
    int have = 0;
    while (have < n) {
      if (pos == limit && !fill(1)) {
        throw new EOFException("stream ended with " + (n - have) + " bytes of a message unread");
      }
      if (have == out.length) {
        out = Arrays.copyOf(out, (int) Math.min(n, 2L * out.length));
      }
      int k = Math.min(out.length - have, limit - pos);
      System.arraycopy(buf, pos, out, have, k);
      pos += k;
      have += k;
    }
    return out;
  }

  /** Like {@link #fill}, but end of stream is a truncated message. */
  private void requireBytes(int n) throws IOException {
    if (!fill(n)) {
      throw new EOFException("stream ended inside a message header");
    }
  }

  /** Ensures at least n (≤ buffer size) bytes are buffered; false at end of stream. */
  private boolean fill(int n) throws IOException {
    if (limit - pos >= n) {
      return true;
    }
    compact();
    while (limit < n) {
      int r = in.read(buf, limit, buf.length - limit);
      if (r < 0) {
        return false;
      }
      limit += r;
    }
    return true;
  }

  private void compact() {
    if (pos > 0) {
      System.arraycopy(buf, pos, buf, 0, limit - pos);
      limit -= pos;
      pos = 0;
    }
  }
}
