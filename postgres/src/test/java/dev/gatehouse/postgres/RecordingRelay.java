package dev.gatehouse.postgres;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A TCP relay between a client and the gateway that records every byte the gateway sends to the
 * client, so a test can assert that a value appears nowhere in what the client received, whatever
 * message or encoding carried it.
 */
final class RecordingRelay implements AutoCloseable {
  private final ServerSocket server;
  private final int target;
  private final ByteArrayOutputStream received = new ByteArrayOutputStream();
  private final List<Socket> sockets = new CopyOnWriteArrayList<>();

  RecordingRelay(int targetPort) throws IOException {
    this.target = targetPort;
    this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Thread.ofVirtual().start(this::accept);
  }

  int port() {
    return server.getLocalPort();
  }

  /** Everything the gateway sent to clients so far, as Latin-1 text (every byte one character). */
  String received() {
    synchronized (received) {
      return received.toString(StandardCharsets.ISO_8859_1);
    }
  }

  private void accept() {
    while (!server.isClosed()) {
      try {
        Socket client = server.accept();
        Socket upstream = new Socket(InetAddress.getLoopbackAddress(), target);
        sockets.add(client);
        sockets.add(upstream);
        InputStream fromClient = client.getInputStream();
        InputStream fromGateway = upstream.getInputStream();
        Thread.ofVirtual().start(() -> pump(fromClient, upstream, false));
        Thread.ofVirtual().start(() -> pump(fromGateway, client, true));
      } catch (IOException e) {
        return;
      }
    }
  }

  private void pump(InputStream in, Socket to, boolean record) {
    byte[] buf = new byte[16384];
    try (in; OutputStream out = to.getOutputStream()) {
      int n;
      while ((n = in.read(buf)) > 0) {
        if (record) {
          synchronized (received) {
            received.write(buf, 0, n);
          }
        }
        out.write(buf, 0, n);
        out.flush();
      }
    } catch (IOException e) {
      // one side closed
    } finally {
      try {
        to.shutdownOutput();
      } catch (IOException e) {
        // already closed
      }
    }
  }

  @Override
  public void close() throws IOException {
    server.close();
    for (Socket s : sockets) s.close();
  }
}
