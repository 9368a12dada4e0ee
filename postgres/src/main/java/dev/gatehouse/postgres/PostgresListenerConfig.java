package dev.gatehouse.postgres;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import javax.net.ssl.SSLContext;

/**
 * How a PostgreSQL listener accepts clients. Immutable value; checked when built, so a gateway
 * never starts with a listener that would serve tokens in clear over a network.
 *
 * @param bindHost address to bind ({@code 127.0.0.1}, {@code 0.0.0.0}, {@code ::1}, a host name)
 * @param port TCP port, 0 for an ephemeral one (tests)
 * @param tls the server certificate context for client TLS; empty means plaintext only, which is
 *     allowed only on a loopback address (the token travels as the password)
 * @param requireTls refuse StartupMessages that did not come over TLS (cancel requests are still
 *     accepted in clear, as libpq before version 17 sends them that way)
 * @param proxyProtocolFrom addresses of trusted load balancers whose connections start with a PROXY
 *     protocol v2 header; from any other address a header is not expected and not honoured
 * @param startupTimeout how long a client may take from connect to the end of authentication
 * @param maxMessageLength the longest message accepted from a client after startup
 * @param maxStartupLength the longest startup packet accepted (PostgreSQL's own cap is 10,000)
 * @param nodeId 0..255, the top byte of every cancel key this node mints, so a cluster can route a
 *     cancel request to the node holding the session
 * @param maxStartups connections that may be in startup at once (each holds a platform thread
 *     until it is admitted, refused or times out); more are refused with {@code 53300}
 * @param maxStartupsPerSource connections from one source (an IPv4 address, an IPv6 /64; behind a
 *     trusted load balancer, the client its PROXY header names) in startup at once; more from it are
 *     refused with {@code 53300}, so one client cannot take every startup slot
 * @param peers the other nodes of the cluster by node id: a cancel request for a key one of them
 *     minted is passed on to it (none: such requests are dropped, as are those of unknown nodes)
 */
public record PostgresListenerConfig(
    String bindHost,
    int port,
    Optional<SSLContext> tls,
    boolean requireTls,
    Set<String> proxyProtocolFrom,
    Duration startupTimeout,
    int maxMessageLength,
    int maxStartupLength,
    int nodeId,
    int maxStartups,
    int maxStartupsPerSource,
    Map<Integer, PeerNode> peers) {

  public static final int DEFAULT_PORT = 15432;
  public static final Duration DEFAULT_STARTUP_TIMEOUT = Duration.ofSeconds(10);
  public static final int DEFAULT_MAX_MESSAGE_LENGTH = 64 * 1024 * 1024;
  public static final int DEFAULT_MAX_STARTUP_LENGTH = 10_000;
  public static final int DEFAULT_MAX_STARTUPS = 512;
  public static final int DEFAULT_MAX_STARTUPS_PER_SOURCE = 64;
  /** The most {@code maxStartups} may be: each startup holds a platform thread. */
  public static final int MAX_MAX_STARTUPS = 65_536;

  public PostgresListenerConfig {
    Objects.requireNonNull(bindHost, "bindHost == null");
    Objects.requireNonNull(tls, "tls == null");
    proxyProtocolFrom = Set.copyOf(proxyProtocolFrom);
    Objects.requireNonNull(startupTimeout, "startupTimeout == null");
    if (bindHost.isBlank()) throw new IllegalArgumentException("bindHost is blank");
    if (port < 0 || port > 65535) throw new IllegalArgumentException("port out of range 0..65535: " + port);
    if (startupTimeout.isNegative() || startupTimeout.isZero()) {
      throw new IllegalArgumentException("startupTimeout <= 0");
    }
    if (maxMessageLength < 1024) throw new IllegalArgumentException("maxMessageLength < 1024: " + maxMessageLength);
    if (maxStartupLength < 8 || maxStartupLength > 1_000_000) {
      throw new IllegalArgumentException("maxStartupLength out of range 8..1000000: " + maxStartupLength);
    }
    if (nodeId < 0 || nodeId > 255) throw new IllegalArgumentException("nodeId out of range 0..255: " + nodeId);
    if (maxStartups < 1 || maxStartups > MAX_MAX_STARTUPS) {
      throw new IllegalArgumentException("maxStartups out of range 1.." + MAX_MAX_STARTUPS + ": " + maxStartups);
    }
    if (maxStartupsPerSource < 1 || maxStartupsPerSource > maxStartups) {
      throw new IllegalArgumentException(
          "maxStartupsPerSource out of range 1.." + maxStartups + " (maxStartups): " + maxStartupsPerSource);
    }
    peers = Map.copyOf(peers);
    for (Map.Entry<Integer, PeerNode> peer : peers.entrySet()) {
      if (peer.getKey() != peer.getValue().id()) {
        throw new IllegalArgumentException("peer " + peer.getValue().id() + " listed under node id " + peer.getKey());
      }
      if (peer.getKey() == nodeId) {
        throw new IllegalArgumentException("node " + nodeId + " lists itself among its peers");
      }
    }
    if (requireTls && tls.isEmpty()) {
      throw new IllegalArgumentException("requireTls is set but no TLS context is configured");
    }
    if (tls.isEmpty() && !isLoopback(bindHost)) {
      // The token is the password: in clear it may cross only the loopback interface.
      throw new IllegalArgumentException(
          "listener " + bindHost + ":" + port + " has no TLS, and plaintext is allowed only on a loopback address");
    }
  }

  /**
   * As above, without peers (a single node), with at most {@link #DEFAULT_MAX_STARTUPS_PER_SOURCE}
   * (or {@code maxStartups}, when lower) from one source.
   */
  public PostgresListenerConfig(String bindHost, int port, Optional<SSLContext> tls, boolean requireTls,
      Set<String> proxyProtocolFrom, Duration startupTimeout, int maxMessageLength, int maxStartupLength,
      int nodeId, int maxStartups) {
    this(bindHost, port, tls, requireTls, proxyProtocolFrom, startupTimeout, maxMessageLength, maxStartupLength,
        nodeId, maxStartups, Math.min(maxStartups, DEFAULT_MAX_STARTUPS_PER_SOURCE), Map.of());
  }

  /** A plaintext listener on 127.0.0.1 with the defaults; for tests and the demo. */
  public static PostgresListenerConfig loopback(int port) {
    return new PostgresListenerConfig("127.0.0.1", port, Optional.empty(), false, Set.of(),
        DEFAULT_STARTUP_TIMEOUT, DEFAULT_MAX_MESSAGE_LENGTH, DEFAULT_MAX_STARTUP_LENGTH, 0, DEFAULT_MAX_STARTUPS);
  }

  /**
   * This configuration as node {@code id} of a cluster whose other nodes are {@code others}.
   *
   * @throws IllegalArgumentException when two peers share an id, or one has this node's id
   */
  public PostgresListenerConfig withNode(int id, Collection<PeerNode> others) {
    Map<Integer, PeerNode> byId = new HashMap<>();
    for (PeerNode peer : others) {
      if (byId.put(peer.id(), peer) != null) throw new IllegalArgumentException("two peers have node id " + peer.id());
    }
    return new PostgresListenerConfig(bindHost, port, tls, requireTls, proxyProtocolFrom,
        startupTimeout, maxMessageLength, maxStartupLength, id, maxStartups, maxStartupsPerSource, byId);
  }

  /** This configuration with another TLS setting. */
  public PostgresListenerConfig withTls(Optional<SSLContext> newTls, boolean newRequireTls) {
    return new PostgresListenerConfig(bindHost, port, newTls, newRequireTls, proxyProtocolFrom,
        startupTimeout, maxMessageLength, maxStartupLength, nodeId, maxStartups, maxStartupsPerSource, peers);
  }

  /** This configuration with another startup timeout. */
  public PostgresListenerConfig withStartupTimeout(Duration timeout) {
    return new PostgresListenerConfig(bindHost, port, tls, requireTls, proxyProtocolFrom,
        timeout, maxMessageLength, maxStartupLength, nodeId, maxStartups, maxStartupsPerSource, peers);
  }

  /**
   * This configuration with another limit of connections in startup at once (the limit per source
   * lowered to it when it was higher).
   */
  public PostgresListenerConfig withMaxStartups(int max) {
    return new PostgresListenerConfig(bindHost, port, tls, requireTls, proxyProtocolFrom,
        startupTimeout, maxMessageLength, maxStartupLength, nodeId, max, Math.min(max, maxStartupsPerSource), peers);
  }

  /** This configuration with another limit of connections from one source in startup at once. */
  public PostgresListenerConfig withMaxStartupsPerSource(int max) {
    return new PostgresListenerConfig(bindHost, port, tls, requireTls, proxyProtocolFrom,
        startupTimeout, maxMessageLength, maxStartupLength, nodeId, maxStartups, max, peers);
  }

  /** This configuration trusting PROXY protocol headers from these addresses. */
  public PostgresListenerConfig withProxyProtocolFrom(Set<String> addresses) {
    return new PostgresListenerConfig(bindHost, port, tls, requireTls, addresses,
        startupTimeout, maxMessageLength, maxStartupLength, nodeId, maxStartups, maxStartupsPerSource, peers);
  }

  /** Whether {@code host} is {@code localhost} or a literal loopback address (never resolved). */
  static boolean isLoopback(String host) {
    if (host.equalsIgnoreCase("localhost")) return true;
    try {
      // Literal addresses only: resolving a name here would make the check depend on DNS.
      if (!host.chars().allMatch(c -> Character.digit(c, 16) >= 0 || c == '.' || c == ':' || c == '[' || c == ']')) {
        return false;
      }
      return InetAddress.getByName(host.replace("[", "").replace("]", "")).isLoopbackAddress();
    } catch (UnknownHostException e) {
      return false;
    }
  }
}
