package dev.gatehouse.postgres;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantLock;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLSession;

/**
 * A TLS connection as a plaintext {@link #input()} and {@link #output()}, over the connection's
 * byte streams (its transport) and an {@link SSLEngine}: a client's connection to Gatehouse
 * ({@link #accept}), Gatehouse's to a target ({@link #connect}). Where an
 * {@code SSLSocket} owns its TCP connection and blocks in it, these streams read and write through
 * whatever transport they are given: the socket's blocking streams during startup, the
 * non-blocking {@link ChannelStreams} once the {@link RelayLoop} relays the session ({@link
 * #transport}). So a session on TLS runs on the event loop as a plaintext one does, without a
 * thread per direction (bench/README.md, session 31).
 *
 * <p>Reading: a read returns the plaintext already decrypted, else decrypts what the transport
 * delivered, else reads the transport once. On a non-blocking transport, a read that finds no whole
 * record returns 0 (the loop's "nothing now"), and plaintext can be left here after the loop's
 * handler stopped reading, with no byte on the socket to wake the loop: {@link #pending()} says so.
 *
 * <p>Renegotiation (TLS 1.2) is refused: a handshake after the first ends the connection, as it
 * would be an unbounded amount of work a client can ask for at any time. TLS 1.3's post-handshake
 * messages (KeyUpdate) are answered.
 *
 * <p>Threading: one thread reads and one writes at a time, as {@link SSLEngine} allows (its wrap
 * and unwrap may run concurrently). A read that must answer the peer (a KeyUpdate) writes under the
 * writer's lock.
 */
final class TlsStreams {
  /** A record's header: type, version (2), length (2). */
  private static final int RECORD_HEADER = 5;
  /** No record the peer sends may be longer than this (TLS 1.2's 2^14 + 2048 bytes of ciphertext and its header). */
  private static final int MAX_RECORD = RECORD_HEADER + (1 << 14) + 2048;
  private static final ByteBuffer EMPTY = ByteBuffer.allocate(0);

  private final SSLEngine engine;
  private final Input input = new Input();
  private final Output output = new Output();
  private final ReentrantLock writing = new ReentrantLock();
  // The transport; replaced once, before the relay starts (transport()).
  private volatile InputStream rawIn;
  private volatile OutputStream rawOut;
  /**
   * The event loop's stream of the connection's non-blocking channel, once it is the transport:
   * read without waiting when there is plaintext to return, and its channel is what {@link
   * #closeQuietly} writes close_notify to.
   */
  private volatile Optional<ChannelStreams.Input> loopInput = Optional.empty();
  /** Ciphertext read, not yet decrypted; write mode (position = bytes held). Reader's. */
  private ByteBuffer netIn;
  /** Plaintext decrypted, not yet read; read mode. Reader's. */
  private ByteBuffer appIn;
  /** Ciphertext to write. Writer's, under {@link #writing}. */
  private ByteBuffer netOut;
  private boolean inboundClosed;
  /** The transport ended (read once more, it would say so again; a non-blocking channel's may not). */
  private boolean transportEnded;
  /** A read returned the end of the stream. */
  private boolean endRead;

  private TlsStreams(SSLEngine engine, InputStream rawIn, OutputStream rawOut, byte[] consumed) {
    this.engine = engine;
    this.rawIn = rawIn;
    this.rawOut = rawOut;
    SSLSession session = engine.getSession();
    netIn = ByteBuffer.allocate(Math.max(session.getPacketBufferSize(), consumed.length));
    netIn.put(consumed);
    appIn = ByteBuffer.allocate(session.getApplicationBufferSize()).flip();
    netOut = ByteBuffer.allocate(session.getPacketBufferSize());
  }

  /**
   * Runs the client side of the handshake over blocking streams; the engine verifies the server as
   * it was configured to.
   *
   * @param engine in client mode, with its parameters set
   * @throws IOException when the handshake fails (an {@code SSLHandshakeException} when the server is
   *     not trusted) or the server leaves during it
   */
  static TlsStreams connect(SSLEngine engine, InputStream rawIn, OutputStream rawOut) throws IOException {
    TlsStreams tls = new TlsStreams(engine, rawIn, rawOut, new byte[0]);
    tls.handshake();
    return tls;
  }

  /**
   * Runs the server side of the handshake over blocking streams.
   *
   * @param engine in server mode, with its parameters set
   * @param consumed bytes of the client's first flight read already (direct TLS), handled first
   * @throws IOException when the handshake fails or the client leaves during it
   */
  static TlsStreams accept(SSLEngine engine, InputStream rawIn, OutputStream rawOut, byte[] consumed) throws IOException {
    TlsStreams tls = new TlsStreams(engine, rawIn, rawOut, consumed);
    tls.handshake();
    return tls;
  }

  private void handshake() throws IOException {
    try {
      handshakeSteps();
    } catch (SSLException e) {
      sendAlert(); // the peer hears why (a certificate it does not trust, no common protocol), as from an SSLSocket
      throw e;
    }
  }

  /** After a failed handshake: the alert the engine holds, written if it can be. Never throws. */
  private void sendAlert() {
    try {
      engine.closeOutbound();
      netOut.clear();
      engine.wrap(EMPTY, netOut);
      if (netOut.position() > 0) rawOut.write(netOut.array(), netOut.arrayOffset(), netOut.position());
      rawOut.flush();
    } catch (IOException | RuntimeException e) {
      // the peer is gone, or the engine has nothing to say: the handshake's failure stands
    }
  }

  private void handshakeSteps() throws IOException {
    engine.beginHandshake();
    HandshakeStatus status = engine.getHandshakeStatus();
    while (status != HandshakeStatus.FINISHED && status != HandshakeStatus.NOT_HANDSHAKING) {
      switch (status) {
        case NEED_TASK -> {
          runTasks();
          status = engine.getHandshakeStatus();
        }
        case NEED_WRAP -> status = wrapAndWrite(EMPTY).getHandshakeStatus();
        case NEED_UNWRAP, NEED_UNWRAP_AGAIN -> {
          SSLEngineResult result = unwrap();
          if (result.getStatus() == SSLEngineResult.Status.CLOSED) {
            throw new SSLHandshakeException("the peer closed TLS during the handshake");
          }
          if (result.getStatus() == SSLEngineResult.Status.BUFFER_UNDERFLOW && readTransport() < 0) {
            throw new EOFException("the peer left during the TLS handshake");
          }
          status = result.getHandshakeStatus();
        }
        default -> throw new SSLHandshakeException("unexpected TLS handshake status " + status);
      }
    }
  }

  /** The plaintext from the peer. One reader at a time. */
  InputStream input() {
    return input;
  }

  /** The plaintext to the peer; each write is sent at once (buffer above it). One writer at a time. */
  OutputStream output() {
    return output;
  }

  /** The TLS session: its protocol, cipher suite and the peer's certificates. */
  SSLSession session() {
    return engine.getSession();
  }

  /** The protocol the client chose by ALPN, or empty. */
  Optional<String> applicationProtocol() {
    String p = engine.getApplicationProtocol();
    return p == null || p.isEmpty() ? Optional.empty() : Optional.of(p);
  }

  /**
   * Reads and writes through a non-blocking channel's streams from now on (the event loop's). Call
   * between reads and writes, from the thread that owns both.
   *
   * @param plaintextAhead plaintext taken back from a reader above {@link #input()} after it read
   *     ahead, served before anything else
   */
  void transport(ChannelStreams.Input in, ChannelStreams.Output out, byte[] plaintextAhead) {
    rawIn = in;
    rawOut = out;
    loopInput = Optional.of(in);
    if (plaintextAhead.length > 0) {
      ByteBuffer joined = ByteBuffer.allocate(Math.max(appIn.capacity(), plaintextAhead.length + appIn.remaining()));
      joined.put(plaintextAhead).put(appIn).flip();
      appIn = joined;
    }
  }

  /**
   * Whether a read would return bytes without the transport delivering any: plaintext decrypted and
   * not read, or a whole record not yet decrypted. The event loop runs the handler again then (no
   * byte on the socket would wake it). Reader's thread.
   */
  boolean pending() {
    if (appIn.hasRemaining()) return true;
    // The end (a close_notify, or the transport's end) met while plaintext before it was returned:
    // it is still to be read, and a peer that keeps its TCP connection open would not wake the loop.
    if (inboundClosed || transportEnded) return !endRead;
    int held = netIn.position();
    if (held < RECORD_HEADER) return false;
    int length = ((netIn.get(3) & 0xff) << 8) | (netIn.get(4) & 0xff);
    return held >= RECORD_HEADER + length;
  }

  /**
   * Sends close_notify when that cannot wait: only over a non-blocking transport, and only when no
   * write is under way (a peer that stopped reading keeps a writer blocked). Never throws.
   */
  void closeQuietly() {
    Optional<ChannelStreams.Input> loop = loopInput;
    if (loop.isEmpty() || !writing.tryLock()) return;
    try {
      engine.closeOutbound();
      netOut.clear();
      engine.wrap(EMPTY, netOut);
      netOut.flip();
      loop.get().channel().write(netOut); // once: what does not fit is not waited for
    } catch (IOException | RuntimeException e) {
      // the peer is gone; closing is all that is left
    } finally {
      writing.unlock();
    }
  }

  private final class Input extends InputStream {
    @Override
    public int read() throws IOException {
      return ChannelStreams.readByte(this);
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      java.util.Objects.checkFromIndexSize(off, len, b.length);
      if (len == 0) return 0;
      int total = 0;
      while (true) {
        if (appIn.hasRemaining()) {
          int n = Math.min(len - total, appIn.remaining());
          appIn.get(b, off + total, n);
          total += n;
          if (total == len) return total;
        }
        if (inboundClosed || transportEnded) {
          if (total > 0) return total;
          endRead = true;
          return -1;
        }
        if (netIn.position() > 0 && decrypt()) continue;
        // With plaintext to return, a read must not wait: a blocking transport is not read then,
        // the loop's channel is read without waiting, until the caller's buffer is full or the
        // channel has nothing now, as a plaintext channel's read would (a read that returns less
        // than asked then means the socket is drained: the loop's handlers count on that).
        Optional<ChannelStreams.Input> channel = loopInput;
        if (total > 0 && channel.isEmpty()) return total;
        int read = total > 0 ? readTransport(channel.get()) : readTransport();
        if (read < 0) {
          transportEnded = true; // the peer closed, with or without close_notify: the end
          if (total > 0) return total;
          endRead = true;
          return -1;
        }
        if (read == 0) return total; // a non-blocking transport with nothing now
      }
    }

    @Override
    public int available() {
      return appIn.remaining();
    }
  }

  private final class Output extends OutputStream {
    @Override
    public void write(int b) throws IOException {
      write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      ByteBuffer from = ByteBuffer.wrap(b, off, len);
      writing.lock();
      try {
        while (from.hasRemaining()) {
          // Nothing taken and nothing made: the engine waits for a handshake, which only a
          // renegotiation would start. (A KeyUpdate's answer is made without taking plaintext.)
          if (wrapAndWrite(from).bytesProduced() == 0) throw new SSLException("TLS renegotiation is not supported by Gatehouse");
        }
      } finally {
        writing.unlock();
      }
    }

    @Override
    public void flush() throws IOException {
      rawOut.flush();
    }
  }

  /**
   * Decrypts one record from {@link #netIn} into {@link #appIn} (which is empty or has room).
   *
   * @return whether anything changed (a record decrypted or a handshake message handled); false
   *     when more ciphertext is needed
   */
  private boolean decrypt() throws IOException {
    SSLEngineResult result = unwrap();
    switch (result.getStatus()) {
      case CLOSED -> {
        inboundClosed = true; // close_notify: the peer's end of the stream
        return true;
      }
      case BUFFER_UNDERFLOW -> {
        return false;
      }
      default -> { }
    }
    HandshakeStatus status = result.getHandshakeStatus();
    if (status != HandshakeStatus.NOT_HANDSHAKING && status != HandshakeStatus.FINISHED) {
      if (!"TLSv1.3".equals(engine.getSession().getProtocol())) {
        throw new SSLException("TLS renegotiation is not supported by Gatehouse");
      }
      afterHandshake(status); // TLS 1.3: a KeyUpdate to answer
    }
    return result.bytesConsumed() > 0 || result.bytesProduced() > 0;
  }

  /** TLS 1.3 post-handshake messages: runs the engine's tasks and sends what it must answer. */
  private void afterHandshake(HandshakeStatus status) throws IOException {
    while (true) {
      switch (status) {
        case NEED_TASK -> {
          runTasks();
          status = engine.getHandshakeStatus();
        }
        case NEED_WRAP -> {
          writing.lock();
          try {
            status = wrapAndWrite(EMPTY).getHandshakeStatus();
          } finally {
            writing.unlock();
          }
        }
        default -> {
          return;
        }
      }
    }
  }

  /**
   * One unwrap from {@link #netIn} to {@link #appIn}, growing either when the engine asks for more
   * room (a peer's record larger than the session's first estimate, which TLS 1.2 allows).
   */
  private SSLEngineResult unwrap() throws IOException {
    while (true) {
      SSLEngineResult result;
      netIn.flip();
      appIn.compact();
      try {
        result = engine.unwrap(netIn, appIn);
      } finally {
        appIn.flip();
        netIn.compact();
      }
      switch (result.getStatus()) {
        case BUFFER_OVERFLOW -> {
          int need = engine.getSession().getApplicationBufferSize() + appIn.remaining();
          if (appIn.capacity() >= need) return result; // room comes as the plaintext is read
          appIn = ByteBuffer.allocate(need).put(appIn).flip();
        }
        case BUFFER_UNDERFLOW -> {
          if (netIn.hasRemaining()) return result;
          // Full, and no whole record in it: a record longer than the buffer, up to the longest TLS allows.
          if (netIn.capacity() >= MAX_RECORD) throw new SSLException("TLS record longer than " + MAX_RECORD + " bytes");
          netIn = ByteBuffer.allocate(MAX_RECORD).put(netIn.flip());
          return result;
        }
        default -> {
          return result;
        }
      }
    }
  }

  /** Reads the transport once into {@link #netIn}; -1 at its end, 0 when a non-blocking one has nothing. */
  private int readTransport() throws IOException {
    int read = rawIn.read(netIn.array(), netIn.arrayOffset() + netIn.position(), netIn.remaining());
    if (read > 0) netIn.position(netIn.position() + read);
    return read;
  }

  /** As {@link #readTransport()}, never waiting: 0 when the channel has nothing now. */
  private int readTransport(ChannelStreams.Input channel) throws IOException {
    int read = channel.readNow(netIn.array(), netIn.arrayOffset() + netIn.position(), netIn.remaining());
    if (read > 0) netIn.position(netIn.position() + read);
    return read;
  }

  /**
   * Encrypts from {@code from} once and writes what that made. Under {@link #writing}.
   *
   * @return the engine's result; its handshake status is the engine's after any tasks ran
   */
  private SSLEngineResult wrapAndWrite(ByteBuffer from) throws IOException {
    while (true) {
      netOut.clear();
      SSLEngineResult result = engine.wrap(from, netOut);
      if (result.getStatus() == SSLEngineResult.Status.BUFFER_OVERFLOW) {
        netOut = ByteBuffer.allocate(Math.max(netOut.capacity() * 2, engine.getSession().getPacketBufferSize()));
        continue;
      }
      // Written even when the engine closed: what it made then is an alert the peer should read.
      if (netOut.position() > 0) rawOut.write(netOut.array(), netOut.arrayOffset(), netOut.position());
      if (result.getStatus() == SSLEngineResult.Status.CLOSED) throw new SSLException("TLS to the peer is closed");
      if (result.getHandshakeStatus() == HandshakeStatus.NEED_TASK) {
        runTasks();
        return new SSLEngineResult(result.getStatus(), engine.getHandshakeStatus(), result.bytesConsumed(),
            result.bytesProduced());
      }
      return result;
    }
  }

  private void runTasks() {
    Runnable task;
    while ((task = engine.getDelegatedTask()) != null) task.run();
  }
}
