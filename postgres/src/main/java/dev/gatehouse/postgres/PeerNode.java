package dev.gatehouse.postgres;

import java.util.Objects;

/**
 * Another Gatehouse node of the same cluster, as this node reaches its PostgreSQL listener: where a
 * cancel request for a key that node minted is passed on (see docs/postgres.md, "Cancel requests").
 * Immutable value.
 *
 * <p>Behind a load balancer, a client's cancel request opens a new connection that may land on
 * any node; the key's top byte names the node holding the session, and only that node can act on
 * it. The request is passed on over a new connection, under Gatehouse's own request code (see
 * {@link dev.gatehouse.postgres.wire.CancelRequest#relayed()}), so it is passed on once at most.
 *
 * @param id the peer's {@code node.id}, 0..255
 * @param host host name or address of the peer's PostgreSQL listener
 * @param port its port
 * @param tls how the connection to it is protected; the cancel key is a secret, so {@link
 *     TargetTls.Mode#DISABLE} is allowed only towards a loopback address
 */
public record PeerNode(int id, String host, int port, TargetTls tls) {

  public PeerNode {
    Objects.requireNonNull(host, "host == null");
    Objects.requireNonNull(tls, "tls == null");
    if (id < 0 || id > 255) throw new IllegalArgumentException("peer id out of range 0..255: " + id);
    if (host.isBlank()) throw new IllegalArgumentException("peer host is blank");
    if (port < 1 || port > 65535) throw new IllegalArgumentException("peer port out of range 1..65535: " + port);
    if (!tls.enabled() && !PostgresListenerConfig.isLoopback(host)) {
      // Whoever reads a cancel key off the network can cancel that session's queries at will.
      throw new IllegalArgumentException("peer node " + id + " at " + host
          + " has TLS disabled, which is allowed only towards a loopback address: cancel keys are secrets");
    }
  }

  /** {@code host:port}, for logs (IPv6 literals in brackets). */
  public String address() {
    return PostgresTarget.address(host, port);
  }
}
