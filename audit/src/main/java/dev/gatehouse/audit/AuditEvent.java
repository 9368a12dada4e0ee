package dev.gatehouse.audit;

import java.util.Objects;

/**
 * One link of a hash chain: an {@link EventBody} placed at position {@code seq} of chain {@code
 * chainId}, after the event whose hash is {@code prevHash}.
 *
 * <p>{@code hash} is SHA-256 over the canonical encoding of chain id, seq, previous hash and every
 * body field, in the event's {@code format} (see {@link CanonicalEncoding}: 1 for events written
 * before v2, 2 for new ones); the first event of a chain has seq 1 and {@link #GENESIS} as its
 * previous hash. A record read back from a store carries the hash the store holds, which may not
 * match its contents any more: {@link #hashMatches()} tells, {@link AuditVerifier} checks whole
 * chains. Immutable.
 */
public record AuditEvent(String chainId, long seq, String prevHash, EventBody body, String hash, int format) {
  /** The previous hash of the first event of every chain. */
  public static final String GENESIS = "0".repeat(64);
  /** The format of events written before format 2 (stores and journals upgraded from then hold them). */
  public static final int FORMAT_V1 = CanonicalEncoding.FORMAT_V1;
  /** The format new events are sealed in. */
  public static final int CURRENT_FORMAT = CanonicalEncoding.CURRENT_FORMAT;

  public AuditEvent {
    Objects.requireNonNull(chainId, "chainId == null");
    Objects.requireNonNull(prevHash, "prevHash == null");
    Objects.requireNonNull(body, "body == null");
    Objects.requireNonNull(hash, "hash == null");
    if (format != CanonicalEncoding.FORMAT_V1 && format != CanonicalEncoding.FORMAT_V2) {
      throw new IllegalArgumentException("no event format " + format);
    }
  }

  /** An event in the current format. */
  public AuditEvent(String chainId, long seq, String prevHash, EventBody body, String hash) {
    this(chainId, seq, prevHash, body, hash, CURRENT_FORMAT);
  }

  /** Places a body in a chain and computes its hash, in the current format. */
  public static AuditEvent seal(String chainId, long seq, String prevHash, EventBody body) {
    if (seq < 1) throw new IllegalArgumentException("seq < 1");
    return new AuditEvent(chainId, seq, prevHash, body, CanonicalEncoding.eventHash(CURRENT_FORMAT, chainId, seq, prevHash, body));
  }

  /**
   * This record with the chain id and seq of where a store holds it (which its hash may not cover,
   * if the row was moved): the rest, its hash and format included, as they are.
   */
  public AuditEvent at(String chainId, long seq) {
    return new AuditEvent(chainId, seq, prevHash, body, hash, format);
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

  /**
   * The hash recomputed from this record's contents, in its format; a record that cannot be encoded
   * in it (a v2 event whose previous hash is not 64 hex digits: only an altered one) gets a value
   * no hash equals.
   */
  public String computeHash() {
    try {
      return CanonicalEncoding.eventHash(format, chainId, seq, prevHash, body);
    } catch (IllegalArgumentException unencodable) {
      return "(cannot be encoded: " + unencodable.getMessage() + ")";
    }
  }

  /** Whether the stored hash matches the contents: false means the event was altered. */
  public boolean hashMatches() {
    return computeHash().equals(hash);
  }
}
