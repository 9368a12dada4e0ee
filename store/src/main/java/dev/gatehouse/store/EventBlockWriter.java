package dev.gatehouse.store;

import dev.gatehouse.audit.AuditEvent;
import dev.gatehouse.audit.AuditStore;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Inserts audit events as blocks ({@link EventBlock}) in rows of {@code audit_events} on one
 * connection, inside the caller's transaction: a row per run of up to {@value #BLOCK_EVENTS}
 * consecutive events of one chain (a new row at another chain, a seq that does not follow, or a full
 * block), holding its chain's number ({@code audit_chains}, registered at the chain's first event),
 * first and last seq, and the block; then the batch's terms into the {@link SearchIndex}. Four values
 * and one b-tree entry (and one index entry) per block instead of per event: per event, what is left
 * is copying its hash and bytes into the block, which SQLite writes to overflow pages without a
 * b-tree search of its own (StoreAppendCost: see docs/audit.md).
 *
 * <p>Keeps its prepared statements and the chain numbers it has seen, so after a transaction that
 * failed (which may have rolled back a chain's registration) it must be closed, not reused. Not
 * thread-safe. Keeps no reference to the caller's lists after {@link #insert}.
 */
final class EventBlockWriter implements AutoCloseable {
  /**
   * Events per block the writer fills. StoreAppendCost on SQLite: see docs/audit.md for 64, 256 and
   * 1024; larger blocks also make a lookup of one event ({@code find}, {@code after}) decode more.
   */
  static final int BLOCK_EVENTS = 256;
  static final String INSERT = "INSERT INTO audit_events (chain, first_seq, last_seq, block) VALUES (?, ?, ?, ?)";
  /** Each char's value as a lower-case hex digit, or -1. */
  private static final byte[] NIBBLES = new byte[128];

  static {
    Arrays.fill(NIBBLES, (byte) -1);
    for (int c = '0'; c <= '9'; c++) NIBBLES[c] = (byte) (c - '0');
    for (int c = 'a'; c <= 'f'; c++) NIBBLES[c] = (byte) (c - 'a' + 10);
  }

  private final PreparedStatement insertBlock;
  private final PreparedStatement findChain;
  private final PreparedStatement addChain;
  private final PreparedStatement newest;
  private final PreparedStatement insertTerm;
  private final PreparedStatement insertTime;
  private final Map<String, Long> chains = new HashMap<>();
  private final SearchIndex.Terms terms = new SearchIndex.Terms();
  /** The hashes and canonical bytes of the block being written, reused. */
  private final byte[][] hashes = new byte[BLOCK_EVENTS][];
  private final byte[][] bytes = new byte[BLOCK_EVENTS][];

  EventBlockWriter(Connection c) throws SQLException {
    PreparedStatement[] made = new PreparedStatement[6];
    try {
      made[0] = c.prepareStatement(INSERT);
      made[1] = c.prepareStatement("SELECT id FROM audit_chains WHERE chain_id = ?");
      made[2] = c.prepareStatement("INSERT INTO audit_chains (chain_id) VALUES (?) ON CONFLICT DO NOTHING");
      made[3] = c.prepareStatement("SELECT COALESCE(MAX(pos), 0) FROM audit_events");
      made[4] = c.prepareStatement(SearchIndex.INSERT_TERM);
      made[5] = c.prepareStatement(SearchIndex.INSERT_TIME);
    } catch (SQLException e) {
      closeAll(made);
      throw e;
    }
    insertBlock = made[0];
    findChain = made[1];
    addChain = made[2];
    newest = made[3];
    insertTerm = made[4];
    insertTime = made[5];
  }

  /**
   * Inserts the events in blocks, with {@code canonical.get(i)} the bytes of {@code events.get(i)}
   * ({@code null}: encoded here) and {@code hashes.get(i)} its hash's 32 bytes ({@code null}: parsed
   * from its hex here), and indexes them.
   */
  void insert(List<AuditEvent> events, List<byte[]> canonical, List<byte[]> hashes) throws SQLException {
    if (events.isEmpty()) return;
    long before = newestPosition();
    // Blocks are stored in the order given (their positions are the log's order).
    int start = 0;
    long chain = chainNumber(events.getFirst().chainId());
    for (int i = 1; i <= events.size(); i++) {
      boolean end = i == events.size() || i - start == BLOCK_EVENTS;
      if (!end) {
        AuditEvent e = events.get(i);
        AuditEvent previous = events.get(i - 1);
        end = e.seq() != previous.seq() + 1 || !e.chainId().equals(previous.chainId());
      }
      if (!end) continue;
      addBlock(chain, events, canonical, hashes, start, i);
      if (i < events.size() && !events.get(i).chainId().equals(events.get(start).chainId())) {
        chain = chainNumber(events.get(i).chainId());
      }
      start = i;
    }
    insertBlock.executeBatch();
    index(events, before);
  }

  /** Adds the block of events {@code from..to-1} (one chain, consecutive seqs) to the insert's batch. */
  private void addBlock(long chain, List<AuditEvent> events, List<byte[]> canonical, List<byte[]> given, int from, int to)
      throws SQLException {
    int n = to - from;
    // The events themselves are read only for what the caller did not give: they are cold in the cache.
    for (int i = 0; i < n; i++) {
      bytes[i] = canonical != null ? canonical.get(from + i) : AuditStore.canonicalBytes(events.get(from + i));
      hashes[i] = given != null ? given.get(from + i) : hashBytes(events.get(from + i).hash());
    }
    byte[] block = EventBlock.encode(hashes, bytes, n);
    Arrays.fill(hashes, 0, n, null);
    Arrays.fill(bytes, 0, n, null); // the caller's: not kept
    insertBlock.setLong(1, chain);
    insertBlock.setLong(2, events.get(from).seq());
    insertBlock.setLong(3, events.get(to - 1).seq());
    insertBlock.setBytes(4, block);
    insertBlock.addBatch();
  }

  /**
   * The search index rows for the events just inserted, whose blocks lie after position {@code
   * before} and up to the newest block now (on PostgreSQL, other nodes' blocks may lie there too:
   * the index may then name a bucket for a term in vain, which costs a search some reading, never a
   * result).
   */
  private void index(List<AuditEvent> events, long before) throws SQLException {
    for (AuditEvent e : events) terms.add(e);
    terms.addTo(insertTerm, insertTime, SearchIndex.bucket(before + 1), SearchIndex.bucket(newestPosition()));
    terms.clear();
    insertTerm.executeBatch();
    insertTime.executeBatch();
  }

  /** The newest block's position, 0 when there is none: cheap on both databases (the end of the primary key). */
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
    closeAll(insertBlock, findChain, addChain, newest, insertTerm, insertTime);
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
