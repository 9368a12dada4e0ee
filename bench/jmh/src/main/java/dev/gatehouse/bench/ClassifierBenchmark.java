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
 * repeated query), through one that holds the text's template but never the text ({@code
 * template}: pgbench's simple protocol, where every text carries new numbers), and through one that
 * holds neither ({@code miss}: every text new, here by a comment that differs, so the cache adds
 * its lexing pass and bookkeeping to a full parse).
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

  @Param({"none", "hit", "template", "miss"})
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
      case "template" -> {
        classifier = new CachingClassifier(base, MISS_CACHE_ENTRIES);
        texts = new String[VARIANTS];
        for (int i = 0; i < VARIANTS; i++) texts[i] = text(statement, i);
        classifier.analyze(texts[0]);
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
    return text(statement, -1);
  }

  /** The statement with other numbers for each {@code variant} >= 0 (the same shape, a new text). */
  static String text(String statement, int variant) {
    String aid = variant < 0 ? "48213" : String.valueOf(1 + variant * 7919 % 100_000);
    String delta = variant < 0 ? "-2714" : String.valueOf(-1 - variant * 31 % 5000);
    return switch (statement) {
      // what pgbench -S sends in the simple protocol
      case "select" -> "SELECT abalance FROM pgbench_accounts WHERE aid = " + aid;
      case "insert" -> "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (3, 1, " + aid + ", " + delta + ", CURRENT_TIMESTAMP)";
      // pgbench's TPC-B-like transaction as one simple-protocol message
      case "multi5" -> "BEGIN; UPDATE pgbench_accounts SET abalance = abalance + " + delta + " WHERE aid = " + aid + "; "
          + "SELECT abalance FROM pgbench_accounts WHERE aid = " + aid + "; "
          + "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (3, 1, " + aid + ", " + delta + ", CURRENT_TIMESTAMP); COMMIT;";
      case "big2k" -> big(Math.max(variant, 0));
      default -> throw new IllegalArgumentException("statement " + statement);
    };
  }

  /** A reporting query of about 2 KiB: joins, a CTE, aggregates, CASE, an IN list. */
  private static String big(int variant) {
    StringBuilder in = new StringBuilder();
    for (int i = 0; in.length() < 900; i++) {
      if (i > 0) in.append(", ");
      in.append(10_000 + (i + variant) * 37 % 90_000);
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
