package dev.gatehouse.postgres;

import dev.gatehouse.postgres.wire.AuthenticationCleartextPassword;
import dev.gatehouse.postgres.wire.BackendCodec;
import dev.gatehouse.postgres.wire.BackendKeyData;
import dev.gatehouse.postgres.wire.BackendMessage;
import dev.gatehouse.postgres.wire.CancelRequest;
import dev.gatehouse.postgres.wire.ErrorResponse;
import dev.gatehouse.postgres.wire.Frame;
import dev.gatehouse.postgres.wire.FrameReader;
import dev.gatehouse.postgres.wire.FrontendMessage;
import dev.gatehouse.postgres.wire.MessageWriter;
import dev.gatehouse.postgres.wire.PasswordMessage;
import dev.gatehouse.postgres.wire.ReadyForQuery;
import dev.gatehouse.postgres.wire.StartupMessage;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** A scripted PostgreSQL client over the wire codec, for what psql and pgjdbc never send. */
final class RawClient implements AutoCloseable {
  final Socket socket;
  final OutputStream out;
  final InputStream in;
  final FrameReader reader;
  final MessageWriter writer;

  RawClient(int port) throws IOException {
    this(port, "127.0.0.1");
  }

  /** Connected from {@code localAddress} (any 127.x.y.z on Linux's loopback: another source). */
  RawClient(int port, String localAddress) throws IOException {
    socket = new Socket(java.net.InetAddress.getByName("127.0.0.1"), port, java.net.InetAddress.getByName(localAddress), 0);
    socket.setSoTimeout(30_000); // a safety net against a hung test, not an assertion
    out = socket.getOutputStream();
    in = socket.getInputStream();
    reader = new FrameReader(in);
    writer = new MessageWriter(out);
  }

  /** Over {@code in} and {@code out}, streams above {@code socket} (TLS the test drives itself). */
  RawClient(Socket socket, InputStream in, OutputStream out) throws IOException {
    this.socket = socket;
    socket.setSoTimeout(30_000);
    this.out = out;
    this.in = in;
    reader = new FrameReader(in);
    writer = new MessageWriter(out);
  }

  private RawClient(Socket socket) throws IOException {
    this(socket, socket.getInputStream(), socket.getOutputStream());
  }

  /** Over TLS: an SSLRequest, then the handshake with {@code context} (which must trust the gateway). */
  static RawClient tls(int port, javax.net.ssl.SSLContext context) throws IOException {
    Socket plain = sslRequested(port);
    javax.net.ssl.SSLSocket tls = (javax.net.ssl.SSLSocket) context.getSocketFactory().createSocket(plain, "localhost", port, true);
    tls.startHandshake();
    return new RawClient(tls);
  }

  /** A connection to {@code port} whose SSLRequest the gateway answered 'S': the next bytes are the client's TLS. */
  static Socket sslRequested(int port) throws IOException {
    Socket plain = new Socket("127.0.0.1", port);
    plain.setSoTimeout(30_000);
    plain.getOutputStream().write(new byte[] {0, 0, 0, 8, 4, (byte) 0xd2, 0x16, 0x2f});
    plain.getOutputStream().flush();
    int answer = plain.getInputStream().read();
    if (answer != 'S') throw new IllegalStateException("SSLRequest answered " + answer);
    return plain;
  }

  /** {@code count} Sync messages, to send in one write. */
  static byte[] syncs(int count) {
    byte[] burst = new byte[count * 5];
    for (int i = 0; i < count; i++) {
      burst[i * 5] = 'S';
      burst[i * 5 + 4] = 4;
    }
    return burst;
  }

  RawClient send(FrontendMessage... messages) throws IOException {
    for (FrontendMessage m : messages) writer.write(m);
    writer.flush();
    return this;
  }

  RawClient sendFrame(Frame frame) throws IOException {
    writer.write(frame);
    writer.flush();
    return this;
  }

  /** The messages' bytes as the client sends them, to send in pieces ({@link #sendBytes}). */
  static byte[] bytes(FrontendMessage... messages) throws IOException {
    var buffer = new java.io.ByteArrayOutputStream();
    var w = new MessageWriter(buffer);
    for (FrontendMessage m : messages) w.write(m);
    w.flush();
    return buffer.toByteArray();
  }

  RawClient sendBytes(byte[] bytes) throws IOException {
    out.write(bytes);
    out.flush();
    return this;
  }

  /** The next message, or empty when the gateway closed the connection. */
  Optional<BackendMessage> read() throws IOException {
    return reader.read(1 << 24).map(BackendCodec::decode);
  }

  /** Messages up to and including the next ReadyForQuery (or up to the end of the connection). */
  List<BackendMessage> untilReady() throws IOException {
    List<BackendMessage> got = new ArrayList<>();
    while (true) {
      Optional<BackendMessage> m = read();
      if (m.isEmpty()) return got;
      got.add(m.get());
      if (m.get() instanceof ReadyForQuery) return got;
    }
  }

  /** Reads until the connection ends; returns everything received. */
  List<BackendMessage> untilClosed() throws IOException {
    List<BackendMessage> got = new ArrayList<>();
    try {
      for (Optional<BackendMessage> m = read(); m.isPresent(); m = read()) got.add(m.get());
    } catch (java.net.SocketException e) {
      // a reset counts as closed
    }
    return got;
  }

  /** Sends a CancelRequest on a new connection to {@code port}; returns what came back before the close. */
  static List<BackendMessage> cancel(int port, int processId, byte[] secretKey) throws IOException {
    return cancel(port, "127.0.0.1", processId, secretKey);
  }

  static List<BackendMessage> cancel(int port, String localAddress, int processId, byte[] secretKey) throws IOException {
    try (RawClient c = new RawClient(port, localAddress)) {
      c.send(new CancelRequest(processId, secretKey));
      return c.untilClosed();
    }
  }

  /** Logs in with the harness token; returns the cancel key the gateway handed out. */
  BackendKeyData login(String token) throws IOException {
    return login(token, Map.of());
  }

  BackendKeyData login(String token, Map<String, String> extra) throws IOException {
    Map<String, String> p = new LinkedHashMap<>();
    p.put("user", "alice");
    p.put("database", GatewayHarness.RESOURCE);
    p.putAll(extra);
    send(StartupMessage.of(p));
    BackendMessage ask = read().orElseThrow();
    if (!(ask instanceof AuthenticationCleartextPassword)) throw new IllegalStateException("got " + ask);
    send(PasswordMessage.cleartext(token));
    BackendKeyData key = null;
    for (BackendMessage m : untilReady()) {
      if (m instanceof BackendKeyData k) key = k;
      if (m instanceof ErrorResponse e) throw new IllegalStateException("login failed: " + e.message());
    }
    if (key == null) throw new IllegalStateException("no BackendKeyData");
    return key;
  }

  static Optional<ErrorResponse> firstError(List<BackendMessage> messages) {
    return messages.stream().filter(ErrorResponse.class::isInstance).map(ErrorResponse.class::cast).findFirst();
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
