package dev.gatehouse.postgres;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import java.util.Optional;

/**
 * How many connections from one source are in startup at once, and the cap on it ({@link
 * PostgresListenerConfig#maxStartupsPerSource()}): without it, one client that opens connections and
 * sends nothing holds every startup slot until its timeouts pass, and nobody else can log in or
 * cancel a query. A source is an IPv4 address, or an IPv6 /64 (what one host or one customer of a
 * provider usually holds). Behind a trusted load balancer the source is the client the PROXY header
 * names, counted once the header has been read.
 *
 * <p>Thread-safe: the acceptor takes slots, the startup threads release them.
 */
final class StartupSources {
  private final int max;
  private final Map<String, Integer> starting = new HashMap<>();

  /** @param max connections from one source in startup at once */
  StartupSources(int max) {
    if (max < 1) throw new IllegalArgumentException("max < 1: " + max);
    this.max = max;
  }

  /**
   * Takes a slot for a connection from {@code address}: the handle that gives it back (call it once,
   * when the connection's startup ends), or empty when that source has {@code max} in startup.
   */
  synchronized Optional<Runnable> take(InetAddress address) {
    String source = sourceOf(address);
    int n = starting.getOrDefault(source, 0);
    if (n >= max) return Optional.empty();
    starting.put(source, n + 1);
    return Optional.of(new Runnable() {
      private boolean given;

      @Override
      public void run() {
        synchronized (StartupSources.this) {
          if (given) return;
          given = true;
          starting.computeIfPresent(source, (s, count) -> count == 1 ? null : count - 1);
        }
      }
    });
  }

  /** Connections in startup from the source of {@code address} (tests). */
  synchronized int starting(InetAddress address) {
    return starting.getOrDefault(sourceOf(address), 0);
  }

  /** An IPv4 address, or the first 64 bits of an IPv6 one, in hex. */
  private static String sourceOf(InetAddress address) {
    byte[] bytes = address.getAddress();
    return HexFormat.of().formatHex(bytes, 0, address instanceof Inet4Address ? bytes.length : 8);
  }
}
