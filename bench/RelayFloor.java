import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.Iterator;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * The floor of a TCP relay written in Java on this machine: bytes copied between a client and a
 * target, nothing decoded, nothing audited. bench/relay-floor.sh runs pgbench through it, in each
 * threading model, next to haproxy, and reports each relay's CPU per transaction: what Gatehouse's
 * own work is measured against, and what a change of threading model could win at most.
 *
 * <pre>java bench/RelayFloor.java MODE LISTEN_PORT TARGET_PORT</pre>
 *
 * MODE: {@code platform} (a blocking platform thread per direction), {@code virtual} (a virtual
 * thread per direction) or {@code nio} (one selector thread for every connection, non-blocking).
 * Loopback only; a benchmark probe, not a product.
 */
public final class RelayFloor {
  public static void main(String[] args) throws IOException {
    String mode = args[0];
    int port = Integer.parseInt(args[1]);
    int target = Integer.parseInt(args[2]);
    InetAddress loopback = InetAddress.getLoopbackAddress();
    if (mode.equals("nio")) {
      nio(new InetSocketAddress(loopback, port), new InetSocketAddress(loopback, target));
      return;
    }
    boolean virtual = mode.equals("virtual");
    if (!virtual && !mode.equals("platform")) throw new IllegalArgumentException("mode: platform, virtual or nio");
    try (ServerSocket server = new ServerSocket(port, 512, loopback)) {
      while (true) {
        Socket client = server.accept();
        Socket backend = new Socket(loopback, target);
        client.setTcpNoDelay(true);
        backend.setTcpNoDelay(true);
        Thread.Builder builder = virtual ? Thread.ofVirtual() : Thread.ofPlatform().daemon();
        builder.start(() -> pump(client, backend));
        builder.start(() -> pump(backend, client));
      }
    }
  }

  private static void pump(Socket from, Socket to) {
    byte[] buf = new byte[64 * 1024];
    try {
      InputStream in = from.getInputStream();
      OutputStream out = to.getOutputStream();
      int n;
      while ((n = in.read(buf)) > 0) out.write(buf, 0, n);
    } catch (IOException e) {
      // the other side went away
    } finally {
      close(from);
      close(to);
    }
  }

  private static void nio(InetSocketAddress listen, InetSocketAddress target) throws IOException {
    Selector selector = Selector.open();
    ConcurrentLinkedQueue<SocketChannel[]> fresh = new ConcurrentLinkedQueue<>();
    Thread.ofPlatform().daemon().start(() -> {
      try (ServerSocketChannel server = ServerSocketChannel.open()) {
        server.bind(listen, 512);
        while (true) {
          SocketChannel client = server.accept();
          SocketChannel backend = SocketChannel.open(target);
          for (SocketChannel c : new SocketChannel[] {client, backend}) {
            c.setOption(StandardSocketOptions.TCP_NODELAY, true);
            c.configureBlocking(false);
          }
          fresh.add(new SocketChannel[] {client, backend});
          selector.wakeup();
        }
      } catch (IOException e) {
        throw new RuntimeException(e);
      }
    });
    ByteBuffer buf = ByteBuffer.allocateDirect(64 * 1024);
    while (true) {
      selector.select();
      for (SocketChannel[] pair; (pair = fresh.poll()) != null; ) {
        pair[0].register(selector, SelectionKey.OP_READ, pair[1]);
        pair[1].register(selector, SelectionKey.OP_READ, pair[0]);
      }
      Iterator<SelectionKey> keys = selector.selectedKeys().iterator();
      while (keys.hasNext()) {
        SelectionKey key = keys.next();
        keys.remove();
        SocketChannel in = (SocketChannel) key.channel();
        SocketChannel out = (SocketChannel) key.attachment();
        buf.clear();
        int n;
        try {
          n = in.read(buf);
          buf.flip();
          // pgbench's messages are small: a full socket buffer is not expected, so spin rather
          // than register for OP_WRITE (a probe's simplification).
          while (buf.hasRemaining()) out.write(buf);
        } catch (IOException e) {
          n = -1;
        }
        if (n < 0) {
          key.cancel();
          close(in);
          close(out);
        }
      }
    }
  }

  private static void close(java.io.Closeable c) {
    try {
      c.close();
    } catch (IOException e) {
      // closing is all we wanted
    }
  }
}
