package dev.gatehouse.postgres.sql;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * The template cache of {@link CachingClassifier}: whatever it answers, a full parse of the same
 * text (the uncached libpg_query classifier) answers the same, and it answers from a template only
 * where the rule of {@link TemplateShape} allows.
 */
class TemplateCacheTest {
  private static LibPgQueryClassifier libpg;

  /** Numbers that replace each literal of a text, of both scanner token types and signs around them. */
  private static final String[] INTEGERS = {"0", "7", "48213", "2147483647", "007"};
  private static final String[] OTHERS = {"2147483648", "1.5", ".5", "1.", "1e5", "2E-3", "99999999999999999999"};

  /** Texts beyond the corpus that stress where a number is and is not a literal. */
  private static final List<String> EDGE = List.of(
      "SELECT abalance FROM pgbench_accounts WHERE aid = 48213",
      "UPDATE pgbench_accounts SET abalance = abalance + -2714 WHERE aid = 48213",
      "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (3, 1, 48213, -2714, CURRENT_TIMESTAMP)",
      "BEGIN; UPDATE pgbench_tellers SET tbalance = tbalance + 5 WHERE tid = 3; COMMIT;",
      "SELECT -5, - 5, - /* c */ 5, 3-5, 3 - -5, -5.5, -2147483648, +5, x-1 FROM t",
      "SELECT 1e5, 1E+5, 1e-5, .5, 1., 1.5e3, 0.0, 00012 FROM t",
      "SELECT '5', E'\\'5', 'a''5', $$5$$, $q$ 5 $q$, U&'\\0035', B'101', X'1F', N'5' FROM t WHERE x = 5",
      "SELECT \"5\", \"a\"\"5\", U&\"\\0035\" FROM t5 WHERE c5 = 5",
      "SELECT a -- 5\nFROM t /* 5 /* 6 */ 7 */ WHERE b = 8",
      "SELECT a FROM t WHERE b IN (1, 2, 3) AND c BETWEEN 4 AND 5 LIMIT 10 OFFSET 20",
      "SELECT a FROM t FETCH FIRST 5 ROWS ONLY",
      "SELECT a[1], a[1:2], (b).c, x::numeric(10, 2), x::varchar(5), x::timestamp(3), x::char(0) FROM t",
      "SELECT 'ünïcødé', 5, '日本', 6 FROM t WHERE x = 7",
      "WITH d AS (DELETE FROM t WHERE id = 5 RETURNING *) SELECT * FROM d WHERE n > 1",
      "VALUES (1, 'a'), (2, 'b')",
      "SELECT sum(x) OVER (ROWS BETWEEN 1 PRECEDING AND 2 FOLLOWING) FROM t",
      "SELECT 1 + 1; SELECT 2",
      "select 1 -- trailing\n; BEGIN; select 1 + 1",
      "SELECT 1..2",
      "SELECT 1 FROM t WHERE $1 = 5",
      "SELECT nextval('s'), 5",
      "SELECT pg_read_file('/etc/passwd', 0, 100)",
      "SELECT lower(x), 5 FROM t",
      "SELECT 5 AS five UNION ALL SELECT 6",
      "BEGIN ISOLATION LEVEL SERIALIZABLE; SELECT 5; SAVEPOINT s; SELECT pg_sleep(5); RELEASE s; END");

  @BeforeAll
  static void load() {
    libpg = LibPgQuerySupport.classifier();
  }

  @TestFactory
  Stream<DynamicTest> everyCorpusTextAndItsVariantsAreClassifiedAsAFullParseWould() {
    List<String> texts = new ArrayList<>();
    for (Corpus.Entry e : Corpus.entries()) texts.add(e.sql());
    texts.addAll(EDGE);
    CachingClassifier cache = new CachingClassifier(LibPgQueryClassifier.create());
    Random random = new Random(42);
    return texts.stream().map(sql -> DynamicTest.dynamicTest(label(sql), () -> {
      List<String> variants = new ArrayList<>();
      variants.add(sql);
      for (int round = 0; round < 4; round++) variants.add(variant(sql, random, round % 2 == 0));
      variants.add(sql);
      for (String v : variants) {
        assertThat(cache.analyze(v)).as(label(v)).isEqualTo(libpg.analyze(v));
      }
    }));
  }

  @Test
  void theCorpusVariantsAreMostlyAnsweredFromTemplates() {
    // Proves the test above exercises template hits, not only misses.
    CachingClassifier cache = new CachingClassifier(LibPgQueryClassifier.create());
    Random random = new Random(7);
    for (String sql : EDGE) {
      cache.analyze(sql);
      for (int i = 0; i < 3; i++) cache.analyze(variant(sql, random, false));
    }
    assertThat(cache.templateHits()).isGreaterThanOrEqualTo(15);
  }

  @Test
  void pgbenchStatementsWithNewNumbersAreAnsweredFromOneTemplate() {
    CachingClassifier cache = new CachingClassifier(LibPgQueryClassifier.create());
    for (int aid = 1; aid <= 100; aid++) {
      String sql = "SELECT abalance FROM pgbench_accounts WHERE aid = " + (aid * 7919 % 100000);
      Analysis a = cache.analyze(sql);
      assertThat(a).isEqualTo(libpg.analyze(sql));
      assertThat(a.statements().get(0).text()).isEqualTo(sql);
    }
    assertThat(cache.templateHits()).as("all but the first two texts").isEqualTo(98);
    assertThat(cache.size()).as("the template and the first two texts").isEqualTo(3);
  }

  @Test
  void statementTextsAndRedactedTextsComeFromTheCurrentText() {
    CachingClassifier cache = new CachingClassifier(LibPgQueryClassifier.create());
    cache.analyze("BEGIN; UPDATE t SET v = v + 1 WHERE id = 2; SELECT v FROM t WHERE id = 3; COMMIT");
    cache.analyze("BEGIN; UPDATE t SET v = v + 7 WHERE id = 8; SELECT v FROM t WHERE id = 9; COMMIT");
    Analysis a = cache.analyze("BEGIN; UPDATE t SET v = v + 123456 WHERE id = 2.5e10; SELECT v FROM t WHERE id = 33333; COMMIT");
    assertThat(cache.templateHits()).isZero(); // 2.5e10 is another token type: another template
    Analysis b = cache.analyze("BEGIN; UPDATE t SET v = v + 123456 WHERE id = 22; SELECT v FROM t WHERE id = 33333; COMMIT");
    assertThat(cache.templateHits()).isOne();
    assertThat(b.statements()).extracting(ClassifiedStatement::text).containsExactly(
        "BEGIN", "UPDATE t SET v = v + 123456 WHERE id = 22", "SELECT v FROM t WHERE id = 33333", "COMMIT");
    assertThat(b.statements()).extracting(ClassifiedStatement::redactedText).containsExactly(
        "BEGIN", "UPDATE t SET v = v + 123456 WHERE id = 22", "SELECT v FROM t WHERE id = 33333", "COMMIT");
    assertThat(a).isEqualTo(libpg.analyze("BEGIN; UPDATE t SET v = v + 123456 WHERE id = 2.5e10; SELECT v FROM t WHERE id = 33333; COMMIT"));
  }

  /** Each text is analysed, then two texts with other numbers: none may come from a template. */
  @TestFactory
  Stream<DynamicTest> disqualifiedTextsAreNeverAnsweredFromATemplate() {
    return Stream.of(
        // positional references: the number names a column
        new String[] {"SELECT name, email FROM customers ORDER BY 2", "SELECT name, email FROM customers ORDER BY 1"},
        new String[] {"SELECT name, email FROM customers ORDER BY (2)", "SELECT name, email FROM customers ORDER BY (1)"},
        new String[] {"SELECT name, email FROM customers ORDER BY -1", "SELECT name, email FROM customers ORDER BY -2"},
        new String[] {"SELECT name, count(*) FROM customers GROUP BY 1", "SELECT name, count(*) FROM customers GROUP BY 2"},
        new String[] {"SELECT a, b FROM t GROUP BY (1, 2)", "SELECT a, b FROM t GROUP BY (2, 1)"},
        new String[] {"SELECT a, b FROM t GROUP BY ROLLUP (1, 2)", "SELECT a, b FROM t GROUP BY ROLLUP (2, 1)"},
        new String[] {"SELECT DISTINCT ON (1) a, b FROM t", "SELECT DISTINCT ON (2) a, b FROM t"},
        new String[] {"SELECT a FROM t UNION SELECT b FROM u ORDER BY 1", "SELECT a FROM t UNION SELECT b FROM u ORDER BY 2"},
        new String[] {"SELECT rank() OVER (ORDER BY 1) FROM t", "SELECT rank() OVER (ORDER BY 2) FROM t"},
        new String[] {"SELECT array_agg(a ORDER BY 1) FROM t", "SELECT array_agg(a ORDER BY 2) FROM t"},
        new String[] {"SELECT a FROM t ORDER BY a + 1 LIMIT 5", "SELECT a FROM t ORDER BY a + 2 LIMIT 5"},
        // settings and utility statements
        new String[] {"SET standard_conforming_strings = 0", "SET standard_conforming_strings = 1"},
        new String[] {"SET statement_timeout = 5000", "SET statement_timeout = 0"},
        new String[] {"SELECT set_config('statement_timeout', '5', false), 5", "SELECT set_config('statement_timeout', '5', false), 6"},
        new String[] {"SHOW work_mem; SELECT 1", "SHOW work_mem; SELECT 2"},
        new String[] {"FETCH 5 FROM c", "FETCH 6 FROM c"},
        new String[] {"EXPLAIN SELECT a FROM t WHERE b = 5", "EXPLAIN SELECT a FROM t WHERE b = 6"},
        new String[] {"PREPARE p AS SELECT a FROM t WHERE b = 5", "PREPARE p AS SELECT a FROM t WHERE b = 6"},
        new String[] {"COPY (SELECT 5) TO STDOUT", "COPY (SELECT 6) TO STDOUT"},
        new String[] {"SELECT 5 INTO t2", "SELECT 6 INTO t2"},
        new String[] {"CREATE TABLE t (a varchar(5))", "CREATE TABLE t (a varchar(6))"},
        new String[] {"ALTER SEQUENCE s RESTART 5", "ALTER SEQUENCE s RESTART 6"},
        // numbers the grammar does not keep as values
        new String[] {"SELECT x::float(24) FROM t", "SELECT x::float(25) FROM t"},
        new String[] {"SELECT x::int[3] FROM t", "SELECT x::int[4] FROM t"},
        // a redacted literal next to the numbers
        new String[] {"SELECT crypt('secret', gen_salt('bf', 8)), 5", "SELECT crypt('secret', gen_salt('bf', 9)), 6"},
        // unparseable, and PostgreSQL 16 literals that 15's grammar refuses
        new String[] {"SELEC 5", "SELEC 6"},
        new String[] {"SELECT 0x1F", "SELECT 0x2F"},
        new String[] {"SELECT 1_000", "SELECT 2_000"},
        new String[] {"SELECT 5abc", "SELECT 6abc"})
        .map(pair -> DynamicTest.dynamicTest(label(pair[0]), () -> {
          CachingClassifier cache = new CachingClassifier(LibPgQueryClassifier.create());
          for (String sql : List.of(pair[0], pair[1], renumbered(pair[0]))) {
            assertThat(cache.analyze(sql)).as(sql).isEqualTo(libpg.analyze(sql));
          }
          assertThat(cache.templateHits()).as("template hits").isZero();
        }));
  }

  @Test
  void aTemplateIsNotUsedForAPositionalOrderByWhoseColumnIsMasked() {
    // ColumnUse does not resolve positions: a template from ORDER BY 1 (name) must not answer ORDER BY 2 (card).
    CachingClassifier cache = new CachingClassifier(LibPgQueryClassifier.create());
    cache.analyze("SELECT name, card FROM customers WHERE id > 10 ORDER BY 1");
    cache.analyze("SELECT name, card FROM customers WHERE id > 12 ORDER BY 1");
    Analysis second = cache.analyze("SELECT name, card FROM customers WHERE id > 11 ORDER BY 2");
    assertThat(cache.templateHits()).isZero();
    assertThat(second.statements().get(0).text()).endsWith("ORDER BY 2");
  }

  @Test
  void threadsSharingOneSmallCacheGetWhatAFullParseGives() throws Exception {
    // A small cache, so that templates, marks and texts are evicted while other threads read them.
    CachingClassifier cache = new CachingClassifier(LibPgQueryClassifier.create(), 8);
    List<Thread> threads = new ArrayList<>();
    List<Throwable> failures = java.util.Collections.synchronizedList(new ArrayList<>());
    for (int n = 0; n < 4; n++) {
      Random random = new Random(n);
      threads.add(Thread.ofPlatform().start(() -> {
        try {
          for (int i = 0; i < 400; i++) {
            String sql = variant(EDGE.get(random.nextInt(EDGE.size())), random, random.nextInt(4) == 0);
            assertThat(cache.analyze(sql)).as(sql).isEqualTo(libpg.analyze(sql));
          }
        } catch (Throwable e) {
          failures.add(e);
        }
      }));
    }
    for (Thread t : threads) t.join();
    assertThat(failures).isEmpty();
    assertThat(cache.templateHits()).isPositive();
    assertThat(cache.size()).isLessThanOrEqualTo(8);
  }

  @Test
  void theFallbackIsNeverTemplated() {
    CachingClassifier cache = new CachingClassifier(new FallbackClassifier());
    cache.analyze("SELECT a FROM t WHERE id = 1");
    cache.analyze("SELECT a FROM t WHERE id = 2");
    cache.analyze("SELECT a FROM t WHERE id = 3");
    assertThat(cache.templateHits()).isZero();
    assertThat(cache.size()).as("three texts, no template").isEqualTo(3);
  }

  @Test
  void templatesAndExactTextsShareTheEntryBound() {
    CachingClassifier cache = new CachingClassifier(LibPgQueryClassifier.create(), 3);
    for (int i = 0; i < 10; i++) {
      cache.analyze("SELECT c" + i + " FROM t WHERE id = " + i); // a template each
      cache.analyze("SELECT c" + i + " FROM t ORDER BY 1"); // an exact text each
    }
    assertThat(cache.size()).isEqualTo(3);
  }

  /** {@code sql} with each number replaced by another of the same scanner token type, unlike any used in these tests. */
  static String renumbered(String sql) {
    return replaceNumbers(sql, integer -> integer ? "4242" : "42.42");
  }

  /** {@code sql} with each number token replaced: by one of the same scanner type, or by any when {@code anyType}. */
  static String variant(String sql, Random random, boolean anyType) {
    return replaceNumbers(sql, integer -> {
      String[] pool = anyType ? (random.nextBoolean() ? INTEGERS : OTHERS) : integer ? INTEGERS : OTHERS;
      return pool[random.nextInt(pool.length)];
    });
  }

  /** {@code sql} with each number token replaced by what {@code replacement} gives for its type (true: ICONST). */
  private static String replaceNumbers(String sql, java.util.function.Function<Boolean, String> replacement) {
    StringBuilder out = new StringBuilder();
    int copied = 0;
    for (int i = 0; i < sql.length(); ) {
      Lexer.Token t = Lexer.next(sql, i);
      if (t.kind() == Lexer.Kind.ERROR) break;
      if (t.kind() == Lexer.Kind.NUMBER) {
        out.append(sql, copied, t.start()).append(replacement.apply(Template.isInteger(sql, t.start(), t.end())));
        copied = t.end();
      }
      i = t.end();
    }
    return out.append(sql, copied, sql.length()).toString();
  }

  private static String label(String sql) {
    String s = sql.replace("\n", "\\n").replace("\0", "\\0");
    if (s.isBlank()) return "(blank: \"" + s + "\")";
    return s.length() > 90 ? s.substring(0, 90) + "…" : s;
  }
}
