package dev.gatehouse.postgres;

import java.io.FilterInputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Clock;
import java.time.Duration;
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
   * Client input with an optional overall deadline: before each read the socket timeout is set to
   * what is left, so a client that trickles one byte at a time is cut off at the deadline, not
   * after one timeout per byte (THREATS.md item 10). Remembers whether a read failed or hit end of
   * stream. Used by one thread.
   */
  static final class ClientInput extends FilterInputStream {
    private final Socket socket;
    private final Clock clock;
    private Optional<Instant> deadline;
    private volatile boolean failed;

    ClientInput(InputStream in, Socket socket, Clock clock, Optional<Instant> deadline) {
      super(in);
      this.socket = socket;
      this.clock = clock;
      this.deadline = deadline;
    }

    /** Reads block without limit from now on: startup is over. */
    void disarm() throws IOException {
      deadline = Optional.empty();
      socket.setSoTimeout(0);
    }

    /** Whether reading from the client failed or the client closed its side. */
    boolean failed() {
      return failed;
    }

    /** Sets the socket timeout to what is left of the deadline (for a TLS handshake too). */
    void armTimeout() throws IOException {
      if (deadline.isEmpty()) return;
      long left = Duration.between(clock.instant(), deadline.get()).toMillis();
      if (left <= 0) throw new SocketTimeoutException("startup deadline passed");
      socket.setSoTimeout((int) Math.min(left, Integer.MAX_VALUE));
    }

    @Override
    public int read() throws IOException {
      try {
        armTimeout();
        int b = super.read();
        if (b < 0) failed = true;
        return b;
      } catch (IOException e) {
        failed = true;
        throw e;
      }
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      try {
        armTimeout();
        int n = super.read(b, off, len);
        if (n < 0) failed = true;
        return n;
      } catch (IOException e) {
        failed = true;
        throw e;
      }
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
