package dev.gatehouse.store;

import dev.gatehouse.audit.AuditEvent;
import dev.gatehouse.audit.ChainBuilder;
import dev.gatehouse.audit.AuditStore;
import dev.gatehouse.audit.SignedCheckpoint;
import dev.gatehouse.audit.StoreTamper;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import javax.sql.DataSource;

/**
 * Tampering with SQL, as someone holding the store's credentials would: first switching off the
 * append-only triggers (the table owner can), then editing rows directly. A row is a block of
 * consecutive events of one chain ({@link EventBlock}), named by chain number ({@link #CHAIN}) and
 * first seq: each tampering decodes the block holding the event, changes it and writes it back (or
 * splits it in two, or deletes it), as someone who read the documented layout would.
 */
final class SqlTamper implements StoreTamper {
  /** The number of chain {@code ?}. */
  static final String CHAIN = "(SELECT id FROM audit_chains WHERE chain_id = ?)";

  private final DataSource db;

  SqlTamper(JdbcStore store) {
    this.db = store.dataSource();
    switch (store.dialect()) {
      case SQLITE -> exec("DROP TRIGGER IF EXISTS audit_events_no_update", "DROP TRIGGER IF EXISTS audit_events_no_delete",
          "DROP TRIGGER IF EXISTS audit_checkpoints_no_update", "DROP TRIGGER IF EXISTS audit_checkpoints_no_delete");
      case POSTGRESQL -> exec("ALTER TABLE audit_events DISABLE TRIGGER USER",
          "ALTER TABLE audit_checkpoints DISABLE TRIGGER USER");
    }
  }

  /** A row of {@code audit_events}, decoded: its entries' hashes and bytes (null: none), to change and write back. */
  private static final class Block {
    final long pos;
    final long chain;
    long firstSeq;
    final List<byte[]> hashes = new ArrayList<>();
    final List<byte[]> events = new ArrayList<>();

    Block(long pos, long chain, long firstSeq, EventBlock decoded) {
      this.pos = pos;
      this.chain = chain;
      this.firstSeq = firstSeq;
      for (int i = 0; i < decoded.count(); i++) {
        hashes.add(decoded.hash(i));
        events.add(decoded.event(i).orElse(null));
      }
    }

    int indexOf(long seq) {
      long i = seq - firstSeq;
      return i >= 0 && i < hashes.size() ? (int) i : -1;
    }
  }

  /** The chain's blocks by first seq and position (only blocks that decode: the tamper tests make none that do not). */
  private List<Block> blocks(Connection c, String chainId) throws SQLException {
    List<Block> out = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement("SELECT pos, chain, first_seq, block FROM audit_events WHERE chain = " + CHAIN
        + " ORDER BY first_seq, pos")) {
      ps.setString(1, chainId);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          EventBlock decoded = EventBlock.decode(rs.getBytes(4)).orElseThrow(() -> new IllegalStateException("a block does not decode"));
          out.add(new Block(rs.getLong(1), rs.getLong(2), rs.getLong(3), decoded));
        }
      }
    }
    return out;
  }

  private Block holding(Connection c, String chainId, long seq) throws SQLException {
    return blocks(c, chainId).stream().filter(b -> b.indexOf(seq) >= 0).findFirst()
        .orElseThrow(() -> new IllegalStateException("no block holds " + chainId + ":" + seq));
  }

  /** Writes a changed block back in place; one left without entries is deleted. */
  private static void write(Connection c, Block b) throws SQLException {
    if (b.hashes.isEmpty()) {
      try (PreparedStatement ps = c.prepareStatement("DELETE FROM audit_events WHERE pos = ?")) {
        ps.setLong(1, b.pos);
        ps.executeUpdate();
      }
      return;
    }
    try (PreparedStatement ps = c.prepareStatement("UPDATE audit_events SET first_seq = ?, last_seq = ?, block = ? WHERE pos = ?")) {
      ps.setLong(1, b.firstSeq);
      ps.setLong(2, b.firstSeq + b.hashes.size() - 1);
      ps.setBytes(3, EventBlock.encode(b.hashes, b.events));
      ps.setLong(4, b.pos);
      ps.executeUpdate();
    }
  }

  /** Adds a block after all others. */
  private static void insert(Connection c, long chain, long firstSeq, List<byte[]> hashes, List<byte[]> events) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(EventBlockWriter.INSERT)) {
      ps.setLong(1, chain);
      ps.setLong(2, firstSeq);
      ps.setLong(3, firstSeq + hashes.size() - 1);
      ps.setBytes(4, EventBlock.encode(hashes, events));
      ps.executeUpdate();
    }
  }

  private interface Edit {
    void apply(Connection c) throws SQLException;
  }

  private void edit(Edit edit) {
    try (Connection c = db.getConnection()) {
      c.setAutoCommit(false);
      edit.apply(c);
      c.commit();
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Rewrites the event's bytes with another command text; its stored hash stays. */
  @Override
  public void setCommandText(String chainId, long seq, String text) {
    AuditEvent e = AuditStore.fromCanonicalBytes(chainId, eventBytes(chainId, seq), "(not used)").at(chainId, seq);
    setEventBytes(chainId, seq, AuditStore.canonicalBytes(ChainBuilder.withText(e, text)));
  }

  /** The canonical bytes the store holds for an event. */
  byte[] eventBytes(String chainId, long seq) {
    try (Connection c = db.getConnection()) {
      Block b = holding(c, chainId, seq);
      return b.events.get(b.indexOf(seq));
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Gives the event a type no event has, leaving the rest of its bytes: in a v1 event's bytes the
   * type's name (length-prefixed) becomes {@code NOTHING_HAPPENED}, in a v2 event's (tag {@code
   * GHE2}, seq, previous hash, then the type's code) the code becomes 127.
   */
  void setUnknownEventType(String chainId, long seq) {
    byte[] bytes = eventBytes(chainId, seq);
    if (new String(bytes, 0, 4, StandardCharsets.US_ASCII).equals("GHE2")) {
      byte[] edited = bytes.clone();
      edited[4 + 8 + 32] = 127;
      setEventBytes(chainId, seq, edited);
      return;
    }
    byte[] old = lengthPrefixed(AuditStore.fromCanonicalBytes(bytes).type().name());
    String hex = HexFormat.of().formatHex(bytes);
    int at = hex.indexOf(HexFormat.of().formatHex(old));
    if (at < 0 || at % 2 != 0) throw new IllegalStateException("type not found in the row's bytes");
    setEventBytes(chainId, seq, HexFormat.of().parseHex(hex.substring(0, at) + HexFormat.of().formatHex(lengthPrefixed("NOTHING_HAPPENED"))
        + hex.substring(at + old.length * 2)));
  }

  private static byte[] lengthPrefixed(String s) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    return ByteBuffer.allocate(4 + b.length).putInt(b.length).put(b).array();
  }

  void setEventBytes(String chainId, long seq, byte[] bytes) {
    edit(c -> {
      Block b = holding(c, chainId, seq);
      b.events.set(b.indexOf(seq), bytes);
      write(c, b);
    });
  }

  /** Overwrites the bytes of the block starting at {@code firstSeq} (its columns stay), as a corruption or a careless edit would. */
  void setBlockBytes(String chainId, long firstSeq, byte[] block) {
    update("UPDATE audit_events SET block = ? WHERE chain = " + CHAIN + " AND first_seq = ?", block, chainId, firstSeq);
  }

  /** The bytes of the block holding an event. */
  byte[] blockBytes(String chainId, long seq) {
    try (Connection c = db.getConnection()) {
      Block b = holding(c, chainId, seq);
      return EventBlock.encode(b.hashes, b.events);
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Removes the event from its block: the entries before it stay in place, those after it move to a new block after all others. */
  @Override
  public void deleteEvent(String chainId, long seq) {
    edit(c -> {
      Block b = holding(c, chainId, seq);
      int i = b.indexOf(seq);
      List<byte[]> laterHashes = new ArrayList<>(b.hashes.subList(i + 1, b.hashes.size()));
      List<byte[]> laterEvents = new ArrayList<>(b.events.subList(i + 1, b.events.size()));
      b.hashes.subList(i, b.hashes.size()).clear();
      b.events.subList(i, b.events.size()).clear();
      write(c, b);
      if (!laterHashes.isEmpty()) insert(c, b.chain, seq + 1, laterHashes, laterEvents);
    });
  }

  /** Swaps the two events' entries: each one's hash and bytes now sit at the other's seq. */
  @Override
  public void swapSeq(String chainId, long a, long b) {
    edit(c -> {
      Block x = holding(c, chainId, a);
      Block y = x.indexOf(b) >= 0 ? x : holding(c, chainId, b);
      int i = x.indexOf(a);
      int j = y.indexOf(b);
      byte[] hash = x.hashes.get(i);
      byte[] event = x.events.get(i);
      x.hashes.set(i, y.hashes.get(j));
      x.events.set(i, y.events.get(j));
      y.hashes.set(j, hash);
      y.events.set(j, event);
      write(c, x);
      if (y != x) write(c, y);
    });
  }

  /** Deletes the blocks from {@code seq} on, and cuts the block holding it. */
  @Override
  public void deleteEventsFrom(String chainId, long seq) {
    edit(c -> {
      for (Block b : blocks(c, chainId)) {
        if (b.firstSeq >= seq) {
          b.hashes.clear();
          b.events.clear();
          write(c, b);
        } else if (b.indexOf(seq) >= 0) {
          int i = b.indexOf(seq);
          b.hashes.subList(i, b.hashes.size()).clear();
          b.events.subList(i, b.events.size()).clear();
          write(c, b);
        }
      }
    });
  }

  @Override
  public void deleteCheckpointsFrom(String chainId, long seq) {
    update("DELETE FROM audit_checkpoints WHERE chain_id = ? AND seq >= ?", chainId, seq);
  }

  /** Puts every field of the event into the entry at its seq (a new block after all others if none holds it). */
  @Override
  public void replaceEvent(AuditEvent event) {
    byte[] hash = EventBlockWriter.hashBytes(event.hash());
    byte[] bytes = AuditStore.canonicalBytes(event);
    edit(c -> {
      Optional<Block> holding = blocks(c, event.chainId()).stream().filter(b -> b.indexOf(event.seq()) >= 0).findFirst();
      if (holding.isPresent()) {
        Block b = holding.get();
        b.hashes.set(b.indexOf(event.seq()), hash);
        b.events.set(b.indexOf(event.seq()), bytes);
        write(c, b);
      } else {
        long chain;
        try (PreparedStatement ps = c.prepareStatement("SELECT id FROM audit_chains WHERE chain_id = ?")) {
          ps.setString(1, event.chainId());
          try (ResultSet rs = ps.executeQuery()) {
            if (!rs.next()) throw new IllegalStateException("no chain " + event.chainId());
            chain = rs.getLong(1);
          }
        }
        insert(c, chain, event.seq(), List.of(hash), java.util.Collections.singletonList(bytes));
      }
    });
  }

  @Override
  public void replaceCheckpoint(SignedCheckpoint cp) {
    update("UPDATE audit_checkpoints SET hash = ?, time_us = ?, key_id = ?, signature = ? WHERE chain_id = ? AND seq = ?",
        cp.hash(), java.time.temporal.ChronoUnit.MICROS.between(java.time.Instant.EPOCH, cp.time()), cp.keyId(),
        cp.signature(), cp.chainId(), cp.seq());
  }

  void update(String sql, Object... args) {
    try (Connection c = db.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
      for (int i = 0; i < args.length; i++) ps.setObject(i + 1, args[i]);
      ps.executeUpdate();
    } catch (SQLException e) {
      throw new IllegalStateException(sql + ": " + e.getMessage(), e);
    }
  }

  private void exec(String... sql) {
    try (Connection c = db.getConnection(); Statement s = c.createStatement()) {
      for (String q : sql) s.execute(q);
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }
}
