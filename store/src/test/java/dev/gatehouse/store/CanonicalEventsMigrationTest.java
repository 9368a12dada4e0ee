package dev.gatehouse.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.gatehouse.audit.AuditEvent;
import dev.gatehouse.audit.AuditSigner;
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
import java.sql.Types;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Upgrading a store written by schema version 3 (a column per field) to version 4 (canonical bytes):
 * every row is kept, in order, reads back equal, verifies as before, and a row edited before the
 * upgrade is still caught.
 */
class CanonicalEventsMigrationTest {
  @TempDir Path tmp;

  private final AuditSigner signer = AuditSigner.generate();

  @Test
  void aVersion3SqliteStoreIsUpgradedWithoutLosingOrRepairingARow() throws Exception {
    OldStore.onSqlite(tmp, this::upgradeAndCheck);
  }

  @Test
  void aVersion3PostgresStoreIsUpgradedWithoutLosingOrRepairingARow() throws Exception {
    OldStore.onPostgres(this::upgradeAndCheck);
  }

  private void upgradeAndCheck(String url, Dialect dialect, OldStore.Connect connect, StoreConfig config) throws Exception {
    OldStore.migrateTo(url, dialect, dialect == Dialect.SQLITE ? "3" : "2"); // PostgreSQL has no version 3

    InMemoryAuditStore written = new InMemoryAuditStore();
    Instant t = Instant.parse("2026-03-01T10:00:00.000001Z");
    ChainBuilder intact = ChainBuilder.v1(written, signer, "gw-1:aaaaaaaaaaaaaaaa", 8)
        .add(richEvent(t))
        .add(ChainBuilder.outcome("gw-1:aaaaaaaaaaaaaaaa:2", t.plusMillis(1)))
        .commands(4).checkpoint()
        .commands(2).close();
    ChainBuilder edited = ChainBuilder.v1(written, signer, "gw-1:bbbbbbbbbbbbbbbb", 8).commands(5).checkpoint();
    try (Connection c = connect.open()) {
      for (ChainBuilder chain : List.of(intact, edited)) {
        for (AuditEvent e : chain.written()) insertLegacy(c, e);
        for (SignedCheckpoint cp : written.checkpoints(chain.chainId())) OldStore.insertCheckpoint(c, cp);
      }
      // Edited before the upgrade, as an insider would: the stored hash stays.
      try (var s = c.createStatement()) {
        s.execute(dialect == Dialect.SQLITE ? "DROP TRIGGER audit_events_no_update" : "ALTER TABLE audit_events DISABLE TRIGGER USER");
        s.execute("UPDATE audit_events SET command_text = 'SELECT 1' WHERE chain_id = 'gw-1:bbbbbbbbbbbbbbbb' AND seq = 4");
      }
    }

    try (JdbcStore store = JdbcStore.open(config)) {
      try (Stream<AuditEvent> read = store.audit().events(intact.chainId())) {
        assertThat(read.toList()).containsExactlyElementsOf(intact.written());
      }
      AuditVerifier verifier = new AuditVerifier(store.audit(), List.of(signer.publicKey()));
      ChainReport ok = verifier.verify(intact.chainId());
      assertThat(ok.status()).as(ok.describe()).isEqualTo(ChainReport.Status.INTACT);
      ChainReport broken = verifier.verify(edited.chainId());
      assertThat(broken.firstBreak()).hasValueSatisfying(b -> {
        assertThat(b.seq()).isEqualTo(4);
        assertThat(b.kind()).isEqualTo(ChainReport.Kind.EDITED);
      });
      // Storage order is kept, new events go after the old ones, and rows are still append-only.
      assertThat(store.audit().tail(1)).extracting(AuditEvent::id).containsExactly(edited.written().getLast().id());
      ChainBuilder after = ChainBuilder.v1(store.audit(), signer, "gw-1:cccccccccccccccc", 8).commands(1).checkpoint();
      assertThat(store.audit().tail(1)).extracting(AuditEvent::id).containsExactly(after.written().getLast().id());
      assertThat(store.audit().after(edited.written().getLast().id(), 10)).hasSize(2);
      try (Connection c = connect.open(); var s = c.createStatement()) {
        assertThatThrownBy(() -> s.executeUpdate("DELETE FROM audit_events"))
            .isInstanceOf(SQLException.class).hasMessageContaining("append-only");
      }
    }
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

  /** A row as schema version 3 stored it. */
  private static void insertLegacy(Connection c, AuditEvent e) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("INSERT INTO audit_events (chain_id, seq, time_us, type, session_id, "
        + "principal_subject, principal_issuer, principal_name, principal_kind, principal_groups, resource_name, client_address, "
        + "client_user, client_application, command_protocol, command_text, command_kinds, command_objects, command_functions, "
        + "command_flags, command_details, decision_effect, decision_rule, decision_reason, outcome_status, outcome_rows, "
        + "outcome_error, outcome_duration_ms, ref_event_id, attributes, prev_hash, hash) VALUES (" + "?, ".repeat(31) + "?)")) {
      EventBody b = e.body();
      EventBody.Actor a = b.principal().orElse(null);
      ClientInfo cl = b.client().orElse(null);
      EventBody.CommandRecord cmd = b.command().orElse(null);
      EventBody.Ruling d = b.decision().orElse(null);
      EventBody.Result o = b.outcome().orElse(null);
      Object[] v = {e.chainId(), e.seq(), ChronoUnit.MICROS.between(Instant.EPOCH, b.time()), b.type().name(),
          b.sessionId().orElse(null), a == null ? null : a.subject(), a == null ? null : a.issuer(),
          a == null ? null : a.displayName(), a == null ? null : a.kind(), a == null ? null : Netstrings.encode(a.groups()),
          b.resource().orElse(null), cl == null ? null : cl.address(), cl == null ? null : cl.claimedUser(),
          cl == null ? null : cl.application(), cmd == null ? null : cmd.protocol(), cmd == null ? null : cmd.text(),
          cmd == null ? null : Netstrings.encode(cmd.kinds()), cmd == null ? null : Netstrings.encode(cmd.objects()),
          cmd == null ? null : Netstrings.encode(cmd.functions()), cmd == null ? null : Netstrings.encode(cmd.flags()),
          cmd == null ? null : Netstrings.encode(cmd.details()), d == null ? null : d.effect().name(), d == null ? null : d.rule(),
          d == null ? null : d.reason().orElse(null), o == null ? null : o.status(), o == null ? null : o.rows(),
          o == null ? null : o.errorCode().orElse(null), o == null ? null : o.durationMillis(), b.ref().orElse(null),
          Netstrings.encode(b.attributes()), e.prevHash(), e.hash()};
      for (int i = 0; i < v.length; i++) {
        if (v[i] == null) ps.setNull(i + 1, i == 25 || i == 27 ? Types.BIGINT : Types.VARCHAR);
        else ps.setObject(i + 1, v[i]);
      }
      ps.executeUpdate();
    }
  }

}
