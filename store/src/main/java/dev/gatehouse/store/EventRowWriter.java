package dev.gatehouse.store;

import dev.gatehouse.audit.AuditEvent;
import dev.gatehouse.audit.AuditStore;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Inserts audit events as rows of {@code audit_events} on one connection, inside the caller's
 * transaction: per event its chain's number ({@code audit_chains}, registered at the chain's first
 * event), seq, hash (32 bytes) and canonical bytes, four values where the row once took ten; then
 * the batch's terms into the {@link SearchIndex}. Rows go in statements of {@value #ROWS} rows,
 * batched, and the rest one row per statement (a statement per row cost SQLite about a tenth more,
 * in the driver's calls per statement). On SQLite, {@value #ROWS} rows of one chain with consecutive
 * seqs (what the audit writer appends) bind the chain and first seq once and the rest as {@code ?2 +
 * r}: two values per row instead of four, since each value is a call through JNI and a boxed number
 * in the driver (StoreAppendCost: see docs/audit.md). pgjdbc has no numbered parameters, and binds
 * without native calls; PostgreSQL takes the four.
 *
 * <p>Keeps its prepared statements and the chain numbers it has seen, so after a transaction that
 * failed (which may have rolled back a chain's registration) it must be closed, not reused. Not
 * thread-safe.
 */
final class EventRowWriter implements AutoCloseable {
  private static final String ROW = "(?, ?, ?, ?)";
  /**
   * Rows per multi-row insert: 256 parameters, well below either database's limit. On SQLite 64
   * cost about a tenth less per event than 32 (StoreAppendCost), more gained nothing measurable.
   */
  private static final int ROWS = 64;
  private static final String INSERT = "INSERT INTO audit_events (chain, seq, hash, event) VALUES ";
  /** Each char's value as a lower-case hex digit, or -1. */
  private static final byte[] NIBBLES = new byte[128];

  static {
    Arrays.fill(NIBBLES, (byte) -1);
    for (int c = '0'; c <= '9'; c++) NIBBLES[c] = (byte) (c - '0');
    for (int c = 'a'; c <= 'f'; c++) NIBBLES[c] = (byte) (c - 'a' + 10);
  }

  private final PreparedStatement insertOne;
  private final PreparedStatement insertMany;
  private final PreparedStatement findChain;
  private final PreparedStatement addChain;
  private final PreparedStatement newest;
  private final PreparedStatement insertTerm;
  private final PreparedStatement insertTime;
  /** SQLite only (else null): {@value #ROWS} rows of one chain with consecutive seqs, in two values per row. */
  private final PreparedStatement insertRun;
  private final Map<String, Long> chains = new HashMap<>();
  private final SearchIndex.Terms terms = new SearchIndex.Terms();

  EventRowWriter(Connection c, Dialect dialect) throws SQLException {
    PreparedStatement[] made = new PreparedStatement[8];
    try {
      made[0] = c.prepareStatement(INSERT + ROW);
      made[1] = c.prepareStatement(INSERT + String.join(", ", Collections.nCopies(ROWS, ROW)));
      made[2] = c.prepareStatement("SELECT id FROM audit_chains WHERE chain_id = ?");
      made[3] = c.prepareStatement("INSERT INTO audit_chains (chain_id) VALUES (?) ON CONFLICT DO NOTHING");
      made[4] = c.prepareStatement("SELECT COALESCE(MAX(pos), 0) FROM audit_events");
      made[5] = c.prepareStatement(SearchIndex.INSERT_TERM);
      made[6] = c.prepareStatement(SearchIndex.INSERT_TIME);
      if (dialect == Dialect.SQLITE) made[7] = c.prepareStatement(INSERT + run());
    } catch (SQLException e) {
      closeAll(made);
      throw e;
    }
    insertOne = made[0];
    insertMany = made[1];
    findChain = made[2];
    addChain = made[3];
    newest = made[4];
    insertTerm = made[5];
    insertTime = made[6];
    insertRun = made[7];
  }

  /**
   * The rows of a run in SQLite's numbered parameters: {@code (?1, ?2, ?3, ?4), (?1, ?2 + 1, ?5, ?6),
   * ...}: the chain and first seq once, then each row's hash and bytes.
   */
  private static String run() {
    StringBuilder b = new StringBuilder("(?1, ?2, ?3, ?4)");
    for (int r = 1; r < ROWS; r++) b.append(", (?1, ?2 + ").append(r).append(", ?").append(3 + 2 * r).append(", ?").append(4 + 2 * r).append(')');
    return b.toString();
  }

  /**
   * Inserts the events, with {@code canonical.get(i)} the canonical bytes of {@code events.get(i)}
   * ({@code null}: encoded here), and indexes them.
   */
  void insert(List<AuditEvent> events, List<byte[]> canonical) throws SQLException {
    if (events.isEmpty()) return;
    long[] chainOf = new long[events.size()];
    for (int i = 0; i < events.size(); i++) {
      AuditEvent e = events.get(i);
      chainOf[i] = i > 0 && e.chainId().equals(events.get(i - 1).chainId()) ? chainOf[i - 1] : chainNumber(e.chainId());
    }
    long before = newestPosition();
    int full = events.size() - events.size() % ROWS;
    // Rows are stored in the order given (their positions are the log's order), so a batch of one
    // statement is executed before rows of the other are added.
    PreparedStatement batched = null;
    for (int i = 0; i < full; i += ROWS) {
      PreparedStatement ps = insertRun != null && isRun(chainOf, events, i) ? insertRun : insertMany;
      if (batched != null && batched != ps) batched.executeBatch();
      batched = ps;
      if (ps == insertRun) {
        ps.setLong(1, chainOf[i]);
        ps.setLong(2, events.get(i).seq());
        for (int r = 0; r < ROWS; r++) {
          ps.setBytes(3 + 2 * r, hashBytes(events.get(i + r).hash()));
          ps.setBytes(4 + 2 * r, bytes(events.get(i + r), canonical, i + r));
        }
      } else {
        for (int r = 0; r < ROWS; r++) bind(ps, r * 4, chainOf[i + r], events.get(i + r), canonical, i + r);
      }
      ps.addBatch();
    }
    if (batched != null) batched.executeBatch();
    for (int i = full; i < events.size(); i++) {
      bind(insertOne, 0, chainOf[i], events.get(i), canonical, i);
      insertOne.addBatch();
    }
    if (full < events.size()) insertOne.executeBatch();
    index(events, before);
  }

  /**
   * The search index rows for the events just inserted, whose rows lie after position {@code before}
   * and up to the newest row now (on PostgreSQL, other nodes' rows may lie there too: the index
   * may then name a bucket for a term in vain, which costs a search some reading, never a result).
   */
  private void index(List<AuditEvent> events, long before) throws SQLException {
    for (AuditEvent e : events) terms.add(e);
    terms.addTo(insertTerm, insertTime, SearchIndex.bucket(before + 1), SearchIndex.bucket(newestPosition()));
    terms.clear();
    insertTerm.executeBatch();
    insertTime.executeBatch();
  }

  /** The newest row's position, 0 when there is none: cheap on both databases (the end of the primary key). */
  private long newestPosition() throws SQLException {
    try (ResultSet rs = newest.executeQuery()) {
      rs.next();
      return rs.getLong(1);
    }
  }

  /** The number of a chain, registering it at its first event. */
  private long chainNumber(String chainId) throws SQLException {
    Long known = chains.get(chainId);
    if (known != null) return known;
    addChain.setString(1, chainId);
    addChain.executeUpdate();
    findChain.setString(1, chainId);
    try (ResultSet rs = findChain.executeQuery()) {
      rs.next();
      long id = rs.getLong(1);
      chains.put(chainId, id);
      return id;
    }
  }

  /** Whether the {@value #ROWS} events from {@code i} are of one chain with consecutive seqs (the audit writer's batches are). */
  private static boolean isRun(long[] chainOf, List<AuditEvent> events, int i) {
    long first = events.get(i).seq();
    for (int r = 1; r < ROWS; r++) {
      if (chainOf[i + r] != chainOf[i] || events.get(i + r).seq() != first + r) return false;
    }
    return true;
  }

  /** Binds one event's values to parameters {@code at + 1 .. at + 4}. */
  private static void bind(PreparedStatement ps, int at, long chain, AuditEvent e, List<byte[]> canonical, int i)
      throws SQLException {
    ps.setLong(at + 1, chain);
    ps.setLong(at + 2, e.seq());
    ps.setBytes(at + 3, hashBytes(e.hash()));
    ps.setBytes(at + 4, bytes(e, canonical, i));
  }

  private static byte[] bytes(AuditEvent e, List<byte[]> canonical, int i) {
    return canonical == null ? AuditStore.canonicalBytes(e) : canonical.get(i);
  }

  /**
   * A hash as stored: the 32 bytes its lower-case hex names. Anything else (only a tampered row
   * carries it) is kept as its UTF-8 bytes, which read back as a different hex string, so it still
   * fails to match. Digits are looked up in a table: a hash's digits are random, so a test per digit
   * of whether it is a number or a letter mispredicted about every other time (StoreAppendCost:
   * 0.3 us per event, a tenth of the append).
   */
  static byte[] hashBytes(String hash) {
    if (hash.length() == 64) {
      byte[] out = new byte[32];
      int invalid = 0;
      for (int i = 0; i < 32; i++) {
        int high = nibble(hash.charAt(2 * i));
        int low = nibble(hash.charAt(2 * i + 1));
        invalid |= high | low;
        out[i] = (byte) (high << 4 | low);
      }
      if (invalid >= 0) return out;
    }
    return hash.getBytes(StandardCharsets.UTF_8);
  }

  /** A lower-case hex digit's value, or -1. */
  private static int nibble(char c) {
    return c < 128 ? NIBBLES[c] : -1;
  }

  @Override
  public void close() {
    closeAll(insertOne, insertMany, findChain, addChain, newest, insertTerm, insertTime, insertRun);
  }

  private static void closeAll(PreparedStatement... statements) {
    for (PreparedStatement ps : statements) {
      if (ps == null) continue;
      try {
        ps.close();
      } catch (SQLException ignored) {
        // Closing: nothing left to protect.
      }
    }
  }
}
