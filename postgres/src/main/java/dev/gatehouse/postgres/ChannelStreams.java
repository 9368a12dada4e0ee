package dev.gatehouse.postgres;

import dev.gatehouse.core.Blocking;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;

/**
 * Streams over a non-blocking {@link SocketChannel} of a session relayed by the {@link RelayLoop}.
 * A read in {@link Input#now now} mode returns 0 when the channel has nothing, which is how a
 * handler learns to give its thread back to the loop; any other read or write that would wait
 * first says so ({@link Blocking#aboutToBlock()}: the loop gets another leader), then waits for
 * the channel on a selector of its own. Such waits (the rest of a large message, a client slow to
 * take its rows) check every {@link #POLL_MILLIS} ms whether the channel was closed meanwhile (the
 * session ended), since closing a channel does not wake a selector.
 */
final class ChannelStreams {
  private static final long POLL_MILLIS = 200;

  private ChannelStreams() {}

  /** Reads; see the class. Used by one thread at a time. */
  static final class Input extends InputStream {
    private final SocketChannel channel;
    private final byte[] ahead;
    private int aheadPos;
    private boolean now;
    private final Wrapper wrapper = new Wrapper();

    /** @param ahead bytes read from the channel before it became non-blocking, served first */
    Input(SocketChannel channel, byte[] ahead) {
      this.channel = channel;
      this.ahead = ahead;
    }

    /** A read through a buffer over this stream. */
    interface Read {
      int read() throws IOException;
    }

    /**
     * Runs {@code read} with reads that return 0 instead of waiting when the channel has nothing
     * (the loop's reads of what is there now).
     */
    int now(Read read) throws IOException {
      now = true;
      try {
        return read.read();
      } finally {
        now = false;
      }
    }

    @Override
    public int read() throws IOException {
      return readByte(this);
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (len == 0) return 0;
      if (aheadPos < ahead.length) {
        int n = Math.min(len, ahead.length - aheadPos);
        System.arraycopy(ahead, aheadPos, b, off, n);
        aheadPos += n;
        return n;
      }
      ByteBuffer into = wrapper.wrap(b, off, len);
      while (true) {
        int n = channel.read(into);
        if (n != 0 || now) return n;
        await(channel, SelectionKey.OP_READ);
      }
    }

    /** The channel read. */
    SocketChannel channel() {
      return channel;
    }

    /** Reads what the channel has now, never waiting: 0 when it has nothing, whatever the mode. */
    int readNow(byte[] b, int off, int len) throws IOException {
      boolean was = now;
      now = true;
      try {
        return read(b, off, len);
      } finally {
        now = was;
      }
    }

    @Override
    public int available() {
      return ahead.length - aheadPos;
    }
  }

  /** Writes all bytes, waiting while the peer's window is full; see the class. */
  static final class Output extends OutputStream {
    private final SocketChannel channel;
    private final Wrapper wrapper = new Wrapper();

    Output(SocketChannel channel) {
      this.channel = channel;
    }

    @Override
    public void write(int b) throws IOException {
      write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      ByteBuffer from = wrapper.wrap(b, off, len);
      while (from.hasRemaining()) {
        if (channel.write(from) == 0) await(channel, SelectionKey.OP_WRITE);
      }
    }
  }

  /**
   * A stream's view of the array it was last handed: the relay reads into and writes from the same
   * few buffers, so one {@link ByteBuffer} per array serves every call instead of a new one per
   * system call. Only arrays of the relay's initial buffer size are kept: a buffer grown for a large
   * result, or a large message written from its own array, would otherwise stay reachable from here
   * while the session sits idle after the relay shrank its buffers. Used by the stream's one thread
   * at a time, like the stream.
   */
  private static final class Wrapper {
    /** Largest array kept between calls: the relay's buffers' initial size. */
    private static final int KEPT = BackendInput.INITIAL;
    private ByteBuffer last;

    ByteBuffer wrap(byte[] b, int off, int len) {
      if (b.length > KEPT) return ByteBuffer.wrap(b, off, len);
      ByteBuffer w = last;
      if (w == null || w.array() != b) last = w = ByteBuffer.wrap(b);
      w.clear().position(off).limit(off + len);
      return w;
    }
  }

  /**
   * One byte from a stream whose reads may return 0 (nothing now: a non-blocking channel's, or TLS
   * over one), as {@link InputStream#read()} must: read again until a byte or the end.
   */
  static int readByte(InputStream in) throws IOException {
    byte[] one = new byte[1];
    int n;
    do {
      n = in.read(one, 0, 1);
    } while (n == 0);
    return n < 0 ? -1 : one[0] & 0xff;
  }

  /** Waits until {@code channel} is ready for {@code op}; the loop gets another leader first. */
  private static void await(SocketChannel channel, int op) throws IOException {
    Blocking.aboutToBlock();
    boolean own = !(Thread.currentThread() instanceof RelayLoop.LoopThread);
    Selector selector = own ? Selector.open() : ((RelayLoop.LoopThread) Thread.currentThread()).waitSelector();
    SelectionKey key = channel.register(selector, op);
    try {
      while (channel.isOpen()) {
        if (selector.select(POLL_MILLIS) > 0) return;
      }
      throw new ClosedChannelException();
    } finally {
      // Deregistered at once: a closed channel's socket is released only when no selector holds it.
      key.cancel();
      selector.selectedKeys().clear();
      selector.selectNow();
      if (own) selector.close();
    }
  }
}
