package dev.gatehouse.store;

import dev.gatehouse.audit.AuditEvent;
import dev.gatehouse.audit.AuditStore;
import dev.gatehouse.audit.EventBody;
import dev.gatehouse.audit.SignedCheckpoint;
import dev.gatehouse.audit.StoreTamper;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import javax.sql.DataSource;

/**
 * Tampering with SQL, as someone holding the store's credentials would: first switching off the
 * append-only triggers (the table owner can), then editing rows directly. A row names its chain by
 * number ({@link #CHAIN}) and holds the event as canonical bytes, which an edit rewrites.
 */
final class SqlTamper implements StoreTamper {
  /** The number of chain {@code ?}. */
  static final String CHAIN = "(SELECT id FROM audit_chains WHERE chain_id = ?)";

  private final DataSource db;
  private final Dialect dialect;

  SqlTamper(JdbcStore store) {
    this.db = store.dataSource();
    this.dialect = store.dialect();
    switch (store.dialect()) {
      case SQLITE -> exec("DROP TRIGGER IF EXISTS audit_events_no_update", "DROP TRIGGER IF EXISTS audit_events_no_delete",
          "DROP TRIGGER IF EXISTS audit_checkpoints_no_update", "DROP TRIGGER IF EXISTS audit_checkpoints_no_delete");
      case POSTGRESQL -> exec("ALTER TABLE audit_events DISABLE TRIGGER USER",
          "ALTER TABLE audit_checkpoints DISABLE TRIGGER USER");
    }
  }

  /** Rewrites the row's bytes with another command text; its stored hash stays. */
  @Override
  public void setCommandText(String chainId, long seq, String text) {
    AuditEvent e = AuditStore.fromCanonicalBytes(eventBytes(chainId, seq));
    EventBody b = e.body();
    EventBody.CommandRecord c = b.command().orElseThrow();
    EventBody edited = new EventBody(b.type(), b.time(), b.sessionId(), b.principal(), b.resource(), b.client(),
        Optional.of(new EventBody.CommandRecord(c.protocol(), text, c.kinds(), c.objects(), c.functions(), c.flags(), c.details())),
        b.decision(), b.outcome(), b.ref(), b.attributes());
    setEventBytes(chainId, seq, AuditStore.canonicalBytes(new AuditEvent(e.chainId(), e.seq(), e.prevHash(), edited, e.hash())));
  }

  /** The canonical bytes a row holds. */
  byte[] eventBytes(String chainId, long seq) {
    try (Connection c = db.getConnection();
        PreparedStatement ps = c.prepareStatement("SELECT event FROM audit_events WHERE chain = " + CHAIN + " AND seq = ?")) {
      ps.setString(1, chainId);
      ps.setLong(2, seq);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) throw new IllegalStateException("no row " + chainId + ":" + seq);
        return rs.getBytes(1);
      }
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Renames the event type in the row's bytes (length-prefixed, as the encoding writes strings), leaving the rest. */
  void setEventType(String chainId, long seq, String type) {
    byte[] bytes = eventBytes(chainId, seq);
    byte[] old = lengthPrefixed(AuditStore.fromCanonicalBytes(bytes).type().name());
    String hex = HexFormat.of().formatHex(bytes);
    int at = hex.indexOf(HexFormat.of().formatHex(old));
    if (at < 0 || at % 2 != 0) throw new IllegalStateException("type not found in the row's bytes");
    setEventBytes(chainId, seq, HexFormat.of().parseHex(hex.substring(0, at) + HexFormat.of().formatHex(lengthPrefixed(type))
        + hex.substring(at + old.length * 2)));
  }

  private static byte[] lengthPrefixed(String s) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    return ByteBuffer.allocate(4 + b.length).putInt(b.length).put(b).array();
  }

  void setEventBytes(String chainId, long seq, byte[] bytes) {
    update("UPDATE audit_events SET event = ? WHERE chain = " + CHAIN + " AND seq = ?", bytes, chainId, seq);
  }

  @Override
  public void deleteEvent(String chainId, long seq) {
    update("DELETE FROM audit_events WHERE chain = " + CHAIN + " AND seq = ?", chainId, seq);
  }

  @Override
  public void swapSeq(String chainId, long a, long b) {
    update("UPDATE audit_events SET seq = -1 WHERE chain = " + CHAIN + " AND seq = ?", chainId, a);
    update("UPDATE audit_events SET seq = ? WHERE chain = " + CHAIN + " AND seq = ?", a, chainId, b);
    update("UPDATE audit_events SET seq = ? WHERE chain = " + CHAIN + " AND seq = -1", b, chainId);
  }

  @Override
  public void deleteEventsFrom(String chainId, long seq) {
    update("DELETE FROM audit_events WHERE chain = " + CHAIN + " AND seq >= ?", chainId, seq);
  }

  @Override
  public void deleteCheckpointsFrom(String chainId, long seq) {
    update("DELETE FROM audit_checkpoints WHERE chain_id = ? AND seq >= ?", chainId, seq);
  }

  @Override
  public void replaceEvent(AuditEvent event) {
    try (Connection c = db.getConnection()) {
      c.setAutoCommit(false);
      try (PreparedStatement ps = c.prepareStatement("DELETE FROM audit_events WHERE chain = " + CHAIN + " AND seq = ?")) {
        ps.setString(1, event.chainId());
        ps.setLong(2, event.seq());
        ps.executeUpdate();
      }
      JdbcAuditStore.insertEvents(c, dialect, List.of(event));
      c.commit();
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
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
