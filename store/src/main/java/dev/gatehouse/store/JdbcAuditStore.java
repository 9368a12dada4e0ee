package dev.gatehouse.store;

import dev.gatehouse.audit.AuditEvent;
import dev.gatehouse.audit.AuditException;
import dev.gatehouse.audit.AuditQuery;
import dev.gatehouse.audit.AuditStore;
import dev.gatehouse.audit.Durability;
import dev.gatehouse.audit.EventBody;
import dev.gatehouse.audit.EventType;
import dev.gatehouse.audit.SignedCheckpoint;
import dev.gatehouse.core.ClientInfo;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * {@link AuditStore} on SQLite or PostgreSQL (see {@link JdbcStore} for what durability means on
 * each). One row per event in {@code audit_events}, one per checkpoint in {@code audit_checkpoints};
 * only INSERT and SELECT are ever issued. An append is one transaction with one batched insert.
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
  private static final String COLUMNS = "chain_id, seq, time_us, type, session_id, principal_subject, principal_issuer, "
      + "principal_name, principal_kind, principal_groups, resource_name, client_address, client_user, client_application, "
      + "command_protocol, command_text, command_kinds, command_objects, command_functions, command_flags, command_details, "
      + "decision_effect, decision_rule, decision_reason, outcome_status, outcome_rows, outcome_error, outcome_duration_ms, "
      + "ref_event_id, attributes, prev_hash, hash";
  private static final String INSERT_EVENT = "INSERT INTO audit_events (" + COLUMNS + ") VALUES ("
      + "?, ".repeat(31) + "?)";
  private static final String INSERT_CHECKPOINT =
      "INSERT INTO audit_checkpoints (chain_id, seq, hash, time_us, key_id, signature) VALUES (?, ?, ?, ?, ?, ?)";
  private static final String SELECT = "SELECT " + COLUMNS + " FROM audit_events";
  private static final int FETCH = 500;

  private final JdbcStore store;
  private final ReentrantLock writeLock = new ReentrantLock();
  // Guarded by writeLock.
  private Connection writer;
  private PreparedStatement insertEvent;
  private PreparedStatement insertCheckpoint;
  // SQLite only: the transaction statements, prepared once (see append).
  private PreparedStatement begin;
  private PreparedStatement commit;

  JdbcAuditStore(JdbcStore store) {
    this.store = store;
  }

  @Override
  public void append(List<AuditEvent> events, Optional<SignedCheckpoint> checkpoint) {
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
          for (AuditEvent e : events) {
            bind(insertEvent, e);
            insertEvent.addBatch();
          }
          insertEvent.executeBatch();
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
   * The connection appends use, kept with its two prepared inserts: preparing a 33-column insert
   * and taking a pooled connection per batch would cost more than the insert itself.
   */
  private Connection writer() throws SQLException {
    if (writer == null) {
      Connection c = store.dataSource().getConnection();
      try {
        insertEvent = c.prepareStatement(INSERT_EVENT);
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
    closeQuietly(insertEvent, insertCheckpoint, begin, commit, writer);
    insertEvent = null;
    insertCheckpoint = null;
    begin = null;
    commit = null;
    writer = null;
  }

  static void insertEvents(Connection c, List<AuditEvent> events) throws SQLException {
    if (events.isEmpty()) return;
    try (PreparedStatement ps = c.prepareStatement(INSERT_EVENT)) {
      for (AuditEvent e : events) {
        bind(ps, e);
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

  private static void bind(PreparedStatement ps, AuditEvent e) throws SQLException {
    EventBody b = e.body();
    int i = 1;
    ps.setString(i++, e.chainId());
    ps.setLong(i++, e.seq());
    ps.setLong(i++, micros(b.time()));
    ps.setString(i++, b.type().name());
    ps.setString(i++, b.sessionId().orElse(null));
    EventBody.Actor a = b.principal().orElse(null);
    ps.setString(i++, a == null ? null : a.subject());
    ps.setString(i++, a == null ? null : a.issuer());
    ps.setString(i++, a == null ? null : a.displayName());
    ps.setString(i++, a == null ? null : a.kind());
    ps.setString(i++, a == null ? null : Netstrings.encode(a.groups()));
    ps.setString(i++, b.resource().orElse(null));
    ClientInfo cl = b.client().orElse(null);
    ps.setString(i++, cl == null ? null : cl.address());
    ps.setString(i++, cl == null ? null : cl.claimedUser());
    ps.setString(i++, cl == null ? null : cl.application());
    EventBody.CommandRecord cmd = b.command().orElse(null);
    ps.setString(i++, cmd == null ? null : cmd.protocol());
    ps.setString(i++, cmd == null ? null : cmd.text());
    ps.setString(i++, cmd == null ? null : Netstrings.encode(cmd.kinds()));
    ps.setString(i++, cmd == null ? null : Netstrings.encode(cmd.objects()));
    ps.setString(i++, cmd == null ? null : Netstrings.encode(cmd.functions()));
    ps.setString(i++, cmd == null ? null : Netstrings.encode(cmd.flags()));
    ps.setString(i++, cmd == null ? null : Netstrings.encode(cmd.details()));
    EventBody.Ruling d = b.decision().orElse(null);
    ps.setString(i++, d == null ? null : d.effect().name());
    ps.setString(i++, d == null ? null : d.rule());
    ps.setString(i++, d == null ? null : d.reason().orElse(null));
    EventBody.Result o = b.outcome().orElse(null);
    ps.setString(i++, o == null ? null : o.status());
    if (o == null) ps.setNull(i++, Types.BIGINT); else ps.setLong(i++, o.rows());
    ps.setString(i++, o == null ? null : o.errorCode().orElse(null));
    if (o == null) ps.setNull(i++, Types.BIGINT); else ps.setLong(i++, o.durationMillis());
    ps.setString(i++, b.ref().orElse(null));
    ps.setString(i++, Netstrings.encode(b.attributes()));
    ps.setString(i++, e.prevHash());
    ps.setString(i, e.hash());
  }

  /** Maps a row back to the event it was written from; column order as in {@link #COLUMNS}. */
  private static AuditEvent read(ResultSet rs) throws SQLException {
    String chainId = rs.getString(1);
    long seq = rs.getLong(2);
    try {
      Optional<EventBody.Actor> actor = rs.getString(6) == null ? Optional.empty()
          : Optional.of(new EventBody.Actor(rs.getString(6), rs.getString(7), rs.getString(8), rs.getString(9),
              Netstrings.decodeList(rs.getString(10))));
      Optional<ClientInfo> client = rs.getString(12) == null ? Optional.empty()
          : Optional.of(new ClientInfo(rs.getString(12), rs.getString(13), rs.getString(14)));
      Optional<EventBody.CommandRecord> command = rs.getString(15) == null ? Optional.empty()
          : Optional.of(new EventBody.CommandRecord(rs.getString(15), rs.getString(16), Netstrings.decodeList(rs.getString(17)),
              Netstrings.decodeList(rs.getString(18)), Netstrings.decodeList(rs.getString(19)),
              Netstrings.decodeList(rs.getString(20)), Netstrings.decodeMap(rs.getString(21))));
      Optional<EventBody.Ruling> decision = rs.getString(22) == null ? Optional.empty()
          : Optional.of(new EventBody.Ruling(EventBody.Ruling.Effect.valueOf(rs.getString(22)), rs.getString(23),
              Optional.ofNullable(rs.getString(24))));
      Optional<EventBody.Result> outcome = rs.getString(25) == null ? Optional.empty()
          : Optional.of(new EventBody.Result(rs.getString(25), rs.getLong(26), Optional.ofNullable(rs.getString(27)), rs.getLong(28)));
      EventBody body = new EventBody(EventType.valueOf(rs.getString(4)), instant(rs.getLong(3)),
          Optional.ofNullable(rs.getString(5)), actor, Optional.ofNullable(rs.getString(11)), client, command, decision,
          outcome, Optional.ofNullable(rs.getString(29)), Netstrings.decodeMap(rs.getString(30)));
      return new AuditEvent(chainId, seq, rs.getString(31), body, rs.getString(32));
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
