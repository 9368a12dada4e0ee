package dev.gatehouse.postgres.wire;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;

/**
 * A plain TCP relay to a real PostgreSQL that records the bytes of each connection in both
 * directions, so tests can use real client and server traffic as codec vectors.
 */
final class RecordingRelay implements AutoCloseable {
  /** The bytes of one relayed connection. */
  record Capture(byte[] fromClient, byte[] fromServer) {}

  private final ServerSocket server;
  private final InetSocketAddress target;
  private final List<Thread> threads = new ArrayList<>();
  private final List<ByteArrayOutputStream[]> recordings = new ArrayList<>();
  private final List<Socket> sockets = new ArrayList<>();
  private final Thread acceptor;

  RecordingRelay(InetSocketAddress target) throws IOException {
    this.target = target;
    this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    this.acceptor = Thread.ofPlatform().daemon().name("relay-accept").start(this::acceptLoop);
  }

  int port() {
    return server.getLocalPort();
  }

  private void acceptLoop() {
    try {
      while (true) {
        Socket client = server.accept();
        Socket backend = new Socket(target.getAddress(), target.getPort());
        var fromClient = new ByteArrayOutputStream();
        var fromServer = new ByteArrayOutputStream();
        synchronized (this) {
          sockets.add(client);
          sockets.add(backend);
          recordings.add(new ByteArrayOutputStream[] {fromClient, fromServer});
          threads.add(pump(client, backend, fromClient));
          threads.add(pump(backend, client, fromServer));
        }
      }
    } catch (IOException closed) {
      // close() ends the loop.
    }
  }

  private static Thread pump(Socket from, Socket to, ByteArrayOutputStream record) {
    return Thread.ofPlatform().daemon().start(() -> {
      try {
        InputStream in = from.getInputStream();
        OutputStream out = to.getOutputStream();
        byte[] buf = new byte[8192];
        for (int n; (n = in.read(buf)) >= 0; ) {
          synchronized (record) {
            record.write(buf, 0, n);
          }
          out.write(buf, 0, n);
        }
        to.shutdownOutput();
      } catch (IOException e) {
        // A reset ends both directions; the recording holds what passed.
        closeQuietly(from);
        closeQuietly(to);
      }
    });
  }

  private static void closeQuietly(Socket socket) {
    try {
      socket.close();
    } catch (IOException ignored) {
      // Already closed.
    }
  }

  /** Waits until every relayed connection has ended, then returns what each carried. */
  List<Capture> captures() throws InterruptedException {
    List<Thread> toJoin;
    synchronized (this) {
      toJoin = List.copyOf(threads);
    }
    for (Thread t : toJoin) {
      t.join(30_000);
      if (t.isAlive()) {
        throw new IllegalStateException("a relayed connection did not end within 30 s");
      }
    }
    synchronized (this) {
      sockets.forEach(RecordingRelay::closeQuietly);
      return recordings.stream()
          .map(r -> new Capture(r[0].toByteArray(), r[1].toByteArray()))
          .toList();
    }
  }

  @Override
  public void close() {
    try {
      server.close();
      acceptor.join(5_000);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
