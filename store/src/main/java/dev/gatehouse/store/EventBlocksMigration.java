package dev.gatehouse.store;

import dev.gatehouse.audit.AuditStore;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.flywaydb.core.api.migration.Context;

/**
 * Schema version 6: a row of {@code audit_events} holds a block of events rather than one, so the
 * audit writer pays a row, an index entry and four bound values per block ({@link EventBlockWriter};
 * under pgbench the per-event rows of version 5 cost the gateway about 5.7 us of CPU per
 * transaction, mostly SQLite's b-tree work). The table becomes:
 *
 * <pre>
 * audit_events (pos       storage order (identity / rowid),
 *               chain     its chain's number (audit_chains),
 *               first_seq the seq of its first event,
 *               last_seq  the seq of its last event (for lookups),
 *               block     the events ({@link EventBlock}): per event its hash and canonical bytes)
 * index audit_events_chain_seq (chain, first_seq), not unique
 * </pre>
 *
 * A block holds up to {@link EventBlockWriter#BLOCK_EVENTS} consecutive events of one chain; its
 * events' seqs are {@code first_seq}, {@code first_seq + 1}, ... The index is not unique: it never
 * kept overlapping blocks out (a block 5..6 beside one 1..10 passes it), and a version-5 store whose
 * unique index was dropped may hold two rows of one seq, which must be carried over, not refused. The
 * search tables name buckets of {@value SearchIndex#BUCKET_BLOCKS} blocks, so they are rebuilt.
 *
 * <p>Written in Java because every version-5 row is carried over as version 5 read it, in order:
 * rows of one chain with consecutive seqs, in storage order, become blocks (another chain, a seq that
 * does not follow, or a full block starts a new one), each row's stored hash bytes and canonical
 * bytes copied unchanged. Nothing is repaired: a row without bytes (one that did not read as an
 * event) becomes an entry without bytes (still unreadable, reported as edited), an edited row keeps
 * its bytes and hash (it still fails its hash), a hash that was not lower-case hex keeps its bytes
 * (it still matches nothing), and duplicate or reordered rows stay duplicate or reordered. One
 * transaction: all or nothing.
 */
final class EventBlocksMigration extends StoreMigration {
  private static final int FETCH = 1000;
  /** Blocks per executed batch: each may be a few hundred KiB, and a batch holds them until it is executed. */
  private static final int BATCH = 16;

  EventBlocksMigration(Dialect dialect) {
    super(dialect, 6, "audit events in blocks of consecutive events");
  }

  @Override
  public void migrate(Context context) throws Exception {
    Connection c = context.getConnection();
    String bytes = bytesType();
    String identity = identityType();
    try (Statement s = c.createStatement()) {
      s.execute("CREATE TABLE audit_events_v6 (pos " + identity + ", chain BIGINT NOT NULL, first_seq BIGINT NOT NULL, "
          + "last_seq BIGINT NOT NULL, block " + bytes + " NOT NULL)");
      // Rebuilt for the blocks' positions (version 5's buckets were of rows).
      s.execute("DROP TABLE audit_search_terms");
      s.execute("DROP TABLE audit_search_times");
      createSearchTables(s);
    }
    copy(c);
    try (Statement s = c.createStatement()) {
      s.execute("DROP TABLE audit_events");
      s.execute("ALTER TABLE audit_events_v6 RENAME TO audit_events");
      s.execute("CREATE INDEX audit_events_chain_seq ON audit_events (chain, first_seq)");
      continuePositions(s);
      for (String table : List.of("audit_events", "audit_search_terms", "audit_search_times")) appendOnly(s, table);
    }
  }

  /** The version-5 rows, in storage order, as blocks at positions 1, 2, ..., and the search index of their events. */
  private void copy(Connection c) throws SQLException {
    String insert = "INSERT INTO audit_events_v6 (pos, chain, first_seq, last_seq, block)"
        + (dialect == Dialect.POSTGRESQL ? " OVERRIDING SYSTEM VALUE" : "") + " VALUES (?, ?, ?, ?, ?)";
    try (PreparedStatement read = c.prepareStatement("SELECT chain, seq, hash, event FROM audit_events ORDER BY pos");
        PreparedStatement write = c.prepareStatement(insert);
        PreparedStatement terms = c.prepareStatement(SearchIndex.INSERT_TERM);
        PreparedStatement times = c.prepareStatement(SearchIndex.INSERT_TIME)) {
      read.setFetchSize(FETCH);
      Blocks blocks = new Blocks(write, terms, times);
      try (ResultSet rs = read.executeQuery()) {
        while (rs.next()) blocks.add(rs.getLong(1), rs.getLong(2), rs.getBytes(3), rs.getBytes(4));
      }
      blocks.finish();
    }
  }

  /** Gathers rows into blocks and writes them, with the search terms of each bucket of blocks. */
  private static final class Blocks {
    private final PreparedStatement write;
    private final PreparedStatement terms;
    private final PreparedStatement times;
    private final SearchIndex.Terms bucketTerms = new SearchIndex.Terms();
    private final List<byte[]> hashes = new ArrayList<>();
    private final List<byte[]> events = new ArrayList<>();
    private long chain;
    private long firstSeq;
    private long pos;
    private int pending;

    Blocks(PreparedStatement write, PreparedStatement terms, PreparedStatement times) {
      this.write = write;
      this.terms = terms;
      this.times = times;
    }

    void add(long rowChain, long seq, byte[] hash, byte[] event) throws SQLException {
      boolean follows = !hashes.isEmpty() && rowChain == chain && seq == firstSeq + hashes.size()
          && hashes.size() < EventBlockWriter.BLOCK_EVENTS;
      if (!follows) {
        flushBlock();
        chain = rowChain;
        firstSeq = seq;
      }
      hashes.add(hash);
      events.add(event);
      if (event != null) {
        try {
          bucketTerms.add(AuditStore.fromCanonicalBytes(event));
        } catch (RuntimeException unreadable) {
          // Bytes that do not decode: no terms (version 5 searched past it too).
        }
      }
    }

    private void flushBlock() throws SQLException {
      if (hashes.isEmpty()) return;
      pos++;
      write.setLong(1, pos);
      write.setLong(2, chain);
      write.setLong(3, firstSeq);
      write.setLong(4, firstSeq + hashes.size() - 1);
      write.setBytes(5, EventBlock.encode(hashes, events));
      write.addBatch();
      hashes.clear();
      events.clear();
      if (++pending == BATCH) {
        write.executeBatch();
        pending = 0;
      }
      // The terms of a block's events go to its bucket; a bucket's are written when it is full.
      if (pos % SearchIndex.BUCKET_BLOCKS == SearchIndex.BUCKET_BLOCKS - 1) flushTerms(SearchIndex.bucket(pos));
    }

    private void flushTerms(long bucket) throws SQLException {
      if (bucketTerms.isEmpty()) return;
      bucketTerms.addTo(terms, times, bucket, bucket);
      terms.executeBatch();
      times.executeBatch();
      bucketTerms.clear();
    }

    void finish() throws SQLException {
      flushBlock();
      if (pending > 0) write.executeBatch();
      flushTerms(SearchIndex.bucket(pos));
    }
  }
}
