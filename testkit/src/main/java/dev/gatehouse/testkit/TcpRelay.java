package dev.gatehouse.testkit;

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
 * A TCP relay on loopback between a client and a gateway that records every byte the gateway sends
 * to the client, so a test can assert that a value appears nowhere in what the client received, whatever
 * message or encoding carried it. Given several gateway ports it is a round-robin load balancer:
 * the n-th connection goes to the n-th port (modulo their number), as a TCP balancer in front of a
 * cluster may send a client's cancel request to another node than its session's.
 */
public final class TcpRelay implements AutoCloseable {
  private final ServerSocket server;
  private final int[] targets;
  private int connections;
  private final ByteArrayOutputStream received = new ByteArrayOutputStream();
  private final List<Socket> sockets = new CopyOnWriteArrayList<>();

  /** Relays each connection to the next of {@code targetPorts} on loopback, round robin. */
  public TcpRelay(int... targetPorts) throws IOException {
    if (targetPorts.length == 0) throw new IllegalArgumentException("no target port");
    this.targets = targetPorts.clone();
    this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Thread.ofVirtual().start(this::accept);
  }

  /** The port clients connect to. */
  public int port() {
    return server.getLocalPort();
  }

  /** Everything the gateway sent to clients so far, as Latin-1 text (every byte one character). */
  public String received() {
    synchronized (received) {
      return received.toString(StandardCharsets.ISO_8859_1);
    }
  }

  private void accept() {
    while (!server.isClosed()) {
      try {
        Socket client = server.accept();
        Socket upstream = new Socket(InetAddress.getLoopbackAddress(), targets[connections++ % targets.length]);
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
