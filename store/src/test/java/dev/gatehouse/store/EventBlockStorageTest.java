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
import dev.gatehouse.audit.EventType;
import dev.gatehouse.audit.SignedCheckpoint;
import java.nio.ByteBuffer;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Events stored in blocks, on SQLite and PostgreSQL: a batch becomes a block per run of consecutive
 * events of one chain, and every read crosses block boundaries as if events were rows; blocks that
 * overlap (someone with INSERT rights added one) yield every event they hold for the verifier to
 * catch; a block whose bytes were corrupted reads as unreadable, which verify reports and searches
 * pass over; a failed append leaves no block behind.
 */
class EventBlockStorageTest {
  private static BothStores stores;
  private static int chains;

  private final AuditSigner signer = AuditSigner.generate();

  @BeforeAll
  static void open() throws Exception {
    stores = BothStores.open("gh-blocks");
  }

  @AfterAll
  static void close() throws Exception {
    stores.close();
  }

  private static String newChain() {
    return "gw-9:%016x".formatted(++chains);
  }

  @ParameterizedTest
  @EnumSource(Dialect.class)
  void aBatchIsStoredAsBlocksOfConsecutiveEventsAndReadsAcrossThem(Dialect dialect) throws Exception {
    JdbcStore store = stores.store(dialect);
    AuditStore audit = store.audit();
    Chain a = new Chain(newChain());
    Chain b = new Chain(newChain());
    int full = EventBlockWriter.BLOCK_EVENTS;
    List<AuditEvent> batch = new ArrayList<>();
    for (int i = 0; i < 2 * full + 10; i++) batch.add(a.next()); // three blocks
    for (int i = 0; i < 3; i++) batch.add(b.next()); // another chain: a fourth
    for (int i = 0; i < 5; i++) batch.add(a.next()); // the first chain again: a fifth
    long before = count(store);
    audit.append(batch, batch.stream().map(AuditStore::canonicalBytes).toList(), null, Optional.empty());
    assertThat(count(store) - before).isEqualTo(5);

    assertThat(audit.tail(batch.size())).isEqualTo(batch);
    assertThat(audit.tail(7)).isEqualTo(batch.subList(batch.size() - 7, batch.size()));
    try (Stream<AuditEvent> events = audit.events(a.chainId)) {
      assertThat(events.toList()).isEqualTo(a.sealed);
    }
    assertThat(audit.find(a.chainId + ":" + full)).contains(a.sealed.get(full - 1));
    assertThat(audit.find(a.chainId + ":" + (full + 1))).contains(a.sealed.get(full));
    assertThat(audit.find(a.chainId + ":" + (a.sealed.size() + 1))).isEmpty();
    assertThat(audit.after(a.chainId + ":" + full, 3)).isEqualTo(batch.subList(full, full + 3));
    assertThat(audit.after(a.chainId + ":" + (2 * full + 9), 5)).isEqualTo(batch.subList(2 * full + 9, 2 * full + 14));
    assertThat(audit.after(a.chainId + ":1", batch.size())).isEqualTo(batch.subList(1, batch.size()));
    assertThat(audit.after(a.chainId + ":" + (a.sealed.size() + 1), 5)).isEmpty();
    assertThat(audit.lastSeq(a.chainId)).hasValue(a.sealed.size());
    assertThat(audit.lastSeq(b.chainId)).hasValue(3);
    assertThat(audit.lastSeq(newChain())).isEmpty();
  }

  @ParameterizedTest
  @EnumSource(Dialect.class)
  void tailAndAfterReadAcrossMorePagesOfBlocksThanOneQueryFetches(Dialect dialect) throws Exception {
    JdbcStore store = stores.store(dialect);
    AuditStore audit = store.audit();
    Chain a = new Chain(newChain());
    Chain b = new Chain(newChain());
    List<AuditEvent> batch = new ArrayList<>();
    for (int run = 0; run < 12; run++) { // 12 blocks of 2 events: more than the 8 blocks one query reads
      Chain c = run % 2 == 0 ? a : b;
      batch.add(c.next());
      batch.add(c.next());
    }
    long before = count(store);
    audit.append(batch, batch.stream().map(AuditStore::canonicalBytes).toList(), null, Optional.empty());
    assertThat(count(store) - before).isEqualTo(12);

    assertThat(audit.tail(batch.size())).isEqualTo(batch);
    assertThat(audit.tail(19)).isEqualTo(batch.subList(batch.size() - 19, batch.size()));
    assertThat(audit.after(a.chainId + ":1", batch.size())).isEqualTo(batch.subList(1, batch.size()));
    assertThat(audit.after(a.chainId + ":1", 19)).isEqualTo(batch.subList(1, 20));
  }

  @ParameterizedTest
  @EnumSource(Dialect.class)
  void blocksAddedOverAChainYieldEveryEventTheyHoldAndVerifyReportsThem(Dialect dialect) throws Exception {
    JdbcStore store = stores.store(dialect);
    ChainBuilder chain = new ChainBuilder(store.audit(), signer, newChain(), 8).commands(7).checkpoint().commands(7).close();
    List<AuditEvent> w = chain.written();
    // Someone who may only INSERT adds a block that repeats events 5 and 6, and one that starts where one of the chain's does.
    insertBlock(store, chain.chainId(), 5, w.subList(4, 6));
    insertBlock(store, chain.chainId(), 2, w.subList(1, 2));
    try (Stream<AuditEvent> events = store.audit().events(chain.chainId())) {
      List<AuditEvent> read = events.toList();
      assertThat(read).extracting(AuditEvent::seq).containsExactly(1L, 2L, 2L, 3L, 4L, 5L, 5L, 6L, 6L, 7L, 8L, 9L, 10L, 11L, 12L, 13L,
          14L, 15L, 16L);
      assertThat(read.subList(1, 3)).containsExactly(w.get(1), w.get(1));
    }
    assertThat(store.audit().find(chain.chainId() + ":5")).contains(w.get(4));
    ChainReport r = new AuditVerifier(store.audit(), List.of(signer.publicKey())).verify(chain.chainId());
    assertThat(r.status()).as(r.describe()).isEqualTo(ChainReport.Status.BROKEN);
    assertThat(r.firstBreak()).hasValueSatisfying(b -> assertThat(b.seq()).isEqualTo(2));
  }

  @ParameterizedTest
  @EnumSource(Dialect.class)
  void aCorruptedBlockIsReportedByVerifyAndPassedOverBySearches(Dialect dialect) throws Exception {
    JdbcStore store = stores.store(dialect);
    AuditStore audit = store.audit();
    SqlTamper tamper = new SqlTamper(store);
    String marker = "SELECT 'block corruption " + dialect + "'";
    Instant t = Instant.parse("2026-05-01T10:00:00Z");
    ChainBuilder chain = new ChainBuilder(audit, signer, newChain(), 8)
        .add(ChainBuilder.command(marker, t)).add(ChainBuilder.command(marker, t)).checkpoint() // seq 2..3, one block
        .add(ChainBuilder.command(marker, t)).add(ChainBuilder.command(marker, t)).checkpoint(); // seq 4..5, the block after it
    // Blocks: [1] (the chain's start, appended alone), [2, 3], [4, 5].
    byte[] intact = tamper.blockBytes(chain.chainId(), 2);
    byte[] hugeCount = intact.clone();
    ByteBuffer.wrap(hugeCount).putInt(1, Integer.MAX_VALUE);
    byte[] hugeLength = intact.clone();
    ByteBuffer.wrap(hugeLength).putInt(5, Integer.MAX_VALUE - 1);
    for (byte[] corrupted : List.of(Arrays.copyOf(intact, intact.length / 2), hugeCount, hugeLength, new byte[] {1, 0, 0, 0})) {
      tamper.setBlockBytes(chain.chainId(), 2, corrupted);
      ChainReport r = new AuditVerifier(audit, List.of(signer.publicKey())).verify(chain.chainId());
      assertThat(r.firstBreak()).as(r.describe()).hasValueSatisfying(b -> {
        assertThat(b.seq()).isEqualTo(2);
        assertThat(b.kind()).isEqualTo(ChainReport.Kind.EDITED);
      });
      assertThat(audit.search(AuditQuery.all(10).withText(marker))).extracting(AuditEvent::id)
          .containsExactly(chain.chainId() + ":4", chain.chainId() + ":5");
      assertThatThrownBy(() -> audit.find(chain.chainId() + ":3"))
          .isInstanceOf(AuditException.class).hasMessageContaining("cannot be read back");
      assertThat(audit.find(chain.chainId() + ":4")).contains(chain.written().get(3));
      // Reading the newest events works; reading into the block reports it as unreadable, as it does a single unreadable event.
      assertThat(audit.tail(2)).containsExactlyElementsOf(chain.written().subList(3, 5));
      assertThatThrownBy(() -> audit.tail(3)).isInstanceOf(AuditException.class).hasMessageContaining(chain.chainId() + ":2");
      assertThatThrownBy(() -> audit.after(chain.chainId() + ":1", 1)).isInstanceOf(AuditException.class);
    }
    tamper.setBlockBytes(chain.chainId(), 2, intact);
    ChainReport restored = new AuditVerifier(audit, List.of(signer.publicKey())).verify(chain.chainId());
    assertThat(restored.status()).as(restored.describe()).isEqualTo(ChainReport.Status.INTACT);
  }

  @ParameterizedTest
  @EnumSource(Dialect.class)
  void anAppendThatFailsLeavesNoBlockAndTheNextOneContinues(Dialect dialect) throws Exception {
    JdbcStore store = stores.store(dialect);
    AuditStore audit = store.audit();
    Chain a = new Chain(newChain());
    List<AuditEvent> first = new ArrayList<>();
    for (int i = 0; i < 300; i++) first.add(a.next());
    SignedCheckpoint cp = new SignedCheckpoint(a.chainId, 300, first.getLast().hash(), Instant.now(), "key", "signature");
    audit.append(first, first.stream().map(AuditStore::canonicalBytes).toList(), null, Optional.of(cp));
    long blocks = count(store);
    List<AuditEvent> second = new ArrayList<>();
    for (int i = 0; i < 300; i++) second.add(a.next());
    // The checkpoint at seq 300 again: its primary key refuses it after the events were inserted.
    assertThatThrownBy(() -> audit.append(second, second.stream().map(AuditStore::canonicalBytes).toList(), null, Optional.of(cp)))
        .isInstanceOf(StoreException.class);
    assertThat(count(store)).isEqualTo(blocks);
    assertThat(audit.lastSeq(a.chainId)).hasValue(300);
    assertThat(audit.tail(1)).containsExactly(first.getLast());
    audit.append(second, second.stream().map(AuditStore::canonicalBytes).toList(), null, Optional.empty());
    try (Stream<AuditEvent> events = audit.events(a.chainId)) {
      assertThat(events.toList()).isEqualTo(a.sealed);
    }
  }

  private static long count(JdbcStore store) throws SQLException {
    try (Connection c = store.dataSource().getConnection(); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT COUNT(*) FROM audit_events")) {
      rs.next();
      return rs.getLong(1);
    }
  }

  /** A block of copies of {@code events}, starting at {@code firstSeq}, added with a plain INSERT (no trigger stops it). */
  private static void insertBlock(JdbcStore store, String chainId, long firstSeq, List<AuditEvent> events) throws SQLException {
    try (Connection c = store.dataSource().getConnection();
        PreparedStatement ps = c.prepareStatement("INSERT INTO audit_events (chain, first_seq, last_seq, block)"
            + " VALUES (" + SqlTamper.CHAIN + ", ?, ?, ?)")) {
      ps.setString(1, chainId);
      ps.setLong(2, firstSeq);
      ps.setLong(3, firstSeq + events.size() - 1);
      ps.setBytes(4, EventBlock.encode(events.stream().map(e -> HexFormat.of().parseHex(e.hash())).toList(),
          events.stream().map(AuditStore::canonicalBytes).toList()));
      ps.executeUpdate();
    }
  }

  /** Events of one chain, sealed in order. */
  private static final class Chain {
    final String chainId;
    final List<AuditEvent> sealed = new ArrayList<>();

    Chain(String chainId) {
      this.chainId = chainId;
    }

    AuditEvent next() {
      AuditEvent e = AuditEvent.seal(chainId, sealed.size() + 1, sealed.isEmpty() ? AuditEvent.GENESIS : sealed.getLast().hash(),
          EventBody.of(EventType.SESSION_CLOSED, Instant.parse("2026-11-22T12:00:00Z").plusMillis(sealed.size()),
              Map.of("n", "" + sealed.size())));
      sealed.add(e);
      return e;
    }
  }
}
