package dev.gatehouse.postgres;

import java.io.FilterInputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.SocketTimeoutException;
import java.time.Clock;
import java.time.Instant;
import java.util.Optional;

/**
 * Socket stream wrappers the proxy needs to tell what went wrong: whether the client side failed
 * (as opposed to the target side, when one call touches both), and whether a client took too long
 * to start up.
 */
final class WatchedStreams {
  private WatchedStreams() {}

  /**
   * Client input with an optional overall deadline: a {@link Deadlines.Watch} shuts the socket's
   * input when the deadline passes, so a client that trickles one byte at a time is cut off at the
   * deadline, not after one timeout per byte (THREATS.md item 10), and a read cut off that way
   * throws {@link SocketTimeoutException}. No socket timeout is ever set: it would leave the socket
   * non-blocking for the whole session (see {@link Deadlines}). Remembers whether a read failed or
   * hit end of stream. Used by one thread.
   */
  static final class ClientInput extends FilterInputStream {
    private final Clock clock;
    private final Optional<Deadlines.Watch> watch;
    private Optional<Instant> deadline;
    private volatile boolean failed;

    /**
     * @param watch shuts the input of the client's socket at {@code deadline} (shared by the
     *     plaintext and the TLS input of one connection)
     */
    ClientInput(InputStream in, Clock clock, Optional<Instant> deadline, Optional<Deadlines.Watch> watch) {
      super(in);
      this.clock = clock;
      this.deadline = deadline;
      this.watch = watch;
    }

    /**
     * Reads block without limit from now on: startup is over.
     *
     * @throws SocketTimeoutException when the deadline fired first (the input is shut)
     */
    void disarm() throws IOException {
      deadline = Optional.empty();
      if (watch.isPresent() && !watch.get().disarm()) throw new SocketTimeoutException("startup deadline passed");
    }

    /** Whether reading from the client failed or the client closed its side. */
    boolean failed() {
      return failed;
    }

    /** Throws {@link SocketTimeoutException} when the deadline has passed (before a TLS handshake, say). */
    void armTimeout() throws IOException {
      if (deadline.isEmpty()) return;
      if (!clock.instant().isBefore(deadline.get()) || expired()) throw new SocketTimeoutException("startup deadline passed");
    }

    private boolean expired() {
      return watch.isPresent() && watch.get().fired();
    }

    @Override
    public int read() throws IOException {
      try {
        armTimeout();
        return checked(super.read());
      } catch (IOException e) {
        throw failure(e);
      }
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      try {
        armTimeout();
        return checked(super.read(b, off, len));
      } catch (IOException e) {
        throw failure(e);
      }
    }

    /** A read's result; the end of stream is a timeout when the deadline shut the input. */
    private int checked(int n) throws SocketTimeoutException {
      if (n < 0) {
        failed = true;
        if (expired()) throw new SocketTimeoutException("startup deadline passed");
      }
      return n;
    }

    private IOException failure(IOException e) {
      failed = true;
      return expired() && !(e instanceof SocketTimeoutException) ? timedOut(e) : e;
    }

    private static SocketTimeoutException timedOut(IOException cause) {
      SocketTimeoutException t = new SocketTimeoutException("startup deadline passed");
      t.initCause(cause);
      return t;
    }
  }

  /** Client output that remembers whether a write failed. */
  static final class ClientOutput extends FilterOutputStream {
    private volatile boolean failed;

    ClientOutput(OutputStream out) {
      super(out);
    }

    boolean failed() {
      return failed;
    }

    @Override
    public void write(int b) throws IOException {
      try {
        out.write(b);
      } catch (IOException e) {
        failed = true;
        throw e;
      }
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      try {
        out.write(b, off, len);
      } catch (IOException e) {
        failed = true;
        throw e;
      }
    }

    @Override
    public void flush() throws IOException {
      try {
        out.flush();
      } catch (IOException e) {
        failed = true;
        throw e;
      }
    }
  }
}
