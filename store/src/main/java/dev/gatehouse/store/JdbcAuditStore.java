package dev.gatehouse.store;

import dev.gatehouse.audit.AuditEvent;
import dev.gatehouse.audit.AuditException;
import dev.gatehouse.audit.AuditQuery;
import dev.gatehouse.audit.AuditStore;
import dev.gatehouse.audit.Durability;
import dev.gatehouse.audit.EventBody;
import dev.gatehouse.audit.EventType;
import dev.gatehouse.audit.SignedCheckpoint;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * {@link AuditStore} on SQLite or PostgreSQL (see {@link JdbcStore} for what durability means on
 * each). One row per event in {@code audit_events}: the event's canonical bytes (what its hash
 * covers, as in the journal) with the few columns searches need ({@link #COLUMNS}), ten values to
 * bind where a column per field took 32; one row per checkpoint in {@code audit_checkpoints}. Only
 * INSERT and SELECT are ever issued. An append is one transaction: the events in statements of
 * {@value #ROWS} rows each, batched, and the rest one row per statement (a statement per row cost
 * SQLite about a tenth more, in the driver's calls per statement).
 *
 * <p>Reads return what the rows hold, without repair. A row that can no longer be read as an event
 * (an edited type name, say) makes the event stream throw {@link AuditException#unreadable}, which
 * the verifier reports as an edited row.
 *
 * <p>On PostgreSQL with several nodes, {@link #after} follows the insertion key, which concurrent
 * transactions may commit out of order: a follower can miss an event committed late (verification
 * is not affected). Thread-safe: appends are serialised on one connection kept for them (the audit
 * writer is the only appender); reads use the pool. One instance per store ({@link JdbcStore#audit()}).
 */
public final class JdbcAuditStore implements AuditStore {
  /**
   * What a row holds: the event's canonical bytes ({@code event}, what its hash covers), its key,
   * its hash, and copies of the few fields searches filter on. Reading takes the event from the
   * bytes and the key, hash and copies from their columns, so an edit of any of them makes the event
   * disagree with its hash ({@link #read}).
   */
  static final String COLUMNS = "chain_id, seq, time_us, type, principal_subject, principal_name, resource_name, "
      + "command_text, hash, event";
  private static final String INSERT_EVENT = "INSERT INTO audit_events (" + COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
  /** Rows per multi-row insert: 320 parameters, well below either database's limit. */
  private static final int ROWS = 32;
  private static final String INSERT_EVENTS = "INSERT INTO audit_events (" + COLUMNS + ") VALUES "
      + String.join(", ", java.util.Collections.nCopies(ROWS, "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  private static final String INSERT_CHECKPOINT =
      "INSERT INTO audit_checkpoints (chain_id, seq, hash, time_us, key_id, signature) VALUES (?, ?, ?, ?, ?, ?)";
  private static final String SELECT = "SELECT " + COLUMNS + " FROM audit_events";
  private static final int FETCH = 500;

  private final JdbcStore store;
  private final ReentrantLock writeLock = new ReentrantLock();
  // Guarded by writeLock.
  private Connection writer;
  private PreparedStatement insertEvent;
  private PreparedStatement insertEvents;
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
        if (!events.isEmpty()) {
          int full = events.size() - events.size() % ROWS;
          for (int i = 0; i < full; i += ROWS) {
            for (int r = 0; r < ROWS; r++) {
              AuditEvent e = events.get(i + r);
              bind(insertEvents, r * 10, e, canonical == null ? AuditStore.canonicalBytes(e) : canonical.get(i + r));
            }
            insertEvents.addBatch();
          }
          if (full > 0) insertEvents.executeBatch();
          for (int i = full; i < events.size(); i++) {
            AuditEvent e = events.get(i);
            bind(insertEvent, 0, e, canonical == null ? AuditStore.canonicalBytes(e) : canonical.get(i));
            insertEvent.addBatch();
          }
          if (full < events.size()) insertEvent.executeBatch();
        }
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
   * The connection appends use, kept with its two prepared inserts: preparing the insert
   * and taking a pooled connection per batch would cost more than the insert itself.
   */
  private Connection writer() throws SQLException {
    if (writer == null) {
      Connection c = store.dataSource().getConnection();
      try {
        insertEvent = c.prepareStatement(INSERT_EVENT);
        insertEvents = c.prepareStatement(INSERT_EVENTS);
        insertCheckpoint = c.prepareStatement(INSERT_CHECKPOINT);
        if (store.dialect() == Dialect.SQLITE) {
          begin = c.prepareStatement("BEGIN IMMEDIATE");
          commit = c.prepareStatement("COMMIT");
        }
      } catch (SQLException e) {
        closeQuietly(c);
        throw e;
      }
      writer = c;
    }
    return writer;
  }

  private void closeWriter() {
    closeQuietly(insertEvent, insertEvents, insertCheckpoint, begin, commit, writer);
    insertEvent = null;
    insertEvents = null;
    insertCheckpoint = null;
    begin = null;
    commit = null;
    writer = null;
  }

  static void insertEvents(Connection c, List<AuditEvent> events) throws SQLException {
    if (events.isEmpty()) return;
    try (PreparedStatement ps = c.prepareStatement(INSERT_EVENT)) {
      for (AuditEvent e : events) {
        bind(ps, 0, e, AuditStore.canonicalBytes(e));
        ps.addBatch();
      }
      ps.executeBatch();
    }
  }

  @Override
  public List<String> chainIds() {
    return query("SELECT chain_id FROM audit_events UNION SELECT chain_id FROM audit_checkpoints ORDER BY 1", ps -> { },
        rs -> rs.getString(1));
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
      ps = c.prepareStatement(SELECT + " WHERE chain_id = ? ORDER BY seq, pos");
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
    List<Long> max = query("SELECT MAX(seq) FROM audit_events WHERE chain_id = ?", ps -> ps.setString(1, chainId),
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
    return key(eventId).flatMap(k -> query(SELECT + " WHERE chain_id = ? AND seq = ?", ps -> {
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

  @Override
  public List<AuditEvent> search(AuditQuery q) {
    StringBuilder where = new StringBuilder(" WHERE 1 = 1");
    List<Object> args = new ArrayList<>();
    q.principal().ifPresent(p -> {
      where.append(" AND (principal_subject = ? OR principal_name = ?)");
      args.add(p);
      args.add(p);
    });
    q.resource().ifPresent(r -> {
      where.append(" AND resource_name = ?");
      args.add(r);
    });
    q.from().ifPresent(f -> {
      where.append(" AND time_us >= ?");
      args.add(micros(f));
    });
    q.to().ifPresent(t -> {
      where.append(" AND time_us < ?");
      args.add(micros(t));
    });
    q.text().ifPresent(t -> {
      // LIKE wildcards in the user's text are plain characters.
      where.append(" AND lower(command_text) LIKE lower(?) ESCAPE '\\'");
      args.add("%" + t.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%");
    });
    List<AuditEvent> newestFirst = query(SELECT + where + " ORDER BY pos DESC LIMIT " + q.limit(), ps -> {
      for (int i = 0; i < args.size(); i++) ps.setObject(i + 1, args.get(i));
    }, JdbcAuditStore::read);
    return reversed(newestFirst);
  }

  @Override
  public List<AuditEvent> tail(int limit) {
    if (limit < 1) throw new IllegalArgumentException("limit < 1");
    return reversed(query(SELECT + " ORDER BY pos DESC LIMIT ?", ps -> ps.setInt(1, limit), JdbcAuditStore::read));
  }

  @Override
  public List<AuditEvent> after(String eventId, int limit) {
    if (limit < 1) throw new IllegalArgumentException("limit < 1");
    Optional<Key> key = key(eventId);
    if (key.isEmpty()) return List.of();
    return query(SELECT + " WHERE pos > (SELECT pos FROM audit_events WHERE chain_id = ? AND seq = ?) ORDER BY pos LIMIT ?",
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

  /** Binds one event's values to parameters {@code at + 1 .. at + 10}. */
  private static void bind(PreparedStatement ps, int at, AuditEvent e, byte[] canonical) throws SQLException {
    EventBody b = e.body();
    EventBody.Actor a = b.principal().orElse(null);
    ps.setString(at + 1, e.chainId());
    ps.setLong(at + 2, e.seq());
    ps.setLong(at + 3, micros(b.time()));
    ps.setString(at + 4, b.type().name());
    ps.setString(at + 5, a == null ? null : a.subject());
    ps.setString(at + 6, a == null ? null : a.displayName());
    ps.setString(at + 7, b.resource().orElse(null));
    ps.setString(at + 8, b.command().map(EventBody.CommandRecord::text).orElse(null));
    ps.setString(at + 9, e.hash());
    ps.setBytes(at + 10, canonical);
  }

  /**
   * Maps a row back to its event: chain id, seq and hash from their columns, the rest from the
   * canonical bytes, where the search columns then win. A row edited anywhere (bytes, key, hash or a
   * search column) thus yields an event that does not match its hash (the verifier reports it as
   * edited), and tail and search show what the row says. Column order as in {@link #COLUMNS}.
   */
  private static AuditEvent read(ResultSet rs) throws SQLException {
    String chainId = rs.getString(1);
    long seq = rs.getLong(2);
    try {
      byte[] bytes = rs.getBytes(10);
      if (bytes == null) throw new IllegalArgumentException("the row holds no event bytes");
      AuditEvent e = AuditStore.fromCanonicalBytes(bytes);
      EventBody body = withColumns(e.body(), instant(rs.getLong(3)), rs.getString(4), rs.getString(5), rs.getString(6),
          rs.getString(7), rs.getString(8));
      return new AuditEvent(chainId, seq, e.prevHash(), body, rs.getString(9));
    } catch (RuntimeException e) {
      throw AuditException.unreadable(chainId, seq, e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage(), e);
    }
  }

  /** The body with the search columns' values where they differ from it (only after tampering). */
  private static EventBody withColumns(EventBody b, Instant time, String type, String subject, String name, String resource,
      String text) {
    EventBody.Actor a = b.principal().orElse(null);
    EventBody.CommandRecord c = b.command().orElse(null);
    boolean same = b.time().equals(time) && b.type().name().equals(type)
        && Objects.equals(a == null ? null : a.subject(), subject) && Objects.equals(a == null ? null : a.displayName(), name)
        && Objects.equals(b.resource().orElse(null), resource) && Objects.equals(c == null ? null : c.text(), text);
    if (same) return b;
    Optional<EventBody.Actor> actor = subject == null && name == null ? Optional.empty()
        : Optional.of(a == null ? new EventBody.Actor(orEmpty(subject), "", orEmpty(name), "", List.of())
            : new EventBody.Actor(orEmpty(subject), a.issuer(), orEmpty(name), a.kind(), a.groups()));
    Optional<EventBody.CommandRecord> command = text == null ? Optional.empty()
        : Optional.of(c == null ? new EventBody.CommandRecord("", text, List.of(), List.of(), List.of(), List.of(), java.util.Map.of())
            : new EventBody.CommandRecord(c.protocol(), text, c.kinds(), c.objects(), c.functions(), c.flags(), c.details()));
    return new EventBody(EventType.valueOf(type), time, b.sessionId(), actor, Optional.ofNullable(resource), b.client(), command,
        b.decision(), b.outcome(), b.ref(), b.attributes());
  }

  private static String orEmpty(String s) {
    return s == null ? "" : s;
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
