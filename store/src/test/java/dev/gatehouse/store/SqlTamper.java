package dev.gatehouse.store;

import dev.gatehouse.audit.AuditEvent;
import dev.gatehouse.audit.SignedCheckpoint;
import dev.gatehouse.audit.StoreTamper;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import javax.sql.DataSource;

/**
 * Tampering with SQL, as someone holding the store's credentials would: first switching off the
 * append-only triggers (the table owner can), then editing rows directly.
 */
final class SqlTamper implements StoreTamper {
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

  @Override
  public void setCommandText(String chainId, long seq, String text) {
    update("UPDATE audit_events SET command_text = ? WHERE chain_id = ? AND seq = ?", text, chainId, seq);
  }

  @Override
  public void deleteEvent(String chainId, long seq) {
    update("DELETE FROM audit_events WHERE chain_id = ? AND seq = ?", chainId, seq);
  }

  @Override
  public void swapSeq(String chainId, long a, long b) {
    update("UPDATE audit_events SET seq = -1 WHERE chain_id = ? AND seq = ?", chainId, a);
    update("UPDATE audit_events SET seq = ? WHERE chain_id = ? AND seq = ?", a, chainId, b);
    update("UPDATE audit_events SET seq = ? WHERE chain_id = ? AND seq = -1", b, chainId);
  }

  @Override
  public void deleteEventsFrom(String chainId, long seq) {
    update("DELETE FROM audit_events WHERE chain_id = ? AND seq >= ?", chainId, seq);
  }

  @Override
  public void deleteCheckpointsFrom(String chainId, long seq) {
    update("DELETE FROM audit_checkpoints WHERE chain_id = ? AND seq >= ?", chainId, seq);
  }

  @Override
  public void replaceEvent(AuditEvent event) {
    try (Connection c = db.getConnection()) {
      c.setAutoCommit(false);
      try (PreparedStatement ps = c.prepareStatement("DELETE FROM audit_events WHERE chain_id = ? AND seq = ?")) {
        ps.setString(1, event.chainId());
        ps.setLong(2, event.seq());
        ps.executeUpdate();
      }
      JdbcAuditStore.insertEvents(c, List.of(event));
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
