package dev.gatehouse.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gatehouse.audit.AuditEvent;
import dev.gatehouse.audit.AuditQuery;
import dev.gatehouse.audit.AuditSigner;
import dev.gatehouse.audit.ChainBuilder;
import dev.gatehouse.audit.EventBody;
import dev.gatehouse.audit.EventType;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Searches over a log of several index buckets, with chains appended in interleaved batches and one
 * chain appended late with old times (as recovery does), return exactly what a plain filter over
 * every stored event, newest first, returns.
 */
class AuditSearchTest {
  private static final Instant T0 = Instant.parse("2026-05-01T12:00:00.000001Z");
  private static final String[][] PRINCIPALS = {{"sub-alice", "Alice A."}, {"sub-bob", "Bob Builder"}, {"sub-carol", "Carol Ü"}};

  private static BothStores stores;
  /** Every event, in the order it was stored. */
  private static final List<AuditEvent> stored = new ArrayList<>();

  @BeforeAll
  static void writeALog() throws Exception {
    stores = BothStores.open("gh-audit-search");
    AuditSigner signer = AuditSigner.generate();
    // The same events go to both stores: the chains' events depend only on their bodies.
    List<ChainBuilder[]> chains = new ArrayList<>();
    for (JdbcStore store : List.of(stores.sqlite, stores.postgres)) {
      ChainBuilder[] c = new ChainBuilder[3];
      for (int k = 0; k < 3; k++) c[k] = new ChainBuilder(store.audit(), signer, "gw-" + k + ":" + Integer.toString(k).repeat(16), 100_000);
      chains.add(c);
    }
    for (int k = 0; k < 3; k++) stored.add(chains.getFirst()[k].written().getFirst());
    int events = 0;
    for (int batch = 0; batch < 40; batch++) {
      int chain = batch % 2;
      for (int n = 0; n < 250; n++, events++) {
        for (ChainBuilder[] c : chains) c[chain].add(body(events, T0.plusMillis(10L * events)));
      }
      flush(chains, chain);
    }
    // Appended last, with times in the middle of the log's (as a recovered chain's are).
    for (int i = 0; i < 300; i++) {
      for (ChainBuilder[] c : chains) c[2].add(body(i, T0.plusMillis(20_000 + 10L * i)));
    }
    flush(chains, 2);
  }

  private static void flush(List<ChainBuilder[]> chains, int chain) {
    int before = chains.getFirst()[chain].written().size();
    for (ChainBuilder[] c : chains) c[chain].flush();
    List<AuditEvent> written = chains.getFirst()[chain].written();
    stored.addAll(written.subList(before, written.size()));
  }

  static List<Dialect> stores() {
    return List.of(Dialect.SQLITE, Dialect.POSTGRESQL);
  }

  static List<AuditQuery> queries() {
    Instant middle = T0.plusMillis(20_500);
    return List.of(
        AuditQuery.all(50),
        AuditQuery.all(AuditQuery.MAX_LIMIT),
        AuditQuery.all(AuditQuery.MAX_LIMIT).withPrincipal("sub-bob"),
        AuditQuery.all(AuditQuery.MAX_LIMIT).withPrincipal("Carol Ü"),
        AuditQuery.all(20).withPrincipal("Alice A.").withResource("pg-dev"),
        AuditQuery.all(AuditQuery.MAX_LIMIT).withResource("pg-prod").withText("from orders"),
        AuditQuery.all(AuditQuery.MAX_LIMIT).withText("ÜNÏ"),
        AuditQuery.all(AuditQuery.MAX_LIMIT).withText("ünÏ"),
        AuditQuery.all(AuditQuery.MAX_LIMIT).withFrom(middle).withTo(middle.plusMillis(1_234)),
        AuditQuery.all(30).withTo(middle),
        // Around the first bucket boundary (position 4,096), inside one batch.
        AuditQuery.all(AuditQuery.MAX_LIMIT).withFrom(T0.plusMillis(40_900)).withTo(T0.plusMillis(41_200)),
        AuditQuery.all(AuditQuery.MAX_LIMIT).withFrom(T0.plusMillis(95_000)),
        AuditQuery.all(AuditQuery.MAX_LIMIT).withFrom(middle).withTo(middle.plusSeconds(3)).withPrincipal("sub-carol")
            .withResource("pg-prod").withText("select 1"),
        AuditQuery.all(10).withPrincipal("nobody"),
        AuditQuery.all(10).withTo(T0.minusSeconds(3_600)));
  }

  static Stream<Arguments> cases() {
    return stores().stream().flatMap(d -> queries().stream().map(q -> Arguments.of(d, q)));
  }

  @ParameterizedTest
  @MethodSource("cases")
  void aSearchReturnsTheNewestMatchingEventsOfTheWholeLog(Dialect dialect, AuditQuery q) {
    JdbcStore store = stores.store(dialect);
    List<AuditEvent> matching = stored.stream().filter(e -> matches(q, e)).toList();
    List<AuditEvent> expected = matching.subList(Math.max(0, matching.size() - q.limit()), matching.size());
    assertThat(store.audit().search(q)).isEqualTo(expected); // not containsExactly: its diff is quadratic
  }

  /** The query's contract (AuditQuery's javadoc), written out plainly. */
  private static boolean matches(AuditQuery q, AuditEvent e) {
    EventBody b = e.body();
    Function<String, String> lowerAscii = s -> {
      StringBuilder out = new StringBuilder(s.length());
      for (char c : s.toCharArray()) out.append(c >= 'A' && c <= 'Z' ? (char) (c + 32) : c);
      return out.toString();
    };
    return q.principal().map(p -> b.principal().map(a -> a.subject().equals(p) || a.displayName().equals(p)).orElse(false))
            .orElse(true)
        && q.resource().map(r -> b.resource().equals(Optional.of(r))).orElse(true)
        && q.from().map(f -> !b.time().isBefore(f)).orElse(true)
        && q.to().map(t -> b.time().isBefore(t)).orElse(true)
        && q.text().map(t -> b.command().map(c -> lowerAscii.apply(c.text()).contains(lowerAscii.apply(t))).orElse(false))
            .orElse(true);
  }

  @AfterAll
  static void close() throws Exception {
    stores.close();
  }

  /** Mixed principals, resources and texts; every seventh event an outcome without principal, resource or text. */
  private static EventBody body(int i, Instant time) {
    if (i % 7 == 0) {
      return new EventBody(EventType.COMMAND_COMPLETED, time, Optional.of("s"), Optional.empty(), Optional.empty(),
          Optional.empty(), Optional.empty(), Optional.empty(), Optional.of(new EventBody.Result("OK", 1, Optional.empty(), 1)),
          Optional.empty(), Map.of());
    }
    String[] p = PRINCIPALS[i % 3];
    return new EventBody(EventType.COMMAND_DECIDED, time, Optional.of("s"),
        Optional.of(new EventBody.Actor(p[0], "corp", p[1], "HUMAN", List.of())), Optional.of(i % 2 == 0 ? "pg-prod" : "pg-dev"),
        Optional.empty(), Optional.of(new EventBody.CommandRecord("sql", "SELECT " + i + (i % 5 == 0 ? " FROM Orders" : " -- ünï"),
            List.of("SELECT"), List.of(), List.of(), List.of(), Map.of())),
        Optional.empty(), Optional.empty(), Optional.empty(), Map.of());
  }
}
