package dev.gatehouse.store;

import dev.gatehouse.audit.AuditEvent;
import dev.gatehouse.audit.AuditException;
import dev.gatehouse.audit.AuditStore;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.HexFormat;
import java.util.Optional;

/**
 * A row of {@code audit_events} as read: its chain id (by the row's chain number), position, first
 * and last seq, and its {@link EventBlock}, decoded once. Its events are read as the rows hold them,
 * without repair: entry {@code i} is seq {@code firstSeq + i}, its hash is the stored one and the rest
 * comes from its canonical bytes, so an edit of any of them yields an event that no longer matches
 * its hash. An entry without bytes, bytes that do not decode, or a block that does not decode at all
 * read as unreadable ({@link AuditException#unreadable}, at the entry's seq, or the block's first
 * seq), which the verifier reports as edited. Not thread-safe (one reader's).
 */
final class StoredBlock {
  /** What {@link #read} maps. */
  static final String SELECT = "SELECT c.chain_id, e.pos, e.first_seq, e.last_seq, e.block FROM audit_events e"
      + " JOIN audit_chains c ON c.id = e.chain";

  final String chainId;
  final long pos;
  final long firstSeq;
  /** As the row says: only for lookups (the events are those the block holds). */
  final long lastSeq;
  private final Optional<EventBlock> block;

  private StoredBlock(String chainId, long pos, long firstSeq, long lastSeq, Optional<EventBlock> block) {
    this.chainId = chainId;
    this.pos = pos;
    this.firstSeq = firstSeq;
    this.lastSeq = lastSeq;
    this.block = block;
  }

  /** Maps a row of {@link #SELECT}. */
  static StoredBlock read(ResultSet rs) throws SQLException {
    return new StoredBlock(rs.getString(1), rs.getLong(2), rs.getLong(3), rs.getLong(4), EventBlock.decode(rs.getBytes(5)));
  }

  /** Whether the block decodes; one that does not holds no event that can be read. */
  boolean readable() {
    return block.isPresent();
  }

  /** Its entries: 0 when it does not decode. */
  int count() {
    return block.map(EventBlock::count).orElse(0);
  }

  long seq(int i) {
    return firstSeq + i;
  }

  /** The entry holding {@code seq}, or -1. */
  int indexOf(long seq) {
    long i = seq - firstSeq;
    return i >= 0 && i < count() ? (int) i : -1;
  }

  /** The reason it holds no readable event, at its first seq: for a block that does not decode. */
  AuditException unreadable() {
    return AuditException.unreadable(chainId, firstSeq, "the block of events " + firstSeq + ".." + lastSeq + " does not decode",
        new IllegalArgumentException("not a block of format " + EventBlock.FORMAT));
  }

  /** The event of entry {@code i}; throws {@link AuditException#unreadable} when it cannot be read. */
  AuditEvent event(int i) {
    EventBlock b = block.orElseThrow(this::unreadable);
    long seq = seq(i);
    try {
      byte[] bytes = b.event(i).orElseThrow(() -> new IllegalArgumentException("the row holds no event bytes"));
      return AuditStore.fromCanonicalBytes(chainId, bytes, HexFormat.of().formatHex(b.hash(i))).at(chainId, seq);
    } catch (RuntimeException e) {
      throw AuditException.unreadable(chainId, seq, e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage(), e);
    }
  }

  /** The event of entry {@code i}, empty when it cannot be read. */
  Optional<AuditEvent> readableEvent(int i) {
    try {
      return Optional.of(event(i));
    } catch (AuditException unreadable) {
      return Optional.empty();
    }
  }

  /** Whether a search's names may occur in the entry's bytes (see {@link SearchIndex#mayMatch}). */
  boolean mayMatch(SearchIndex.Needles needles, int i) {
    EventBlock b = block.orElseThrow();
    return SearchIndex.mayMatch(needles, b.bytes(), b.eventAt(i), b.eventLength(i));
  }

  /** Whether a search's names may occur in any of its events (false when it does not decode). */
  boolean mayMatch(SearchIndex.Needles needles) {
    return block.isPresent() && SearchIndex.mayMatch(needles, block.get().bytes());
  }
}
