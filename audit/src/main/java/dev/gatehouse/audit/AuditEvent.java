package dev.gatehouse.audit;

import java.util.Objects;

/**
 * One link of a hash chain: an {@link EventBody} placed at position {@code seq} of chain {@code
 * chainId}, after the event whose hash is {@code prevHash}.
 *
 * <p>{@code hash} is SHA-256 over the canonical encoding of chain id, seq, previous hash and every
 * body field (see {@link CanonicalEncoding}); the first event of a chain has seq 1 and {@link
 * #GENESIS} as its previous hash. A record read back from a store carries the hash the store holds,
 * which may not match its contents any more: {@link #hashMatches()} tells, {@link AuditVerifier}
 * checks whole chains. Immutable.
 */
public record AuditEvent(String chainId, long seq, String prevHash, EventBody body, String hash) {
  /** The previous hash of the first event of every chain. */
  public static final String GENESIS = "0".repeat(64);

  public AuditEvent {
    Objects.requireNonNull(chainId, "chainId == null");
    Objects.requireNonNull(prevHash, "prevHash == null");
    Objects.requireNonNull(body, "body == null");
    Objects.requireNonNull(hash, "hash == null");
  }

  /** Places a body in a chain and computes its hash. */
  public static AuditEvent seal(String chainId, long seq, String prevHash, EventBody body) {
    if (seq < 1) throw new IllegalArgumentException("seq < 1");
    return new AuditEvent(chainId, seq, prevHash, body, CanonicalEncoding.eventHash(chainId, seq, prevHash, body));
  }

  /** The event's unique id: {@code <chainId>:<seq>}. */
  public String id() {
    return id(chainId, seq);
  }

  public static String id(String chainId, long seq) {
    return chainId + ":" + seq;
  }

  public EventType type() {
    return body.type();
  }

  /** The hash recomputed from this record's contents. */
  public String computeHash() {
    return CanonicalEncoding.eventHash(chainId, seq, prevHash, body);
  }

  /** Whether the stored hash matches the contents: false means the event was altered. */
  public boolean hashMatches() {
    return computeHash().equals(hash);
  }
}
