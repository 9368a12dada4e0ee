package dev.gatehouse.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gatehouse.core.Blocking;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The event loop on real loopback sockets, with one selector (one leader at a time), so that a
 * handler that waits would stall every other channel if the loop did not hand itself on.
 */
class RelayLoopTest {
  private RelayLoop loop;
  private ServerSocketChannel server;
  private final List<SocketChannel> opened = new ArrayList<>();

  @BeforeEach
  void start() throws IOException {
    // Only a handler that waits unannounced is ever this slow, even on a busy machine.
    loop = new RelayLoop("test-loop", 1, TimeUnit.SECONDS.toNanos(2));
    server = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
  }

  @AfterEach
  void stop() throws IOException {
    loop.close();
    for (SocketChannel c : opened) c.close();
    server.close();
  }

  @Test
  void aHandlerThatSaysItWaitsLetsTheOtherChannelsOfItsLoopRun() throws Exception {
    assertThat(oneWaitsForTheOther(true)).isTrue();
    assertThat(loop.stalls()).as("an announced wait is no stall").isZero();
  }

  @Test
  void aHandlerThatWaitsWithoutSayingSoIsTakenOverByTheWatchdog() throws Exception {
    assertThat(oneWaitsForTheOther(false)).isTrue();
    assertThat(loop.stalls()).isEqualTo(1);
  }

  @Test
  void aHandlerThatWaitsUnannouncedInItsFirstRunAtRegistrationIsTakenOverToo() throws Exception {
    // The first run happens in the task that registers the channel, before the loop ever selected.
    RelayLoop.Group group = loop.group();
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch released = new CountDownLatch(1);
    CountDownLatch waiterDone = new CountDownLatch(1);
    SocketChannel[] waiting = pair();
    SocketChannel[] releasing = pair();
    send(waiting[0]); // there before the registration: its first run reads it, and waits
    group.register(waiting[1], reading(waiting[1], () -> {
      started.countDown();
      await(released);
      waiterDone.countDown();
    }));
    assertThat(started.await(20, TimeUnit.SECONDS)).isTrue();
    group.register(releasing[1], reading(releasing[1], released::countDown));
    send(releasing[0]);
    assertThat(waiterDone.await(20, TimeUnit.SECONDS)).isTrue();
    assertThat(loop.stalls()).isEqualTo(1);
  }

  /**
   * Two channels of one group: the first one's handler waits until the second one's runs, which
   * only happens if the loop has another leader meanwhile.
   *
   * @param announce whether the waiting handler says so ({@link Blocking#aboutToBlock()})
   * @return whether the wait ended
   */
  private boolean oneWaitsForTheOther(boolean announce) throws Exception {
    RelayLoop.Group group = loop.group();
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch released = new CountDownLatch(1);
    CountDownLatch waiterDone = new CountDownLatch(1);
    SocketChannel[] waiting = pair();
    SocketChannel[] releasing = pair();
    group.register(waiting[1], reading(waiting[1], () -> {
      started.countDown();
      if (announce) Blocking.aboutToBlock();
      await(released);
      waiterDone.countDown();
    }));
    group.register(releasing[1], reading(releasing[1], released::countDown));

    send(waiting[0]);
    assertThat(started.await(20, TimeUnit.SECONDS)).isTrue();
    send(releasing[0]);
    return waiterDone.await(20, TimeUnit.SECONDS);
  }

  @Test
  void aChannelsHandlerNeverRunsOnTwoThreadsAtOnceAndRunsAgainForWhatArrivedMeanwhile() throws Exception {
    RelayLoop.Group group = loop.group();
    CountDownLatch firstRunWaiting = new CountDownLatch(1);
    CountDownLatch released = new CountDownLatch(1);
    AtomicInteger inside = new AtomicInteger();
    AtomicInteger overlaps = new AtomicInteger();
    AtomicInteger bytes = new AtomicInteger();
    SocketChannel[] c = pair();
    ByteBuffer into = ByteBuffer.allocate(64);
    group.register(c[1], () -> {
      if (inside.incrementAndGet() > 1) overlaps.incrementAndGet();
      try {
        into.clear();
        int n = c[1].read(into);
        if (n > 0 && bytes.addAndGet(n) == 1) {
          firstRunWaiting.countDown();
          Blocking.aboutToBlock();
          await(released);
        }
        return n >= 0;
      } catch (IOException e) {
        return false;
      } finally {
        inside.decrementAndGet();
      }
    });

    send(c[0]);
    assertThat(firstRunWaiting.await(20, TimeUnit.SECONDS)).isTrue();
    send(c[0]); // ready while its handler waits: muted, not run beside it
    Thread.sleep(100);
    assertThat(bytes.get()).isEqualTo(1);
    released.countDown();

    assertThat(GatewayHarness.eventually(() -> bytes.get() == 2)).isTrue();
    assertThat(overlaps.get()).isZero();
  }

  @Test
  void aPokedHandlerRunsWithoutBytesAndAHandlerThatIsDoneNeverRunsAgain() throws Exception {
    RelayLoop.Group group = loop.group();
    AtomicInteger runs = new AtomicInteger();
    SocketChannel[] c = pair();
    RelayLoop.Pump pump = group.register(c[1], () -> runs.incrementAndGet() < 2);
    assertThat(GatewayHarness.eventually(() -> runs.get() == 1)).isTrue(); // the first run, at registration

    pump.poke();
    assertThat(GatewayHarness.eventually(() -> runs.get() == 2)).isTrue(); // returned false: done
    pump.poke();
    send(c[0]);
    Thread.sleep(200);
    assertThat(runs.get()).isEqualTo(2);
  }

  @Test
  void ofTheChannelsReadyAtOnceTheClientSidesAreHandledFirst() throws Exception {
    RelayLoop.Group group = loop.group();
    List<String> order = java.util.Collections.synchronizedList(new ArrayList<>());
    SocketChannel[][] targets = {pair(), pair(), pair()};
    SocketChannel[][] clients = {pair(), pair(), pair()};
    for (int i = 0; i < 3; i++) {
      String t = "target-" + i, c = "client-" + i;
      group.register(targets[i][1], reading(targets[i][1], () -> order.add(t)), false);
      group.register(clients[i][1], reading(clients[i][1], () -> order.add(c)), true);
    }
    CountDownLatch registered = new CountDownLatch(1);
    group.execute(registered::countDown); // the registrations are tasks too, queued before this one
    await(registered);
    // Hold the leader in a task while bytes arrive, target sides first, so that one select finds all six ready.
    CountDownLatch held = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    group.execute(() -> {
      held.countDown();
      await(release);
    });
    await(held);
    for (SocketChannel[] p : targets) send(p[0]);
    for (SocketChannel[] p : clients) send(p[0]);
    Thread.sleep(200); // loopback delivers at once; this is margin
    release.countDown();

    assertThat(GatewayHarness.eventually(() -> order.size() == 6)).isTrue();
    assertThat(order.subList(0, 3)).containsExactlyInAnyOrder("client-0", "client-1", "client-2");
    assertThat(order.subList(3, 6)).containsExactlyInAnyOrder("target-0", "target-1", "target-2");
  }

  /** A handler that reads what the channel has, then runs {@code onBytes}; done at end of stream. */
  private static RelayLoop.Handler reading(SocketChannel channel, Runnable onBytes) {
    ByteBuffer into = ByteBuffer.allocate(64);
    return () -> {
      try {
        into.clear();
        int n = channel.read(into);
        if (n > 0) onBytes.run();
        return n >= 0;
      } catch (IOException e) {
        return false;
      }
    };
  }

  /** A connected pair: [0] blocking, the test's end; [1] non-blocking, for the loop. */
  private SocketChannel[] pair() throws IOException {
    SocketChannel client = SocketChannel.open(server.getLocalAddress());
    SocketChannel accepted = server.accept();
    accepted.configureBlocking(false);
    opened.add(client);
    opened.add(accepted);
    return new SocketChannel[] {client, accepted};
  }

  private static void send(SocketChannel channel) throws IOException {
    channel.write(ByteBuffer.wrap(new byte[] {1}));
  }

  private static void await(CountDownLatch latch) {
    try {
      if (!latch.await(20, TimeUnit.SECONDS)) throw new IllegalStateException("never released");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
