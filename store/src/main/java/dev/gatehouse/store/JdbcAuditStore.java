package dev.gatehouse.store;

import dev.gatehouse.audit.AuditEvent;
import dev.gatehouse.audit.AuditException;
import dev.gatehouse.audit.AuditQuery;
import dev.gatehouse.audit.AuditStore;
import dev.gatehouse.audit.Durability;
import dev.gatehouse.audit.SignedCheckpoint;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.PriorityQueue;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.stream.LongStream;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * {@link AuditStore} on SQLite or PostgreSQL (see {@link JdbcStore} for what durability means on
 * each). Events are stored in blocks: a row of {@code audit_events} holds a run of up to {@link
 * EventBlockWriter#BLOCK_EVENTS} consecutive events of one chain ({@link EventBlock}: each event's
 * hash and canonical bytes), with its chain's number, first and last seq, so the audit path pays a
 * row, its index entry and its bound values per block rather than per event ({@link
 * EventBlockWriter}); one row per checkpoint in {@code audit_checkpoints}. Searches find their blocks
 * through a coarse {@link SearchIndex} and match the decoded events in Java. Only INSERT and SELECT
 * are ever issued. An append is one transaction.
 *
 * <p>Reads return what the rows hold, without repair ({@link StoredBlock}): the event from its bytes,
 * its chain id (by the row's chain number), seq (the block's first seq plus its place) and hash from
 * the block, so an edit of any of them yields an event that no longer matches its hash, which the
 * verifier reports as edited (or as a broken link or order). Blocks that overlap yield every event
 * they hold ({@link #events} merges them by seq). An event that can no longer be read (bytes that do
 * not decode, or a block that does not) makes the read throw {@link AuditException#unreadable}, which
 * the verifier reports as an edited row; searches pass over it.
 *
 * <p>Storage order ({@link #tail}, {@link #after}) is the blocks' position, then the place within a
 * block. On PostgreSQL with several nodes, {@link #after} follows the insertion key, which concurrent
 * transactions may commit out of order: a follower can miss an event committed late (verification
 * is not affected). Thread-safe: appends are serialised on one connection kept for them (the audit
 * writer is the only appender); reads use the pool. One instance per store ({@link JdbcStore#audit()}).
 *
 * <p>Longer than 400 lines because it is the whole {@link AuditStore} port: append with its
 * transaction handling on each database, and the reads ({@code events}, {@code find}, {@code
 * search}, {@code tail}, {@code after}, checkpoints) that share one block mapping and one connection
 * discipline. Block writing ({@link EventBlockWriter}), block reading ({@link StoredBlock}) and
 * search matching ({@link SearchIndex}) are already apart.
 */
public final class JdbcAuditStore implements AuditStore {
  private static final String INSERT_CHECKPOINT =
      "INSERT INTO audit_checkpoints (chain_id, seq, hash, time_us, key_id, signature) VALUES (?, ?, ?, ?, ?, ?)";
  private static final String CHAIN = "(SELECT id FROM audit_chains WHERE chain_id = ?)";
  /** Blocks fetched at a time by a chain's read (on PostgreSQL, through a cursor). */
  private static final int FETCH = 16;
  /** Blocks read at most per query by {@code tail} and {@code after}, which stop once they have enough events. */
  private static final int PAGE = 8;

  private final JdbcStore store;
  private final ReentrantLock writeLock = new ReentrantLock();
  // Guarded by writeLock.
  private Connection writer;
  private EventBlockWriter blocks;
  private PreparedStatement insertCheckpoint;
  // SQLite only: the transaction statements, prepared once (see append).
  private PreparedStatement begin;
  private PreparedStatement commit;

  JdbcAuditStore(JdbcStore store) {
    this.store = store;
  }

  @Override
  public void append(List<AuditEvent> events, Optional<SignedCheckpoint> checkpoint) {
    append(events, null, null, checkpoint);
  }

  @Override
  public void append(List<AuditEvent> events, List<byte[]> canonical, List<byte[]> hashes, Optional<SignedCheckpoint> checkpoint) {
    if (canonical != null && canonical.size() != events.size()) throw new IllegalArgumentException("canonical.size() != events.size()");
    if (hashes != null && hashes.size() != events.size()) throw new IllegalArgumentException("hashes.size() != events.size()");
    if (events.isEmpty() && checkpoint.isEmpty()) return;
    writeLock.lock();
    try {
      Connection c = writer();
      boolean sqlite = store.dialect() == Dialect.SQLITE;
      // On SQLite the connection stays in autocommit mode and the transaction is written out:
      // the driver's setAutoCommit/commit pair runs four statements per batch (begin, commit,
      // begin, commit), each prepared anew; two prepared ones do the same work (bench/profile.sh:
      // 5% of the gateway's CPU under pgbench). BEGIN IMMEDIATE takes the write lock at once, as
      // the pool's transaction_mode does, and nothing stays open between batches.
      if (sqlite) begin.execute(); else c.setAutoCommit(false);
      try {
        blocks.insert(events, canonical, hashes);
        if (checkpoint.isPresent()) {
          SignedCheckpoint cp = checkpoint.get();
          insertCheckpoint.setString(1, cp.chainId());
          insertCheckpoint.setLong(2, cp.seq());
          insertCheckpoint.setString(3, cp.hash());
          insertCheckpoint.setLong(4, micros(cp.time()));
          insertCheckpoint.setString(5, cp.keyId());
          insertCheckpoint.setString(6, cp.signature());
          insertCheckpoint.executeUpdate();
        }
        if (sqlite) {
          commit.execute();
        } else {
          c.commit();
          // Back to autocommit between batches, so no transaction stays open.
          c.setAutoCommit(true);
        }
      } catch (SQLException | RuntimeException | Error e) {
        // Error too (the heap ran out mid-batch, red-team round 10): a transaction left open holds
        // the database's write lock, and every reader of the audit log then fails with SQLITE_BUSY.
        if (sqlite) rollbackSqlite(c, e); else rollback(c, e);
        closeWriter(); // a connection in an unknown state is not reused
        throw e;
      }
    } catch (SQLException e) {
      throw new StoreException("cannot append " + events.size() + " audit events to " + store.url() + ": " + e.getMessage(), e);
    } finally {
      writeLock.unlock();
    }
  }

  private static void rollbackSqlite(Connection c, Throwable cause) {
    try (var s = c.createStatement()) {
      s.execute("ROLLBACK");
    } catch (SQLException e) {
      cause.addSuppressed(e); // no transaction left open (the failure was BEGIN itself), or the connection is gone
    }
  }

  /**
   * The connection appends use, kept with its prepared statements: preparing them and taking a
   * pooled connection per batch would cost more than the inserts themselves.
   */
  private Connection writer() throws SQLException {
    if (writer == null) {
      Connection c = store.dataSource().getConnection();
      try {
        blocks = new EventBlockWriter(c);
        insertCheckpoint = c.prepareStatement(INSERT_CHECKPOINT);
        if (store.dialect() == Dialect.SQLITE) {
          begin = c.prepareStatement("BEGIN IMMEDIATE");
          commit = c.prepareStatement("COMMIT");
        }
      } catch (SQLException e) {
        writer = c;
        closeWriter();
        throw e;
      }
      writer = c;
    }
    return writer;
  }

  private void closeWriter() {
    closeQuietly(blocks, insertCheckpoint, begin, commit, writer);
    blocks = null;
    insertCheckpoint = null;
    begin = null;
    commit = null;
    writer = null;
  }

  @Override
  public List<String> chainIds() {
    return query("SELECT c.chain_id FROM audit_chains c WHERE EXISTS (SELECT 1 FROM audit_events e WHERE e.chain = c.id)"
        + " UNION SELECT chain_id FROM audit_checkpoints ORDER BY 1", ps -> { }, rs -> rs.getString(1));
  }

  /**
   * The chain's blocks by first seq, their events merged by seq (equal seqs by position, so in
   * insertion order): blocks that overlap, as only tampering leaves them, yield every event they hold.
   * Blocks are read as the merge reaches them, so it holds one or two at a time.
   */
  @Override
  public Stream<AuditEvent> events(String chainId) {
    Connection c = null;
    PreparedStatement ps = null;
    ResultSet rs = null;
    try {
      c = store.dataSource().getConnection();
      // PostgreSQL streams with a cursor only inside a transaction; without one it reads everything.
      if (store.dialect() == Dialect.POSTGRESQL) c.setAutoCommit(false);
      ps = c.prepareStatement(StoredBlock.SELECT + " WHERE e.chain = " + CHAIN + " ORDER BY e.first_seq, e.pos");
      ps.setFetchSize(FETCH);
      ps.setString(1, chainId);
      rs = ps.executeQuery();
    } catch (SQLException e) {
      closeQuietly(rs, ps, c);
      throw new StoreException("cannot read audit chain " + chainId + " from " + store.url() + ": " + e.getMessage(), e);
    }
    Connection conn = c;
    PreparedStatement stmt = ps;
    ResultSet results = rs;
    Spliterator<AuditEvent> merged = new Spliterators.AbstractSpliterator<>(Long.MAX_VALUE, Spliterator.ORDERED | Spliterator.NONNULL) {
      /** Blocks reached and not yet read to their end, by the seq of their next entry, then position. */
      private final PriorityQueue<Cursor> open = new PriorityQueue<>(
          Comparator.comparingLong(Cursor::seq).thenComparingLong(cursor -> cursor.block.pos));
      private Cursor next;
      private boolean done;

      @Override
      public boolean tryAdvance(Consumer<? super AuditEvent> action) {
        try {
          // Every block starting at or before the smallest seq open is opened before that seq is given.
          while (!done) {
            if (next == null) {
              if (!results.next()) {
                done = true;
                break;
              }
              next = new Cursor(StoredBlock.read(results));
            }
            if (!open.isEmpty() && next.seq() > open.peek().seq()) break;
            open.add(next);
            next = null;
          }
        } catch (SQLException e) {
          throw new StoreException("cannot read audit chain " + chainId + " from " + store.url() + ": " + e.getMessage(), e);
        }
        Cursor c = open.poll();
        if (c == null) return false;
        if (!c.block.readable()) throw c.block.unreadable();
        AuditEvent e = c.block.event(c.index);
        if (++c.index < c.block.count()) open.add(c);
        action.accept(e);
        return true;
      }
    };
    return StreamSupport.stream(merged, false).onClose(() -> closeQuietly(results, stmt, conn));
  }

  /** A block being read by {@link #events}: the entry to read next. */
  private static final class Cursor {
    final StoredBlock block;
    int index;

    Cursor(StoredBlock block) {
      this.block = block;
    }

    long seq() {
      return block.seq(index);
    }
  }

  /**
   * The last seq of the chain's block with the highest last seq: among the blocks starting at most
   * {@value EventBlock#MAX_EVENTS} seqs before the newest start, where a block that long can begin (an
   * index range, not a read of the chain).
   */
  @Override
  public java.util.OptionalLong lastSeq(String chainId) {
    List<Long> max = query("SELECT MAX(last_seq) FROM audit_events WHERE chain = " + CHAIN
            + " AND first_seq > (SELECT MAX(first_seq) FROM audit_events WHERE chain = " + CHAIN + ") - " + EventBlock.MAX_EVENTS,
        ps -> {
          ps.setString(1, chainId);
          ps.setString(2, chainId);
        },
        rs -> {
          long v = rs.getLong(1);
          return rs.wasNull() ? null : v;
        });
    return max.isEmpty() || max.getFirst() == null ? java.util.OptionalLong.empty() : java.util.OptionalLong.of(max.getFirst());
  }

  @Override
  public List<SignedCheckpoint> checkpoints(String chainId) {
    return query("SELECT chain_id, seq, hash, time_us, key_id, signature FROM audit_checkpoints WHERE chain_id = ? ORDER BY seq",
        ps -> ps.setString(1, chainId),
        rs -> {
          try {
            return new SignedCheckpoint(rs.getString(1), rs.getLong(2), rs.getString(3), instant(rs.getLong(4)),
                rs.getString(5), rs.getString(6));
          } catch (RuntimeException e) {
            throw AuditException.unreadable(chainId, rs.getLong(2), "checkpoint " + e.getMessage(), e);
          }
        });
  }

  @Override
  public Optional<SignedCheckpoint> latestCheckpoint(String nodeId) {
    // A prefix compare rather than LIKE (node ids may contain '_') or a range (PostgreSQL compares
    // text by the database's collation, which may ignore punctuation).
    String prefix = nodeId + ":";
    return query("SELECT chain_id, seq, hash, time_us, key_id, signature FROM audit_checkpoints"
            + " WHERE substr(chain_id, 1, ?) = ? ORDER BY time_us DESC, seq DESC LIMIT 1",
        ps -> {
          ps.setInt(1, prefix.length());
          ps.setString(2, prefix);
        },
        rs -> new SignedCheckpoint(rs.getString(1), rs.getLong(2), rs.getString(3), instant(rs.getLong(4)),
            rs.getString(5), rs.getString(6)))
        .stream().findFirst();
  }

  @Override
  public Optional<AuditEvent> find(String eventId) {
    return key(eventId).flatMap(k -> locate(k).map(at -> {
      if (at.index() < 0) throw at.block().unreadable();
      return at.block().event(at.index());
    }));
  }

  /** An event's place: its block and entry (-1: the block does not decode, so the entry is unknown). */
  private record Place(StoredBlock block, int index) {}

  /**
   * The first block in storage order that holds the event: among the chain's blocks that start at
   * most {@value EventBlock#MAX_EVENTS} seqs before it and, by their columns, reach it (an index
   * range), the first whose entries hold it, or that does not decode.
   */
  private Optional<Place> locate(Key k) {
    long from = k.seq() < Long.MIN_VALUE + EventBlock.MAX_EVENTS ? Long.MIN_VALUE : k.seq() - EventBlock.MAX_EVENTS + 1;
    List<StoredBlock> candidates = query(StoredBlock.SELECT + " WHERE e.chain = " + CHAIN
            + " AND e.first_seq >= ? AND e.first_seq <= ? AND e.last_seq >= ? ORDER BY e.pos",
        ps -> {
          ps.setString(1, k.chainId());
          ps.setLong(2, from);
          ps.setLong(3, k.seq());
          ps.setLong(4, k.seq());
        }, StoredBlock::read);
    for (StoredBlock b : candidates) {
      if (!b.readable()) return Optional.of(new Place(b, -1));
      int i = b.indexOf(k.seq());
      if (i >= 0) return Optional.of(new Place(b, i));
    }
    return Optional.empty();
  }

  private record Key(String chainId, long seq) {}

  /** An event id is {@code <chainId>:<seq>}; chain ids contain ':' themselves, so split at the last. */
  private static Optional<Key> key(String eventId) {
    int colon = eventId.lastIndexOf(':');
    if (colon <= 0) return Optional.empty();
    try {
      return Optional.of(new Key(eventId.substring(0, colon), Long.parseLong(eventId.substring(colon + 1))));
    } catch (NumberFormatException e) {
      return Optional.empty();
    }
  }

  /**
   * Reads the candidate buckets ({@link SearchIndex}) newest first, block by block and event by event
   * newest first, until {@code q.limit()} events match; with no principal, resource or time in the
   * query, every bucket is a candidate (the whole log, newest first, as the text search always was).
   * An event that can no longer be read, or a block that does not decode, matches nothing: a search
   * passes over it (so one altered block does not stop every search), and {@code verify} reports it
   * as edited.
   */
  @Override
  public List<AuditEvent> search(AuditQuery q) {
    List<Object> args = new ArrayList<>();
    Optional<String> indexed = SearchIndex.buckets(q, args);
    SearchIndex.Needles needles = SearchIndex.Needles.of(q);
    List<AuditEvent> newestFirst = new ArrayList<>();
    try (Connection c = store.dataSource().getConnection();
        PreparedStatement bucket = c.prepareStatement(StoredBlock.SELECT + " WHERE e.pos >= ? AND e.pos < ? ORDER BY e.pos DESC")) {
      long[] buckets = indexed.isPresent() ? indexedBuckets(c, indexed.get(), args) : allBuckets(c);
      for (long b : buckets) {
        bucket.setLong(1, b * SearchIndex.BUCKET_BLOCKS);
        bucket.setLong(2, (b + 1) * SearchIndex.BUCKET_BLOCKS);
        try (ResultSet rs = bucket.executeQuery()) {
          while (rs.next()) {
            StoredBlock block = StoredBlock.read(rs);
            if (!block.mayMatch(needles)) continue;
            for (int i = block.count() - 1; i >= 0; i--) {
              if (!block.mayMatch(needles, i)) continue;
              Optional<AuditEvent> e = block.readableEvent(i);
              if (e.isPresent() && SearchIndex.matches(q, e.get())) newestFirst.add(e.get());
              if (newestFirst.size() == q.limit()) return reversed(newestFirst);
            }
          }
        }
      }
      return reversed(newestFirst);
    } catch (SQLException e) {
      throw new StoreException("cannot search the audit log in " + store.url() + ": " + e.getMessage(), e);
    }
  }

  private static long[] indexedBuckets(Connection c, String sql, List<Object> args) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      for (int i = 0; i < args.size(); i++) ps.setObject(i + 1, args.get(i));
      try (ResultSet rs = ps.executeQuery()) {
        LongStream.Builder out = LongStream.builder();
        while (rs.next()) out.add(rs.getLong(1));
        return out.build().toArray();
      }
    }
  }

  /** Every bucket from the newest block's to the oldest's. */
  private static long[] allBuckets(Connection c) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT MIN(pos), MAX(pos) FROM audit_events"); ResultSet rs = ps.executeQuery()) {
      rs.next();
      if (rs.getObject(1) == null) return new long[0];
      long oldest = SearchIndex.bucket(rs.getLong(1));
      long newest = SearchIndex.bucket(rs.getLong(2));
      return LongStream.rangeClosed(oldest, newest).map(b -> newest + oldest - b).toArray();
    }
  }

  /** The newest events, from the newest block back; a block that does not decode, or an unreadable event in the range, is reported. */
  @Override
  public List<AuditEvent> tail(int limit) {
    if (limit < 1) throw new IllegalArgumentException("limit < 1");
    List<AuditEvent> newestFirst = new ArrayList<>();
    collect(true, Long.MAX_VALUE, newestFirst, limit);
    return reversed(newestFirst);
  }

  /** After the event's entry: the rest of its block, then the blocks stored after it (the first holding it, if several do). */
  @Override
  public List<AuditEvent> after(String eventId, int limit) {
    if (limit < 1) throw new IllegalArgumentException("limit < 1");
    Optional<Place> place = key(eventId).flatMap(this::locate);
    if (place.isEmpty()) return List.of();
    List<AuditEvent> out = new ArrayList<>();
    StoredBlock at = place.get().block();
    // A block that does not decode has no known entry to follow: the next block follows.
    if (at.readable()) {
      for (int i = place.get().index() + 1; i < at.count() && out.size() < limit; i++) out.add(at.event(i));
    }
    collect(false, at.pos, out, limit);
    return out;
  }

  /**
   * Adds to {@code out}, until it holds {@code limit}, the events of the blocks stored after
   * position {@code pos} ({@code newestFirst}: before it, and each block's events from its last),
   * reading at most {@value #PAGE} blocks per query: a block holds at least one event, so a page
   * never needs more blocks than events are still wanted. A block that does not decode is reported.
   */
  private void collect(boolean newestFirst, long pos, List<AuditEvent> out, int limit) {
    String where = newestFirst ? " WHERE e.pos < ? ORDER BY e.pos DESC LIMIT ?" : " WHERE e.pos > ? ORDER BY e.pos LIMIT ?";
    long from = pos;
    while (out.size() < limit) {
      int wanted = Math.min(limit - out.size(), PAGE);
      long after = from;
      List<StoredBlock> page = query(StoredBlock.SELECT + where, ps -> {
        ps.setLong(1, after);
        ps.setInt(2, wanted);
      }, StoredBlock::read);
      if (page.isEmpty()) return;
      for (StoredBlock b : page) {
        if (out.size() == limit) return; // a page may hold more blocks than the events wanted need
        if (!b.readable()) throw b.unreadable();
        int n = b.count();
        for (int k = 0; k < n && out.size() < limit; k++) out.add(b.event(newestFirst ? n - 1 - k : k));
        from = b.pos;
      }
    }
  }

  @Override
  public Durability durability() {
    return store.durability();
  }

  /** Returns the append connection to the pool; the {@link JdbcStore} owns the rest. */
  @Override
  public void close() {
    writeLock.lock();
    try {
      closeWriter();
    } finally {
      writeLock.unlock();
    }
  }

  @Override
  public String toString() {
    return "JdbcAuditStore[" + store.url() + "]";
  }

  private static long micros(Instant t) {
    return ChronoUnit.MICROS.between(Instant.EPOCH, t);
  }

  private static Instant instant(long micros) {
    return Instant.EPOCH.plus(micros, ChronoUnit.MICROS);
  }

  private static <T> List<T> reversed(List<T> list) {
    List<T> copy = new ArrayList<>(list);
    Collections.reverse(copy);
    return copy;
  }

  private interface Binder {
    void bind(PreparedStatement ps) throws SQLException;
  }

  private interface RowMapper<T> {
    T map(ResultSet rs) throws SQLException;
  }

  private <T> List<T> query(String sql, Binder binder, RowMapper<T> mapper) {
    try (Connection c = store.dataSource().getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
      binder.bind(ps);
      try (ResultSet rs = ps.executeQuery()) {
        List<T> out = new ArrayList<>();
        while (rs.next()) out.add(mapper.map(rs));
        return out;
      }
    } catch (SQLException e) {
      throw new StoreException("cannot read the audit log from " + store.url() + ": " + e.getMessage(), e);
    }
  }

  private static void rollback(Connection c, Throwable cause) {
    try {
      c.rollback();
    } catch (SQLException e) {
      cause.addSuppressed(e);
    }
  }

  private static void closeQuietly(AutoCloseable... resources) {
    for (AutoCloseable r : resources) {
      if (r == null) continue;
      try {
        if (r instanceof Connection c && !c.getAutoCommit()) c.rollback();
        r.close();
      } catch (Exception ignored) {
        // Closing a read: nothing left to protect.
      }
    }
  }
}
