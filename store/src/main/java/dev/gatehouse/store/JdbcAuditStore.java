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
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.stream.LongStream;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * {@link AuditStore} on SQLite or PostgreSQL (see {@link JdbcStore} for what durability means on
 * each). One row per event in {@code audit_events}: its chain's number, its seq, its hash and its
 * canonical bytes (what the hash covers, as in the journal), nothing else, since each byte and
 * index entry of a row is work on the audit path ({@link EventRowWriter}); one row per checkpoint in
 * {@code audit_checkpoints}. Searches find their rows through a coarse {@link SearchIndex} and match
 * the decoded events in Java. Only INSERT and SELECT are ever issued. An append is one transaction.
 *
 * <p>Reads return what the rows hold, without repair: the event from the bytes, its chain id (by
 * the row's chain number), seq and hash from the row, so an edit of any of them yields an event that
 * no longer matches its hash, which the verifier reports as edited (or as a broken link or order). A
 * row that can no longer be read as an event (bytes that do not decode) makes the read throw {@link
 * AuditException#unreadable}, which the verifier reports as an edited row.
 *
 * <p>On PostgreSQL with several nodes, {@link #after} follows the insertion key, which concurrent
 * transactions may commit out of order: a follower can miss an event committed late (verification
 * is not affected). Thread-safe: appends are serialised on one connection kept for them (the audit
 * writer is the only appender); reads use the pool. One instance per store ({@link JdbcStore#audit()}).
 *
 * <p>Longer than 400 lines because it is the whole {@link AuditStore} port: append with its
 * transaction handling on each database, and the reads ({@code events}, {@code find}, {@code
 * search}, {@code tail}, {@code after}, checkpoints) that share one row mapping and one connection
 * discipline. Row writing ({@link EventRowWriter}) and search matching ({@link SearchIndex}) are
 * already apart.
 */
public final class JdbcAuditStore implements AuditStore {
  private static final String INSERT_CHECKPOINT =
      "INSERT INTO audit_checkpoints (chain_id, seq, hash, time_us, key_id, signature) VALUES (?, ?, ?, ?, ?, ?)";
  /** What {@link #read} maps: a row with its chain id. */
  private static final String SELECT = "SELECT c.chain_id, e.seq, e.hash, e.event FROM audit_events e"
      + " JOIN audit_chains c ON c.id = e.chain";
  private static final String CHAIN = "(SELECT id FROM audit_chains WHERE chain_id = ?)";
  private static final int FETCH = 500;

  private final JdbcStore store;
  private final ReentrantLock writeLock = new ReentrantLock();
  // Guarded by writeLock.
  private Connection writer;
  private EventRowWriter rows;
  private PreparedStatement insertCheckpoint;
  // SQLite only: the transaction statements, prepared once (see append).
  private PreparedStatement begin;
  private PreparedStatement commit;

  JdbcAuditStore(JdbcStore store) {
    this.store = store;
  }

  @Override
  public void append(List<AuditEvent> events, Optional<SignedCheckpoint> checkpoint) {
    append(events, null, checkpoint);
  }

  @Override
  public void append(List<AuditEvent> events, List<byte[]> canonical, Optional<SignedCheckpoint> checkpoint) {
    if (canonical != null && canonical.size() != events.size()) throw new IllegalArgumentException("canonical.size() != events.size()");
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
        rows.insert(events, canonical);
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
      } catch (SQLException | RuntimeException e) {
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

  private static void rollbackSqlite(Connection c, Exception cause) {
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
        rows = new EventRowWriter(c, store.dialect());
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
    closeQuietly(rows, insertCheckpoint, begin, commit, writer);
    rows = null;
    insertCheckpoint = null;
    begin = null;
    commit = null;
    writer = null;
  }

  /** Inserts events on {@code c} in its current transaction, as an append does (for tests that rewrite rows). */
  static void insertEvents(Connection c, Dialect dialect, List<AuditEvent> events) throws SQLException {
    try (EventRowWriter w = new EventRowWriter(c, dialect)) {
      w.insert(events, null);
    }
  }

  @Override
  public List<String> chainIds() {
    return query("SELECT c.chain_id FROM audit_chains c WHERE EXISTS (SELECT 1 FROM audit_events e WHERE e.chain = c.id)"
        + " UNION SELECT chain_id FROM audit_checkpoints ORDER BY 1", ps -> { }, rs -> rs.getString(1));
  }

  @Override
  public Stream<AuditEvent> events(String chainId) {
    Connection c = null;
    PreparedStatement ps = null;
    ResultSet rs = null;
    try {
      c = store.dataSource().getConnection();
      // PostgreSQL streams with a cursor only inside a transaction; without one it reads everything.
      if (store.dialect() == Dialect.POSTGRESQL) c.setAutoCommit(false);
      ps = c.prepareStatement(SELECT + " WHERE e.chain = " + CHAIN + " ORDER BY e.seq, e.pos");
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
    Spliterator<AuditEvent> rows = new Spliterators.AbstractSpliterator<>(Long.MAX_VALUE, Spliterator.ORDERED | Spliterator.NONNULL) {
      @Override
      public boolean tryAdvance(Consumer<? super AuditEvent> action) {
        try {
          if (!results.next()) return false;
          action.accept(read(results));
          return true;
        } catch (SQLException e) {
          throw new StoreException("cannot read audit chain " + chainId + " from " + store.url() + ": " + e.getMessage(), e);
        }
      }
    };
    return StreamSupport.stream(rows, false).onClose(() -> closeQuietly(results, stmt, conn));
  }

  @Override
  public java.util.OptionalLong lastSeq(String chainId) {
    List<Long> max = query("SELECT MAX(seq) FROM audit_events WHERE chain = " + CHAIN, ps -> ps.setString(1, chainId),
        rs -> {
          long v = rs.getLong(1);
          return rs.wasNull() ? -1L : v;
        });
    return max.isEmpty() || max.getFirst() < 0 ? java.util.OptionalLong.empty() : java.util.OptionalLong.of(max.getFirst());
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
    return key(eventId).flatMap(k -> query(SELECT + " WHERE e.chain = " + CHAIN + " AND e.seq = ?", ps -> {
      ps.setString(1, k.chainId());
      ps.setLong(2, k.seq());
    }, JdbcAuditStore::read).stream().findFirst());
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
   * Reads the candidate buckets ({@link SearchIndex}) newest first, row by row newest first, until
   * {@code q.limit()} events match; with no principal, resource or time in the query, every bucket
   * is a candidate (the whole log, newest first, as the text search always was). A row that no
   * longer holds a readable event matches nothing: a search passes over it (so one altered row does
   * not stop every search), and {@code verify} reports it as edited.
   */
  @Override
  public List<AuditEvent> search(AuditQuery q) {
    List<Object> args = new ArrayList<>();
    Optional<String> indexed = SearchIndex.buckets(q, args);
    SearchIndex.Needles needles = SearchIndex.Needles.of(q);
    List<AuditEvent> newestFirst = new ArrayList<>();
    try (Connection c = store.dataSource().getConnection();
        PreparedStatement bucket = c.prepareStatement(SELECT + " WHERE e.pos >= ? AND e.pos < ? ORDER BY e.pos DESC")) {
      long[] buckets = indexed.isPresent() ? indexedBuckets(c, indexed.get(), args) : allBuckets(c);
      for (long b : buckets) {
        bucket.setLong(1, b * SearchIndex.BUCKET_ROWS);
        bucket.setLong(2, (b + 1) * SearchIndex.BUCKET_ROWS);
        try (ResultSet rs = bucket.executeQuery()) {
          while (rs.next()) {
            byte[] bytes = rs.getBytes(4);
            if (!SearchIndex.mayMatch(needles, bytes)) continue;
            Optional<AuditEvent> e = readable(rs.getString(1), rs.getLong(2), rs.getBytes(3), bytes);
            if (e.isPresent() && SearchIndex.matches(q, e.get())) newestFirst.add(e.get());
            if (newestFirst.size() == q.limit()) return reversed(newestFirst);
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

  /** Every bucket from the newest row's to the oldest's. */
  private static long[] allBuckets(Connection c) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT MIN(pos), MAX(pos) FROM audit_events"); ResultSet rs = ps.executeQuery()) {
      rs.next();
      if (rs.getObject(1) == null) return new long[0];
      long oldest = SearchIndex.bucket(rs.getLong(1));
      long newest = SearchIndex.bucket(rs.getLong(2));
      return LongStream.rangeClosed(oldest, newest).map(b -> newest + oldest - b).toArray();
    }
  }

  @Override
  public List<AuditEvent> tail(int limit) {
    if (limit < 1) throw new IllegalArgumentException("limit < 1");
    return reversed(query(SELECT + " ORDER BY e.pos DESC LIMIT ?", ps -> ps.setInt(1, limit), JdbcAuditStore::read));
  }

  @Override
  public List<AuditEvent> after(String eventId, int limit) {
    if (limit < 1) throw new IllegalArgumentException("limit < 1");
    Optional<Key> key = key(eventId);
    if (key.isEmpty()) return List.of();
    return query(SELECT + " WHERE e.pos > (SELECT pos FROM audit_events WHERE chain = " + CHAIN + " AND seq = ?)"
            + " ORDER BY e.pos LIMIT ?",
        ps -> {
          ps.setString(1, key.get().chainId());
          ps.setLong(2, key.get().seq());
          ps.setInt(3, limit);
        }, JdbcAuditStore::read);
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

  private static Optional<AuditEvent> readable(String chainId, long seq, byte[] hash, byte[] bytes) {
    try {
      return Optional.of(read(chainId, seq, hash, bytes));
    } catch (AuditException unreadable) {
      return Optional.empty();
    }
  }

  /** Maps a row of {@link #SELECT} back to its event. */
  private static AuditEvent read(ResultSet rs) throws SQLException {
    return read(rs.getString(1), rs.getLong(2), rs.getBytes(3), rs.getBytes(4));
  }

  /**
   * The event a row holds: chain id, seq and hash from the row, the rest from its canonical bytes.
   * A row edited anywhere thus yields an event that does not match its hash (the verifier reports it
   * as edited); bytes that do not decode make it unreadable.
   */
  private static AuditEvent read(String chainId, long seq, byte[] hash, byte[] bytes) {
    try {
      if (bytes == null) throw new IllegalArgumentException("the row holds no event bytes");
      if (hash == null) throw new IllegalArgumentException("the row holds no hash");
      AuditEvent e = AuditStore.fromCanonicalBytes(bytes, HexFormat.of().formatHex(hash));
      return new AuditEvent(chainId, seq, e.prevHash(), e.body(), e.hash());
    } catch (RuntimeException e) {
      throw AuditException.unreadable(chainId, seq, e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage(), e);
    }
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

  private static void rollback(Connection c, Exception cause) {
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
