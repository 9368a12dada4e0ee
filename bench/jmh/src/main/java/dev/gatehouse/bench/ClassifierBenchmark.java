package dev.gatehouse.bench;

import dev.gatehouse.postgres.sql.Analysis;
import dev.gatehouse.postgres.sql.CachingClassifier;
import dev.gatehouse.postgres.sql.LibPgQueryClassifier;
import dev.gatehouse.postgres.sql.SqlClassifier;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Classification cost per statement text (issue #3): {@code SqlClassifier.analyze} on libpg_query
 * and on the fallback, for a few typical texts, without a cache, through a {@link
 * CachingClassifier} that already holds the text ({@code hit}: a prepared statement's Parse, a
 * repeated query), and through one that never holds it ({@code miss}: pgbench's simple protocol,
 * where every text carries new literals, so the cache only adds its own bookkeeping).
 *
 * <p>Texts of more than 1 KiB are parsed by libpg_query on a big-stack platform thread (deep parse
 * trees overflowed virtual-thread stacks), so {@code big2k} includes that hand-off.
 *
 * <p>Not a test: nothing asserts. Run as described in bench/README.md.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC"})
public class ClassifierBenchmark {
  /** Distinct texts per statement for {@code miss}: eight times the miss cache's capacity. */
  private static final int VARIANTS = 8192;
  private static final int MISS_CACHE_ENTRIES = 1024;

  @Param({"libpg_query", "fallback"})
  public String engine;

  @Param({"none", "hit", "miss"})
  public String cache;

  @Param({"select", "insert", "multi5", "big2k"})
  public String statement;

  private SqlClassifier classifier;
  private String[] texts;
  private int next;

  @Setup(Level.Trial)
  public void setUp() {
    SqlClassifier base = switch (engine) {
      case "libpg_query" -> LibPgQueryClassifier.create(); // throws when the native library is missing
      case "fallback" -> SqlClassifier.fallback();
      default -> throw new IllegalArgumentException("engine " + engine);
    };
    String text = text(statement);
    switch (cache) {
      case "none" -> {
        classifier = base;
        texts = new String[] {text};
      }
      case "hit" -> {
        classifier = new CachingClassifier(base);
        texts = new String[] {text};
        classifier.analyze(text);
      }
      case "miss" -> {
        classifier = new CachingClassifier(base, MISS_CACHE_ENTRIES);
        texts = new String[VARIANTS];
        for (int i = 0; i < VARIANTS; i++) texts[i] = text + " -- run " + i;
      }
      default -> throw new IllegalArgumentException("cache " + cache);
    }
  }

  @Benchmark
  public Analysis analyze() {
    String text = texts[next];
    next = next + 1 == texts.length ? 0 : next + 1;
    return classifier.analyze(text);
  }

  static String text(String statement) {
    return switch (statement) {
      // what pgbench -S sends in the simple protocol
      case "select" -> "SELECT abalance FROM pgbench_accounts WHERE aid = 48213";
      case "insert" -> "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (3, 1, 48213, -2714, CURRENT_TIMESTAMP)";
      // pgbench's TPC-B-like transaction as one simple-protocol message
      case "multi5" -> "BEGIN; UPDATE pgbench_accounts SET abalance = abalance + -2714 WHERE aid = 48213; "
          + "SELECT abalance FROM pgbench_accounts WHERE aid = 48213; "
          + "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (3, 1, 48213, -2714, CURRENT_TIMESTAMP); COMMIT;";
      case "big2k" -> big();
      default -> throw new IllegalArgumentException("statement " + statement);
    };
  }

  /** A reporting query of about 2 KiB: joins, a CTE, aggregates, CASE, an IN list. */
  private static String big() {
    StringBuilder in = new StringBuilder();
    for (int i = 0; in.length() < 900; i++) {
      if (i > 0) in.append(", ");
      in.append(10_000 + i * 37);
    }
    String sql = "WITH recent AS (SELECT o.customer_id, o.id AS order_id, o.total, o.created_at FROM orders o "
        + "WHERE o.created_at >= now() - interval '30 days' AND o.status IN ('paid', 'shipped', 'delivered')) "
        + "SELECT c.id, c.name, c.email, c.country, count(r.order_id) AS orders, sum(r.total) AS revenue, "
        + "avg(r.total) AS average, max(r.created_at) AS last_order, "
        + "CASE WHEN sum(r.total) > 10000 THEN 'gold' WHEN sum(r.total) > 1000 THEN 'silver' ELSE 'bronze' END AS tier "
        + "FROM customers c JOIN recent r ON r.customer_id = c.id LEFT JOIN addresses a ON a.customer_id = c.id "
        + "AND a.kind = 'billing' WHERE c.deleted_at IS NULL AND c.id IN (" + in + ") "
        + "GROUP BY c.id, c.name, c.email, c.country HAVING count(r.order_id) > 2 "
        + "ORDER BY revenue DESC NULLS LAST, c.id LIMIT 100 OFFSET 0";
    StringBuilder padded = new StringBuilder(sql);
    while (padded.length() < 2048) padded.append(' ');
    return padded.toString();
  }
}
