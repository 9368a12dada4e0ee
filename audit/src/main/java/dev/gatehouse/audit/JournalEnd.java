package dev.gatehouse.audit;

import java.util.Objects;

/**
 * The last event a stopped gateway's journal holds for one chain: what its process acknowledged,
 * read outside the store. The store must hold that event, with that hash: a store holding another
 * one there was altered while the gateway was stopped, before its next start signed the journal's
 * end (red-team round 24: a forged, re-hashed tail verified as consistent until the restart).
 *
 * @param source where it was read (the node's journal folder), for the report
 */
public record JournalEnd(String chainId, long seq, String hash, String source) {
  public JournalEnd {
    Objects.requireNonNull(chainId, "chainId == null");
    Objects.requireNonNull(hash, "hash == null");
    Objects.requireNonNull(source, "source == null");
  }
}
