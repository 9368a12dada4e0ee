package dev.gatehouse.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.gatehouse.audit.AuditEvent;
import dev.gatehouse.audit.AuditException;
import dev.gatehouse.audit.AuditQuery;
import dev.gatehouse.audit.AuditSigner;
import dev.gatehouse.audit.AuditStore;
import dev.gatehouse.audit.AuditVerifier;
import dev.gatehouse.audit.ChainBuilder;
import dev.gatehouse.audit.ChainReport;
import dev.gatehouse.audit.EventBody;
import dev.gatehouse.audit.InMemoryAuditStore;
import dev.gatehouse.audit.SignedCheckpoint;
import dev.gatehouse.core.ClientInfo;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Upgrading a store written by schema version 4 (canonical bytes with copies of the searched fields)
 * to version 5 (key, hash and bytes; a coarse search index): every row is kept, in order, reads back
 * as version 4 read it, verifies as before, and is found by searches; rows edited or unreadable
 * before the upgrade are still caught.
 */
class LeanRowsMigrationTest {
  private static final String EDITED_TEXT = "SELECT 'edited before the upgrade'";

  @TempDir Path tmp;

  private final AuditSigner signer = AuditSigner.generate();

  @Test
  void aVersion4SqliteStoreIsUpgradedWithoutLosingOrRepairingARow() throws Exception {
    OldStore.onSqlite(tmp, this::upgradeAndCheck);
  }

  @Test
  void aVersion4PostgresStoreIsUpgradedWithoutLosingOrRepairingARow() throws Exception {
    OldStore.onPostgres(this::upgradeAndCheck);
  }

  private void upgradeAndCheck(String url, Dialect dialect, OldStore.Connect connect, StoreConfig config) throws Exception {
    OldStore.migrateTo(url, dialect, "4", new CanonicalEventsMigration(dialect));

    InMemoryAuditStore written = new InMemoryAuditStore();
    Instant t = Instant.parse("2026-03-01T10:00:00.000001Z");
    // First an unreadable row, then more than a bucket of rows, so the chains searched below lie in
    // later buckets of the index than the row no search can read.
    ChainBuilder unreadable = ChainBuilder.v1(written, signer, "gw-1:0000000000000000", 8)
        .add(ChainBuilder.command("SELECT 'soon unreadable'", t))
        .add(ChainBuilder.command("SELECT 'soon unreadable'", t))
        .add(ChainBuilder.command("SELECT 'soon unreadable'", t))
        .checkpoint();
    ChainBuilder filler = ChainBuilder.v1(written, signer, "gw-1:ffffffffffffffff", 10_000)
        .commands(SearchIndex.BUCKET_BLOCKS * EventBlockWriter.BLOCK_EVENTS).checkpoint();
    ChainBuilder intact = ChainBuilder.v1(written, signer, "gw-1:aaaaaaaaaaaaaaaa", 8)
        .add(richEvent(t))
        .add(ChainBuilder.outcome("gw-1:aaaaaaaaaaaaaaaa:2", t.plusMillis(1)))
        .commands(4).checkpoint()
        .commands(2).close();
    ChainBuilder edited = ChainBuilder.v1(written, signer, "gw-1:bbbbbbbbbbbbbbbb", 8).commands(5).checkpoint();
    ChainBuilder rehashed = ChainBuilder.v1(written, signer, "gw-1:cccccccccccccccc", 8).commands(5).checkpoint();
    try (Connection c = connect.open()) {
      c.setAutoCommit(false);
      for (ChainBuilder chain : List.of(unreadable, filler, intact, edited, rehashed)) {
        insertVersion4(c, chain.written());
        for (SignedCheckpoint cp : written.checkpoints(chain.chainId())) OldStore.insertCheckpoint(c, cp);
      }
      c.commit();
      c.setAutoCommit(true);
      // Edited before the upgrade, as an insider would: the stored hash stays.
      try (var s = c.createStatement()) {
        s.execute(dialect == Dialect.SQLITE ? "DROP TRIGGER audit_events_no_update" : "ALTER TABLE audit_events DISABLE TRIGGER USER");
        s.execute("UPDATE audit_events SET command_text = '" + EDITED_TEXT.replace("'", "''") + "'"
            + " WHERE chain_id = 'gw-1:bbbbbbbbbbbbbbbb' AND seq = 4");
        s.execute("UPDATE audit_events SET type = 'NOTHING_HAPPENED' WHERE chain_id = 'gw-1:0000000000000000' AND seq = 3");
        // The same hash in upper case: version 4 compared it as text, so it did not match.
        s.execute("UPDATE audit_events SET hash = upper(hash) WHERE chain_id = 'gw-1:cccccccccccccccc' AND seq = 2");
      }
    }

    try (JdbcStore store = JdbcStore.open(config)) {
      AuditStore audit = store.audit();
      try (Stream<AuditEvent> read = audit.events(intact.chainId())) {
        assertThat(read.toList()).containsExactlyElementsOf(intact.written());
      }
      try (Stream<AuditEvent> read = audit.events(filler.chainId())) {
        assertThat(read.toList()).containsExactlyElementsOf(filler.written());
      }
      AuditVerifier verifier = new AuditVerifier(audit, List.of(signer.publicKey()));
      ChainReport ok = verifier.verify(intact.chainId());
      assertThat(ok.status()).as(ok.describe()).isEqualTo(ChainReport.Status.INTACT);
      assertEditedAt(verifier.verify(edited.chainId()), 4);
      assertEditedAt(verifier.verify(unreadable.chainId()), 3);
      assertEditedAt(verifier.verify(rehashed.chainId()), 2);

      // Searches find the upgraded rows through the index, and show what the rows held.
      AuditEvent rich = intact.written().get(1);
      assertThat(audit.search(AuditQuery.all(10).withPrincipal("Alice Ü"))).containsExactly(rich);
      assertThat(audit.search(AuditQuery.all(10).withResource("pg-prod").withText("üNï"))).containsExactly(rich);
      assertThat(audit.search(AuditQuery.all(10).withFrom(t).withTo(t.plusNanos(1000)).withPrincipal("alice")))
          .containsExactly(rich);
      assertThat(audit.search(AuditQuery.all(10).withText(EDITED_TEXT)))
          .singleElement().satisfies(e -> assertThat(e.id()).isEqualTo(edited.chainId() + ":4"));
      assertThat(audit.search(AuditQuery.all(3).withPrincipal("alice@example.com").withResource("pg-prod")))
          .extracting(AuditEvent::id).containsExactly(rehashed.chainId() + ":4", rehashed.chainId() + ":5", rehashed.chainId() + ":6");
      // The unreadable row matches nothing (verify reports it), and stops no search; reading it by id reports it.
      assertThat(audit.search(AuditQuery.all(10).withText("soon unreadable")))
          .extracting(AuditEvent::id).containsExactly(unreadable.chainId() + ":2", unreadable.chainId() + ":4");
      assertThatThrownBy(() -> audit.find(unreadable.chainId() + ":3"))
          .isInstanceOf(AuditException.class).hasMessageContaining("cannot be read back");

      // Storage order is kept, new events go after the old ones, and rows are still append-only.
      assertThat(audit.tail(1)).extracting(AuditEvent::id).containsExactly(rehashed.written().getLast().id());
      ChainBuilder after = ChainBuilder.v1(audit, signer, "gw-1:dddddddddddddddd", 8).commands(1).checkpoint();
      assertThat(audit.tail(1)).extracting(AuditEvent::id).containsExactly(after.written().getLast().id());
      assertThat(audit.after(rehashed.written().getLast().id(), 10)).hasSize(2);
      assertThat(audit.search(AuditQuery.all(10).withText("SELECT 2").withFrom(Instant.parse("2025-01-01T00:00:00Z"))))
          .extracting(AuditEvent::id).contains(after.written().getLast().id());
      try (Connection c = connect.open(); var s = c.createStatement()) {
        assertThatThrownBy(() -> s.executeUpdate("DELETE FROM audit_events"))
            .isInstanceOf(SQLException.class).hasMessageContaining("append-only");
      }
    }
  }

  private static void assertEditedAt(ChainReport report, long seq) {
    assertThat(report.firstBreak()).as(report.describe()).hasValueSatisfying(b -> {
      assertThat(b.seq()).isEqualTo(seq);
      assertThat(b.kind()).isEqualTo(ChainReport.Kind.EDITED);
    });
  }

  private static EventBody richEvent(Instant t) {
    return new EventBody(dev.gatehouse.audit.EventType.COMMAND_DECIDED, t, Optional.of("sess-1"),
        Optional.of(new EventBody.Actor("alice", "https://idp", "Alice Ü", "HUMAN", List.of("a", "b"))), Optional.of("pg-prod"),
        Optional.of(new ClientInfo("10.0.0.1:5000", "alice", "psql")),
        Optional.of(new EventBody.CommandRecord("simple", "SELECT 'ünï' -- \n;", List.of("SELECT"), List.of("public.t"),
            List.of("now"), List.of("NO_WHERE"), Map.of("k", "v"))),
        Optional.of(new EventBody.Ruling(EventBody.Ruling.Effect.DENY, "rule", Optional.of("why"))),
        Optional.empty(), Optional.empty(), Map.of("a", "1"));
  }

  /** Rows as schema version 4 stored them: the canonical bytes and copies of the searched fields. */
  private static void insertVersion4(Connection c, List<AuditEvent> events) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("INSERT INTO audit_events (chain_id, seq, time_us, type, principal_subject, "
        + "principal_name, resource_name, command_text, hash, event) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
      for (AuditEvent e : events) {
        EventBody b = e.body();
        EventBody.Actor a = b.principal().orElse(null);
        ps.setString(1, e.chainId());
        ps.setLong(2, e.seq());
        ps.setLong(3, ChronoUnit.MICROS.between(Instant.EPOCH, b.time()));
        ps.setString(4, b.type().name());
        ps.setString(5, a == null ? null : a.subject());
        ps.setString(6, a == null ? null : a.displayName());
        ps.setString(7, b.resource().orElse(null));
        ps.setString(8, b.command().map(EventBody.CommandRecord::text).orElse(null));
        ps.setString(9, e.hash());
        ps.setBytes(10, AuditStore.canonicalBytes(e));
        ps.addBatch();
      }
      ps.executeBatch();
    }
  }

}
