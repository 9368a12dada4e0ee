package dev.gatehouse.store;

import dev.gatehouse.audit.AuditEvent;
import dev.gatehouse.audit.AuditStore;
import dev.gatehouse.audit.EventBody;
import dev.gatehouse.audit.EventType;
import dev.gatehouse.core.ClientInfo;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Optional;
import org.flywaydb.core.api.migration.Context;

/**
 * Schema version 4: {@code audit_events} keeps each event's canonical bytes (what its hash covers)
 * in one column, {@code event}, with copies of the fields searches need, instead of a column per
 * field (32 values bound per event made the store the audit path's largest cost). Written in Java
 * because the bytes are computed from the old columns: every row is copied, in order and with its
 * {@code pos}, into the new table, which then replaces the old one (indexes and append-only triggers
 * as before). Nothing is repaired: a row edited before the upgrade is encoded as it reads, so it
 * still fails its hash; a row that cannot be read as an event at all is copied without bytes, and
 * reads as unreadable (reported as edited) as it did before. One transaction: all or nothing.
 */
final class CanonicalEventsMigration extends StoreMigration {
  private static final String LEGACY_COLUMNS = "pos, chain_id, seq, time_us, type, session_id, principal_subject, principal_issuer, "
      + "principal_name, principal_kind, principal_groups, resource_name, client_address, client_user, client_application, "
      + "command_protocol, command_text, command_kinds, command_objects, command_functions, command_flags, command_details, "
      + "decision_effect, decision_rule, decision_reason, outcome_status, outcome_rows, outcome_error, outcome_duration_ms, "
      + "ref_event_id, attributes, prev_hash, hash";
  private static final String VERSION_4_COLUMNS = "chain_id, seq, time_us, type, principal_subject, principal_name, "
      + "resource_name, command_text, hash, event";
  private static final int BATCH = 1000;

  CanonicalEventsMigration(Dialect dialect) {
    super(dialect, 4, "audit events as canonical bytes");
  }

  @Override
  public void migrate(Context context) throws Exception {
    Connection c = context.getConnection();
    try (Statement s = c.createStatement()) {
      s.execute("CREATE TABLE audit_events_v4 ("
          // SQLite: a plain rowid, not AUTOINCREMENT (whose bookkeeping cost about 0.8 us per insert):
          // rows are never deleted (triggers), so each new rowid is the largest plus one all the same.
          + (dialect == Dialect.SQLITE ? "pos INTEGER NOT NULL PRIMARY KEY, "
              : "pos BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, ")
          + "chain_id TEXT NOT NULL, seq BIGINT NOT NULL, time_us BIGINT NOT NULL, type TEXT NOT NULL, "
          + "principal_subject TEXT, principal_name TEXT, resource_name TEXT, command_text TEXT, hash TEXT NOT NULL, "
          + "event " + (dialect == Dialect.SQLITE ? "BLOB" : "BYTEA") + ")");
    }
    copy(c);
    try (Statement s = c.createStatement()) {
      s.execute("DROP TABLE audit_events");
      s.execute("ALTER TABLE audit_events_v4 RENAME TO audit_events");
      s.execute("CREATE UNIQUE INDEX audit_events_chain_seq ON audit_events (chain_id, seq)");
      s.execute("CREATE INDEX audit_events_time ON audit_events (time_us)");
      // As V2 and V3: no principal or resource indexes on the embedded store.
      if (dialect == Dialect.POSTGRESQL) {
        s.execute("CREATE INDEX audit_events_subject ON audit_events (principal_subject, time_us)");
        s.execute("CREATE INDEX audit_events_principal_name ON audit_events (principal_name, time_us)");
        s.execute("CREATE INDEX audit_events_resource ON audit_events (resource_name, time_us)");
      }
      continuePositions(s);
      appendOnly(s, "audit_events");
    }
  }

  private void copy(Connection c) throws SQLException {
    String insert = "INSERT INTO audit_events_v4 (pos, " + VERSION_4_COLUMNS + ")"
        + (dialect == Dialect.POSTGRESQL ? " OVERRIDING SYSTEM VALUE" : "") + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    try (PreparedStatement read = c.prepareStatement("SELECT " + LEGACY_COLUMNS + " FROM audit_events ORDER BY pos");
        PreparedStatement write = c.prepareStatement(insert)) {
      read.setFetchSize(BATCH);
      int pending = 0;
      try (ResultSet rs = read.executeQuery()) {
        while (rs.next()) {
          write.setLong(1, rs.getLong(1));
          write.setString(2, rs.getString(2));
          write.setLong(3, rs.getLong(3));
          write.setLong(4, rs.getLong(4));
          write.setString(5, rs.getString(5));
          write.setString(6, rs.getString(7));
          write.setString(7, rs.getString(9));
          write.setString(8, rs.getString(12));
          write.setString(9, rs.getString(17));
          write.setString(10, rs.getString(33));
          write.setBytes(11, legacyEvent(rs).map(AuditStore::canonicalBytes).orElse(null));
          write.addBatch();
          if (++pending == BATCH) {
            write.executeBatch();
            pending = 0;
          }
        }
      }
      if (pending > 0) write.executeBatch();
    }
  }

  /** A version-3 row as the event it was written from (the reader of that version); empty when it no longer reads as one. */
  private static Optional<AuditEvent> legacyEvent(ResultSet rs) throws SQLException {
    try {
      Optional<EventBody.Actor> actor = rs.getString(7) == null ? Optional.empty()
          : Optional.of(new EventBody.Actor(rs.getString(7), rs.getString(8), rs.getString(9), rs.getString(10),
              Netstrings.decodeList(rs.getString(11))));
      Optional<ClientInfo> client = rs.getString(13) == null ? Optional.empty()
          : Optional.of(new ClientInfo(rs.getString(13), rs.getString(14), rs.getString(15)));
      Optional<EventBody.CommandRecord> command = rs.getString(16) == null ? Optional.empty()
          : Optional.of(new EventBody.CommandRecord(rs.getString(16), rs.getString(17), Netstrings.decodeList(rs.getString(18)),
              Netstrings.decodeList(rs.getString(19)), Netstrings.decodeList(rs.getString(20)),
              Netstrings.decodeList(rs.getString(21)), Netstrings.decodeMap(rs.getString(22))));
      Optional<EventBody.Ruling> decision = rs.getString(23) == null ? Optional.empty()
          : Optional.of(new EventBody.Ruling(EventBody.Ruling.Effect.valueOf(rs.getString(23)), rs.getString(24),
              Optional.ofNullable(rs.getString(25))));
      Optional<EventBody.Result> outcome = rs.getString(26) == null ? Optional.empty()
          : Optional.of(new EventBody.Result(rs.getString(26), rs.getLong(27), Optional.ofNullable(rs.getString(28)), rs.getLong(29)));
      EventBody body = new EventBody(EventType.valueOf(rs.getString(5)), Instant.EPOCH.plus(rs.getLong(4), ChronoUnit.MICROS),
          Optional.ofNullable(rs.getString(6)), actor, Optional.ofNullable(rs.getString(12)), client, command, decision,
          outcome, Optional.ofNullable(rs.getString(30)), Netstrings.decodeMap(rs.getString(31)));
      return Optional.of(new AuditEvent(rs.getString(2), rs.getLong(3), rs.getString(32), body, rs.getString(33), AuditEvent.FORMAT_V1));
    } catch (RuntimeException e) {
      return Optional.empty();
    }
  }

}
