package dev.gatehouse.postgres;

import java.util.Locale;

/**
 * What became of a CancelRequest that reached this node's listener; counted per outcome ({@link
 * PostgresGateway#cancelRequests}) so an operator sees a cluster's misrouted or failing cancels.
 */
public enum CancelOutcome {
  /** The key is this node's: the request went on to the session's target. */
  LOCAL,
  /** The key is a peer's: the request was passed on to it. */
  PASSED_ON,
  /** The key is a peer's, but the peer could not be reached (or its certificate did not verify). */
  PASS_ON_FAILED,
  /** The key names this node, but no live session has it (ended, or a guess). */
  UNKNOWN_KEY,
  /** The key names a node that is not among this node's peers. */
  UNKNOWN_NODE,
  /** A peer passed on a request for another node than this one: that peer's {@code node.peers} is wrong. */
  MISROUTED;

  /** The metric tag's value: the name in lower case. */
  public String tag() {
    return name().toLowerCase(Locale.ROOT);
  }
}
