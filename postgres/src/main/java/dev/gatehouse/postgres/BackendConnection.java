package dev.gatehouse.postgres;

import dev.gatehouse.postgres.wire.BackendKeyData;
import dev.gatehouse.postgres.wire.FrameReader;
import dev.gatehouse.postgres.wire.MessageWriter;
import dev.gatehouse.postgres.wire.Terminate;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.channels.SocketChannel;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.net.ssl.SSLSession;

/**
 * An authenticated connection to a PostgreSQL target, positioned right after the first
 * ReadyForQuery (transaction status idle): the next thing the server reads is a query, the next
 * thing it sends is the answer to one. Made by {@link BackendConnector#connect}.
 *
 * <p>Read through {@link #reader()} (it may already hold bytes the server sent after
 * ReadyForQuery: never read the socket around it) and write through {@link #writer()} (buffered;
 * flush it).
 *
 * <p>Threading: one thread reads, one thread writes (they may differ). {@link #close()} sends
 * Terminate through the writer, so only the writing thread may call it; any thread may call
 * {@link #abort()}, which closes the socket without a goodbye and wakes a blocked reader.
 */
public final class BackendConnection implements AutoCloseable {
  private final Socket socket;
  /** TLS over {@link #socket} when the connection is encrypted. */
  private final Optional<TlsStreams> tls;
  private final FrameReader reader;
  private MessageWriter writer;
  /** What {@link #relayInput} reads once the event loop relays the connection ({@link #useChannel}). */
  private InputStream loopInput;
  private final Optional<BackendKeyData> backendKey;
  private final Map<String, String> parameterStatus;
  private final AtomicBoolean closed = new AtomicBoolean();

  BackendConnection(
      Socket socket,
      Optional<TlsStreams> tls,
      FrameReader reader,
      MessageWriter writer,
      Optional<BackendKeyData> backendKey,
      Map<String, String> parameterStatus) {
    this.socket = Objects.requireNonNull(socket, "socket == null");
    this.tls = Objects.requireNonNull(tls, "tls == null");
    this.reader = Objects.requireNonNull(reader, "reader == null");
    this.writer = Objects.requireNonNull(writer, "writer == null");
    this.backendKey = Objects.requireNonNull(backendKey, "backendKey == null");
    this.parameterStatus = Map.copyOf(parameterStatus);
  }

  /** Frames from the server, starting with the first one after ReadyForQuery. */
  public FrameReader reader() {
    return reader;
  }

  /**
   * Hands the server's bytes over to {@link BackendRelay}: what {@link #reader()} read ahead, then
   * the socket's stream, read in large slices. After this call {@link #reader()} must not be used.
   */
  BackendInput relayInput(BackendInput.BeforeRead beforeRead) throws IOException {
    InputStream in = loopInput != null ? loopInput : tls.isPresent() ? tls.get().input() : socket.getInputStream();
    return new BackendInput(in, reader.takeBuffered(), beforeRead);
  }

  /** The channel under the socket, when it has one (the event loop can relay it then). */
  Optional<SocketChannel> channel() {
    return Optional.ofNullable(socket.getChannel());
  }

  /**
   * Event-loop mode, before the relays start: the channel becomes non-blocking, {@link #writer()}
   * writes through it and {@link #relayInput} reads from it (through TLS when the connection is
   * encrypted).
   *
   * @return the channel's stream, for the loop's reads of what is there now
   */
  ChannelStreams.Input useChannel() throws IOException {
    SocketChannel channel = channel().orElseThrow(() -> new IllegalStateException("no channel"));
    writer.flush();
    channel.configureBlocking(false);
    ChannelStreams.Input in = new ChannelStreams.Input(channel, new byte[0]);
    ChannelStreams.Output out = new ChannelStreams.Output(channel);
    if (tls.isPresent()) {
      tls.get().transport(in, out, new byte[0]);
      loopInput = tls.get().input();
      writer = new MessageWriter(tls.get().output());
    } else {
      loopInput = in;
      writer = new MessageWriter(out);
    }
    return in;
  }

  /**
   * Whether TLS holds plaintext from the server that the relay did not read yet (see {@link
   * TlsStreams#pending()}); reader's thread.
   */
  boolean pending() {
    return tls.isPresent() && tls.get().pending();
  }

  /** Messages to the server; nothing leaves before {@link MessageWriter#flush()}. */
  public MessageWriter writer() {
    return writer;
  }

  /**
   * The server's cancel key (process id and secret) for {@link BackendConnector#cancel}. Empty
   * only when the server sent no BackendKeyData, which PostgreSQL always does but some poolers do
   * not; then the session cannot be cancelled.
   */
  public Optional<BackendKeyData> backendKey() {
    return backendKey;
  }

  /** The run-time parameters the server reported during startup (ParameterStatus), by name. */
  public Map<String, String> parameterStatus() {
    return parameterStatus;
  }

  /** The {@code server_version} the server reported, such as {@code "15.8 (Debian 15.8-0+deb12u1)"}. */
  public Optional<String> serverVersion() {
    return Optional.ofNullable(parameterStatus.get("server_version"));
  }

  /** The TLS session towards the target, when the connection is encrypted. */
  public Optional<SSLSession> tlsSession() {
    return tls.map(TlsStreams::session);
  }

  /** The target's address as connected. */
  public InetSocketAddress remoteAddress() {
    return (InetSocketAddress) socket.getRemoteSocketAddress();
  }

  /** Whether {@link #close()} or {@link #abort()} ran. */
  public boolean isClosed() {
    return closed.get();
  }

  /**
   * Ends the session politely: sends Terminate, then closes the socket. Call from the thread that
   * owns {@link #writer()}. Idempotent; never throws (the server may already be gone).
   */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) return;
    try {
      writer.write(Terminate.INSTANCE);
      writer.flush();
    } catch (IOException | RuntimeException e) {
      // The server went away first; closing is all that is left to do.
    }
    closeSocket();
  }

  /** Closes the socket without Terminate; safe from any thread, wakes a blocked reader. */
  public void abort() {
    closed.set(true);
    closeSocket();
  }

  private void closeSocket() {
    tls.ifPresent(TlsStreams::closeQuietly);
    try {
      socket.close();
    } catch (IOException e) {
      // nothing to recover: the socket is unusable either way
    }
  }

  @Override
  public String toString() {
    return "BackendConnection[" + socket.getRemoteSocketAddress() + (tls.isPresent() ? ", tls" : "") + "]";
  }
}
