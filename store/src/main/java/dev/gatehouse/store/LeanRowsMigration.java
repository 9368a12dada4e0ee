package dev.gatehouse.store;

import dev.gatehouse.audit.AuditEvent;
import dev.gatehouse.audit.AuditStore;
import dev.gatehouse.audit.EventBody;
import dev.gatehouse.audit.EventType;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.flywaydb.core.api.migration.Context;

/**
 * Schema version 5: a row of {@code audit_events} keeps only what nothing else holds, its chain's
 * number ({@code audit_chains}), seq, hash (32 bytes, not 64 characters) and canonical bytes; the
 * copies of searched fields and the per-row time index go, and searches use the coarse {@link
 * SearchIndex} instead (each byte and index entry per row was the audit writer's largest cost on
 * SQLite). Written in Java because the rows are read as version 4 read them: every row is copied, in
 * order and with its {@code pos}, into the new table, which then replaces the old one, and the
 * search index is built from the events as read.
 *
 * <p>Nothing is repaired. Version 4 read a row's searched fields from their columns, not from the
 * bytes: a row whose columns were edited is copied with the bytes of the event as it read (so it
 * still fails its hash), a row that did not read as an event is copied without bytes (so it still
 * reads as unreadable, reported as edited), and a stored hash that is not one (lower-case hex) is
 * kept as its text's bytes (so it still matches nothing). One transaction: all or nothing.
 */
final class LeanRowsMigration extends StoreMigration {
  private static final String VERSION_4_COLUMNS = "pos, chain_id, seq, time_us, type, principal_subject, principal_name, "
      + "resource_name, command_text, hash, event";
  private static final int BATCH = 1000;

  LeanRowsMigration(Dialect dialect) {
    super(dialect, 5, "audit events as key, hash and bytes, with a coarse search index");
  }

  @Override
  public void migrate(Context context) throws Exception {
    Connection c = context.getConnection();
    String bytes = bytesType();
    String identity = identityType();
    try (Statement s = c.createStatement()) {
      s.execute("CREATE TABLE audit_chains (id " + identity + ", chain_id TEXT NOT NULL UNIQUE)");
      s.execute("INSERT INTO audit_chains (chain_id) SELECT chain_id FROM audit_events GROUP BY chain_id ORDER BY MIN(pos)");
      s.execute("CREATE TABLE audit_events_v5 (pos " + identity + ", chain BIGINT NOT NULL, seq BIGINT NOT NULL, "
          + "hash " + bytes + " NOT NULL, event " + bytes + ")");
      createSearchTables(s);
    }
    copy(c, chainNumbers(c));
    try (Statement s = c.createStatement()) {
      s.execute("DROP TABLE audit_events");
      s.execute("ALTER TABLE audit_events_v5 RENAME TO audit_events");
      s.execute("CREATE UNIQUE INDEX audit_events_chain_seq ON audit_events (chain, seq)");
      continuePositions(s);
      for (String table : List.of("audit_events", "audit_chains", "audit_search_terms", "audit_search_times")) {
        appendOnly(s, table);
      }
    }
  }

  private static Map<String, Long> chainNumbers(Connection c) throws SQLException {
    Map<String, Long> numbers = new HashMap<>();
    try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT id, chain_id FROM audit_chains")) {
      while (rs.next()) numbers.put(rs.getString(2), rs.getLong(1));
    }
    return numbers;
  }

  private void copy(Connection c, Map<String, Long> chains) throws SQLException {
    String insert = "INSERT INTO audit_events_v5 (pos, chain, seq, hash, event)"
        + (dialect == Dialect.POSTGRESQL ? " OVERRIDING SYSTEM VALUE" : "") + " VALUES (?, ?, ?, ?, ?)";
    try (PreparedStatement read = c.prepareStatement("SELECT " + VERSION_4_COLUMNS + " FROM audit_events ORDER BY pos");
        PreparedStatement write = c.prepareStatement(insert);
        PreparedStatement terms = c.prepareStatement(SearchIndex.INSERT_TERM);
        PreparedStatement times = c.prepareStatement(SearchIndex.INSERT_TIME)) {
      read.setFetchSize(BATCH);
      SearchIndex.Terms bucketTerms = new SearchIndex.Terms();
      long bucket = Long.MIN_VALUE;
      int pending = 0;
      try (ResultSet rs = read.executeQuery()) {
        while (rs.next()) {
          long pos = rs.getLong(1);
          if (SearchIndex.bucket(pos) != bucket) {
            flush(bucketTerms, terms, times, bucket);
            bucket = SearchIndex.bucket(pos);
          }
          byte[] stored = rs.getBytes(11);
          Optional<Version4Row> row = version4Row(rs, stored);
          row.ifPresent(r -> bucketTerms.add(r.event()));
          write.setLong(1, pos);
          write.setLong(2, chains.get(rs.getString(2)));
          write.setLong(3, rs.getLong(3));
          write.setBytes(4, EventBlockWriter.hashBytes(rs.getString(10)));
          write.setBytes(5, row.map(r -> r.columnsAgree() ? stored : AuditStore.canonicalBytes(r.event())).orElse(null));
          write.addBatch();
          if (++pending == BATCH) {
            write.executeBatch();
            pending = 0;
          }
        }
      }
      if (pending > 0) write.executeBatch();
      flush(bucketTerms, terms, times, bucket);
    }
  }

  private static void flush(SearchIndex.Terms bucketTerms, PreparedStatement terms, PreparedStatement times, long bucket)
      throws SQLException {
    if (bucketTerms.isEmpty()) return;
    bucketTerms.addTo(terms, times, bucket, bucket);
    terms.executeBatch();
    times.executeBatch();
    bucketTerms.clear();
  }

  /** A version-4 row as that version read it, and whether its searched columns agreed with its bytes. */
  private record Version4Row(AuditEvent event, boolean columnsAgree) {}

  /**
   * The event a version-4 row read as: chain id, seq and hash from their columns, the rest from the
   * bytes, where the searched columns then won. Empty when it did not read as an event.
   */
  private static Optional<Version4Row> version4Row(ResultSet rs, byte[] stored) throws SQLException {
    try {
      if (stored == null) return Optional.empty();
      AuditEvent decoded = AuditStore.fromCanonicalBytes(stored);
      EventBody body = withColumns(decoded.body(), Instant.EPOCH.plus(rs.getLong(4), ChronoUnit.MICROS), rs.getString(5),
          rs.getString(6), rs.getString(7), rs.getString(8), rs.getString(9));
      AuditEvent event = new AuditEvent(rs.getString(2), rs.getLong(3), decoded.prevHash(), body, rs.getString(10), AuditEvent.FORMAT_V1);
      return Optional.of(new Version4Row(event, body == decoded.body()));
    } catch (RuntimeException e) {
      return Optional.empty();
    }
  }

  /** Version 4's overlay: the body with the searched columns' values where they differ from it (only after tampering). */
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
        : Optional.of(c == null ? new EventBody.CommandRecord("", text, List.of(), List.of(), List.of(), List.of(), Map.of())
            : new EventBody.CommandRecord(c.protocol(), text, c.kinds(), c.objects(), c.functions(), c.flags(), c.details()));
    return new EventBody(EventType.valueOf(type), time, b.sessionId(), actor, Optional.ofNullable(resource), b.client(), command,
        b.decision(), b.outcome(), b.ref(), b.attributes());
  }

  private static String orEmpty(String s) {
    return s == null ? "" : s;
  }
}
