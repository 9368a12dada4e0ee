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
import javax.net.ssl.SSLSocket;

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
  private final FrameReader reader;
  private MessageWriter writer;
  /** The channel's stream once the connection is relayed by the event loop ({@link #useChannel}). */
  private ChannelStreams.Input channelInput;
  private final Optional<BackendKeyData> backendKey;
  private final Map<String, String> parameterStatus;
  private final AtomicBoolean closed = new AtomicBoolean();

  BackendConnection(
      Socket socket,
      FrameReader reader,
      MessageWriter writer,
      Optional<BackendKeyData> backendKey,
      Map<String, String> parameterStatus) {
    this.socket = Objects.requireNonNull(socket, "socket == null");
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
    InputStream in = channelInput != null ? channelInput : socket.getInputStream();
    return new BackendInput(in, reader.takeBuffered(), beforeRead);
  }

  /** The channel under the socket when the connection is plaintext (the event loop can relay it). */
  Optional<SocketChannel> plainChannel() {
    return socket instanceof SSLSocket ? Optional.empty() : Optional.ofNullable(socket.getChannel());
  }

  /**
   * Event-loop mode, before the relays start: the channel becomes non-blocking, {@link #writer()}
   * writes through it and {@link #relayInput} reads from it.
   *
   * @return the stream {@link #relayInput} will read, for the loop's reads of what is there now
   */
  ChannelStreams.Input useChannel() throws IOException {
    SocketChannel channel = plainChannel().orElseThrow(() -> new IllegalStateException("not a plaintext channel"));
    writer.flush();
    channel.configureBlocking(false);
    channelInput = new ChannelStreams.Input(channel, new byte[0]);
    writer = new MessageWriter(new ChannelStreams.Output(channel));
    return channelInput;
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
    return socket instanceof SSLSocket tls ? Optional.of(tls.getSession()) : Optional.empty();
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
    try {
      socket.close();
    } catch (IOException e) {
      // nothing to recover: the socket is unusable either way
    }
  }

  @Override
  public String toString() {
    return "BackendConnection[" + socket.getRemoteSocketAddress() + (socket instanceof SSLSocket ? ", tls" : "") + "]";
  }
}
