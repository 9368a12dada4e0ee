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
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Upgrading a store written by schema version 5 (a row per event) to version 6 (a row per block of
 * consecutive events): every row is carried over in storage order and reads back as version 5 read
 * it, rows of one chain with consecutive seqs share blocks, and nothing is repaired: a row without
 * bytes, an edited row, a hash that is not lower-case hex, a duplicated and two swapped rows are all
 * still there for {@code verify} to report. Searches find the carried-over events through the
 * rebuilt index.
 */
class EventBlocksMigrationTest {
  private static final String EDITED_TEXT = "SELECT 'edited before the upgrade'";

  @TempDir Path tmp;

  private final AuditSigner signer = AuditSigner.generate();

  @Test
  void aVersion5SqliteStoreIsUpgradedToBlocksWithoutLosingOrRepairingARow() throws Exception {
    OldStore.onSqlite(tmp, this::upgradeAndCheck);
  }

  @Test
  void aVersion5PostgresStoreIsUpgradedToBlocksWithoutLosingOrRepairingARow() throws Exception {
    OldStore.onPostgres(this::upgradeAndCheck);
  }

  @Test
  void aNewStoreIsCreatedAtVersion6WithBlocks() throws Exception {
    try (BothStores both = BothStores.open("gh-v6")) {
      for (JdbcStore store : List.of(both.sqlite, both.postgres)) {
        try (Connection c = store.dataSource().getConnection(); Statement s = c.createStatement()) {
          try (ResultSet rs = s.executeQuery("SELECT MAX(CAST(version AS INTEGER)) FROM gatehouse_schema_history")) {
            rs.next();
            assertThat(rs.getInt(1)).as(store.dialect().name()).isEqualTo(6);
          }
          try (ResultSet rs = s.executeQuery("SELECT pos, chain, first_seq, last_seq, block FROM audit_events")) {
            assertThat(rs.getMetaData().getColumnCount()).isEqualTo(5);
          }
        }
      }
    }
  }

  /** A version-5 row: chain id, seq, stored hash bytes and canonical bytes (null: none). */
  private record Row(String chainId, long seq, byte[] hash, byte[] event) {
    static Row of(AuditEvent e) {
      return new Row(e.chainId(), e.seq(), HexFormat.of().parseHex(e.hash()), AuditStore.canonicalBytes(e));
    }

    /** What version 5 read from this row. */
    AuditEvent read() {
      return AuditStore.fromCanonicalBytes(chainId, event, HexFormat.of().formatHex(hash)).at(chainId, seq);
    }
  }

  private void upgradeAndCheck(String url, Dialect dialect, OldStore.Connect connect, StoreConfig config) throws Exception {
    OldStore.migrateTo(url, dialect, "5", new CanonicalEventsMigration(dialect), new LeanRowsMigration(dialect));

    InMemoryAuditStore written = new InMemoryAuditStore();
    Instant t = Instant.parse("2026-03-01T10:00:00.000001Z");
    ChainBuilder unreadable = ChainBuilder.v1(written, signer, "gw-1:0000000000000000", 8)
        .add(ChainBuilder.command("SELECT 'soon unreadable'", t))
        .add(ChainBuilder.command("SELECT 'soon unreadable'", t))
        .add(ChainBuilder.command("SELECT 'soon unreadable'", t))
        .checkpoint();
    // More than a bucket of full blocks, with a rare principal in the first bucket and a rare resource in the last.
    ChainBuilder longChain = ChainBuilder.v1(written, signer, "gw-1:aaaaaaaaaaaaaaaa", 10_000)
        .add(rare(t, "Alice Ü", "pg-prod"))
        .commands(SearchIndex.BUCKET_BLOCKS * EventBlockWriter.BLOCK_EVENTS + 100)
        .add(rare(t.plusSeconds(60), "alice@example.com", "pg-far"))
        .close();
    ChainBuilder other = ChainBuilder.v1(written, signer, "gw-1:bbbbbbbbbbbbbbbb", 8).commands(5).checkpoint();
    ChainBuilder edited = ChainBuilder.v1(written, signer, "gw-1:cccccccccccccccc", 8).commands(5).checkpoint();
    ChainBuilder rehashed = ChainBuilder.v1(written, signer, "gw-1:dddddddddddddddd", 8).commands(5).checkpoint();
    ChainBuilder duplicated = ChainBuilder.v1(written, signer, "gw-1:eeeeeeeeeeeeeeee", 8).commands(5).checkpoint();
    ChainBuilder swapped = ChainBuilder.v1(written, signer, "gw-1:ffffffffffffffff", 8).commands(5).checkpoint();

    // Storage order: the unreadable chain, the long one interrupted by another chain, the rest; a
    // duplicate of one row last.
    List<Row> rows = new ArrayList<>();
    unreadable.written().forEach(e -> rows.add(e.seq() == 3 ? new Row(e.chainId(), 3, Row.of(e).hash(), null) : Row.of(e)));
    List<AuditEvent> longEvents = longChain.written();
    longEvents.subList(0, 300).forEach(e -> rows.add(Row.of(e)));
    other.written().forEach(e -> rows.add(Row.of(e)));
    longEvents.subList(300, longEvents.size()).forEach(e -> rows.add(Row.of(e)));
    for (AuditEvent e : edited.written()) {
      rows.add(e.seq() == 4 ? new Row(e.chainId(), 4, Row.of(e).hash(), AuditStore.canonicalBytes(ChainBuilder.withText(e, EDITED_TEXT)))
          : Row.of(e));
    }
    for (AuditEvent e : rehashed.written()) {
      rows.add(e.seq() == 2 ? new Row(e.chainId(), 2, e.hash().toUpperCase().getBytes(StandardCharsets.UTF_8), Row.of(e).event())
          : Row.of(e));
    }
    duplicated.written().forEach(e -> rows.add(Row.of(e)));
    List<AuditEvent> s = swapped.written();
    for (AuditEvent e : s) {
      long seq = e.seq() == 5 ? 6 : e.seq() == 6 ? 5 : e.seq();
      rows.add(new Row(e.chainId(), seq, Row.of(e).hash(), Row.of(e).event()));
    }
    rows.add(Row.of(duplicated.written().get(2)));

    List<ChainBuilder> chains = List.of(unreadable, longChain, other, edited, rehashed, duplicated, swapped);
    try (Connection c = connect.open()) {
      c.setAutoCommit(false);
      try (Statement st = c.createStatement()) {
        // Version 5's unique index, dropped by someone who then duplicated a row.
        st.execute("DROP INDEX audit_events_chain_seq");
      }
      insertVersion5(c, rows);
      for (ChainBuilder chain : chains) {
        for (SignedCheckpoint cp : written.checkpoints(chain.chainId())) OldStore.insertCheckpoint(c, cp);
      }
      c.commit();
    }

    try (JdbcStore store = JdbcStore.open(config)) {
      AuditStore audit = store.audit();
      // Each chain reads as version 5 read it: by seq, equal seqs in storage order.
      for (ChainBuilder chain : chains.subList(1, chains.size())) {
        List<AuditEvent> expected = rows.stream().filter(r -> r.chainId().equals(chain.chainId()))
            .sorted(Comparator.comparingLong(Row::seq)).map(Row::read).toList();
        try (Stream<AuditEvent> read = audit.events(chain.chainId())) {
          assertThat(read.toList()).as(chain.chainId()).containsExactlyElementsOf(expected);
        }
      }
      try (Stream<AuditEvent> read = audit.events(duplicated.chainId())) {
        assertThat(read.map(AuditEvent::seq).toList()).containsExactly(1L, 2L, 3L, 3L, 4L, 5L, 6L);
      }
      // Storage order is kept: everything after the unreadable chain, in the order stored.
      int afterUnreadable = unreadable.written().size();
      assertThat(audit.tail(rows.size() - afterUnreadable))
          .containsExactlyElementsOf(rows.subList(afterUnreadable, rows.size()).stream().map(Row::read).toList());
      assertThat(audit.after(unreadable.chainId() + ":4", 3)).extracting(AuditEvent::id)
          .containsExactly(longChain.chainId() + ":1", longChain.chainId() + ":2", longChain.chainId() + ":3");
      // Consecutive rows of a chain share blocks: one per run, at most BLOCK_EVENTS long.
      assertThat(single(store, "SELECT COUNT(*) FROM audit_events")).isEqualTo(blocks(rows));

      AuditVerifier verifier = new AuditVerifier(audit, List.of(signer.publicKey()));
      for (ChainBuilder intact : List.of(longChain, other)) {
        ChainReport ok = verifier.verify(intact.chainId());
        assertThat(ok.status()).as(ok.describe()).isEqualTo(ChainReport.Status.INTACT);
      }
      assertBreak(verifier.verify(unreadable.chainId()), 3, ChainReport.Kind.EDITED);
      assertBreak(verifier.verify(edited.chainId()), 4, ChainReport.Kind.EDITED);
      assertBreak(verifier.verify(rehashed.chainId()), 2, ChainReport.Kind.EDITED);
      assertBreak(verifier.verify(swapped.chainId()), 5, ChainReport.Kind.LINK_BROKEN);
      assertThat(verifier.verify(duplicated.chainId()).firstBreak()).hasValueSatisfying(b -> assertThat(b.seq()).isEqualTo(3));
      assertThatThrownBy(() -> audit.find(unreadable.chainId() + ":3"))
          .isInstanceOf(AuditException.class).hasMessageContaining("cannot be read back");
      assertThat(audit.find(edited.chainId() + ":4")).hasValueSatisfying(e -> assertThat(e.hashMatches()).isFalse());

      // The rebuilt index finds events in the first and the last bucket; unreadable events match nothing.
      assertThat(audit.search(AuditQuery.all(10).withPrincipal("Alice Ü"))).extracting(AuditEvent::id)
          .containsExactly(longChain.chainId() + ":2");
      assertThat(audit.search(AuditQuery.all(10).withResource("pg-far"))).extracting(AuditEvent::id)
          .containsExactly(longEvents.get(longEvents.size() - 2).id());
      assertThat(audit.search(AuditQuery.all(10).withText(EDITED_TEXT))).extracting(AuditEvent::id)
          .containsExactly(edited.chainId() + ":4");
      assertThat(audit.search(AuditQuery.all(10).withText("soon unreadable"))).extracting(AuditEvent::id)
          .containsExactly(unreadable.chainId() + ":2", unreadable.chainId() + ":4");

      // New events go after the old ones, and rows are still append-only.
      ChainBuilder after = ChainBuilder.v1(audit, signer, "gw-1:1111111111111111", 8).commands(1).checkpoint();
      assertThat(audit.tail(1)).extracting(AuditEvent::id).containsExactly(after.written().getLast().id());
      assertThat(audit.after(duplicated.chainId() + ":3", 10)).extracting(AuditEvent::id).startsWith(duplicated.chainId() + ":4");
      assertThat(audit.lastSeq(longChain.chainId())).hasValue(longChain.seq());
      try (Connection c = connect.open(); Statement st = c.createStatement()) {
        for (String sql : List.of("DELETE FROM audit_events", "UPDATE audit_search_terms SET bucket = 0",
            "DELETE FROM audit_search_times")) {
          assertThatThrownBy(() -> st.executeUpdate(sql)).as(sql).isInstanceOf(SQLException.class).hasMessageContaining("append-only");
        }
      }
    }
  }

  /** The blocks version 6 makes of the rows: a new one at another chain, a seq that does not follow, or a full block. */
  private static long blocks(List<Row> rows) {
    long blocks = 0;
    int size = 0;
    Row previous = null;
    for (Row r : rows) {
      boolean follows = previous != null && r.chainId().equals(previous.chainId()) && r.seq() == previous.seq() + 1
          && size < EventBlockWriter.BLOCK_EVENTS;
      if (follows) {
        size++;
      } else {
        blocks++;
        size = 1;
      }
      previous = r;
    }
    return blocks;
  }

  private static void assertBreak(ChainReport report, long seq, ChainReport.Kind kind) {
    assertThat(report.firstBreak()).as(report.describe()).hasValueSatisfying(b -> {
      assertThat(b.seq()).isEqualTo(seq);
      assertThat(b.kind()).isEqualTo(kind);
    });
  }

  private static long single(JdbcStore store, String sql) throws SQLException {
    try (Connection c = store.dataSource().getConnection(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    }
  }

  private static EventBody rare(Instant t, String principal, String resource) {
    EventBody b = ChainBuilder.command("SELECT 'rare'", t);
    return new EventBody(b.type(), b.time(), b.sessionId(),
        Optional.of(new EventBody.Actor("sub-rare", "corp", principal, "HUMAN", List.of())), Optional.of(resource), b.client(),
        b.command(), b.decision(), b.outcome(), b.ref(), b.attributes());
  }

  /** Rows as schema version 5 stored them, in this order: chain number, seq, hash bytes, canonical bytes. */
  private static void insertVersion5(Connection c, List<Row> rows) throws SQLException {
    Map<String, Long> numbers = new LinkedHashMap<>();
    try (PreparedStatement add = c.prepareStatement("INSERT INTO audit_chains (chain_id) VALUES (?)");
        PreparedStatement find = c.prepareStatement("SELECT id FROM audit_chains WHERE chain_id = ?");
        PreparedStatement ps = c.prepareStatement("INSERT INTO audit_events (chain, seq, hash, event) VALUES (?, ?, ?, ?)")) {
      for (Row r : rows) {
        if (!numbers.containsKey(r.chainId())) {
          add.setString(1, r.chainId());
          add.executeUpdate();
          find.setString(1, r.chainId());
          try (ResultSet rs = find.executeQuery()) {
            rs.next();
            numbers.put(r.chainId(), rs.getLong(1));
          }
        }
        ps.setLong(1, numbers.get(r.chainId()));
        ps.setLong(2, r.seq());
        ps.setBytes(3, r.hash());
        ps.setBytes(4, r.event());
        ps.addBatch();
      }
      ps.executeBatch();
    }
  }

}
