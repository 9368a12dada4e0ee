package dev.gatehouse.postgres.sql;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gatehouse.core.CommandFlag;
import java.util.List;
import org.junit.jupiter.api.Test;

class FallbackClassifierTest {
  private final FallbackClassifier fallback = new FallbackClassifier();

  private boolean unclassified(String sql) {
    return fallback.analyze(sql).unclassified();
  }

  @Test
  void splitsOnlyOnSemicolonsOutsideStringsCommentsAndDollarQuotes() {
    Analysis a = fallback.analyze("SELECT 'a;b' AS x; /* ; /* ; */ ; */ SELECT $q$;$q$ AS y; SELECT E'\\';' AS z");
    assertThat(a.statements()).extracting(ClassifiedStatement::text)
        .containsExactly("SELECT 'a;b' AS x", "/* ; /* ; */ ; */ SELECT $q$;$q$ AS y", "SELECT E'\\';' AS z");
    assertThat(a.unclassified()).isFalse();
  }

  @Test
  void aWhereThatNamesNoColumnIsNoWhereAsLibpgQuerySaysToo() {
    // Review round 20: WHERE true passed the rule on no_where; the fallback reads what it recognises
    // as libpg_query's classification does (a bare WHERE true it does not recognise: unclassified).
    for (String s : List.of("DELETE FROM t WHERE true IS TRUE", "UPDATE t SET a = 1 WHERE 1 = 1", "DELETE FROM t WHERE NOT 1 = 2",
        "DELETE FROM t WHERE ('a' = 'a' OR 2 IS NULL)")) {
      assertThat(fallback.analyze(s).combined().flags()).as(s).containsExactlyInAnyOrder(CommandFlag.DATA_MODIFYING, CommandFlag.NO_WHERE);
    }
    for (String s : List.of("DELETE FROM t WHERE id = id", "UPDATE t SET a = 1 WHERE 1 = 1 AND id = 7")) {
      assertThat(fallback.analyze(s).combined().flags()).as(s).containsExactly(CommandFlag.DATA_MODIFYING);
    }
  }

  @Test
  void everyFunctionCallIsUnclassified() {
    for (String s : List.of("SELECT lower(a) FROM t", "SELECT * FROM f()", "SELECT * FROM t WHERE a = f(1)",
        "INSERT INTO t VALUES (now())", "UPDATE t SET a = g(a) WHERE id = 1", "SELECT count (*) FROM t",
        "SELECT \"lower\"(a) FROM t", "SELECT pg_catalog.lower(a) FROM t")) {
      assertThat(unclassified(s)).as(s).isTrue();
    }
  }

  @Test
  void shapesBeyondTheListAreUnclassified() {
    for (String s : List.of("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", "SELECT * FROM (SELECT 1) s",
        "SELECT a::int FROM t", "SELECT date '2020-01-01'", "SET ROLE x", "DROP TABLE t", "COPY t TO STDOUT",
        "SELECT * FROM t FOR UPDATE", "SELECT a FROM t UNION SELECT b FROM u", "SELECT U&\"d\\0061ta\" FROM t",
        "SELECT a FROM t WHERE b <~> c", "EXPLAIN SELECT 1", "DO $$ $$", "SELECT 1 FROM t WHERE a = ANY($1)",
        "SELECT \"" + "x".repeat(64) + "\" FROM t", "SELECT a FROM t WHERE a IN (SELECT b FROM u)")) {
      assertThat(unclassified(s)).as(s).isTrue();
    }
  }

  @Test
  void reservedWordsAreNeverTakenForNames() {
    assertThat(unclassified("SELECT user FROM t")).isTrue();
    assertThat(unclassified("SELECT current_user")).isTrue();
    assertThat(unclassified("SELECT a FROM t natural JOIN u")).isTrue();
  }

  @Test
  void lexerErrorsMakeTheWholeTextOneUnclassifiedStatement() {
    for (String s : List.of("SELECT 'x", "SELECT 1; /* open", "SELECT $a$ x", "SELECT 1 \\; DROP TABLE t", "SELECT \"\" FROM t")) {
      Analysis a = fallback.analyze(s);
      assertThat(a.statements()).as(s).hasSize(1);
      assertThat(a.unclassified()).as(s).isTrue();
    }
  }

  @Test
  void recognisedShapesAreClassifiedLikeTheParserWould() {
    Analysis a = fallback.analyze("BEGIN; UPDATE \"Accounts\" SET balance = 0; DELETE FROM s.t WHERE id = $1; COMMIT");
    assertThat(a.combined().kinds()).containsExactly("BEGIN", "UPDATE", "DELETE", "COMMIT");
    assertThat(a.combined().objects()).containsExactlyInAnyOrder("Accounts", "s.t");
    assertThat(a.combined().flags()).containsExactlyInAnyOrder(
        CommandFlag.TRANSACTION_CONTROL, CommandFlag.DATA_MODIFYING, CommandFlag.NO_WHERE);
    assertThat(a.changesParsing()).isFalse();
  }

  @Test
  void unrecognisedStatementsHaveTheirLiteralsRedacted() {
    ClassifiedStatement s = fallback.analyze("CREATE ROLE x PASSWORD 'pw1'").statements().get(0);
    assertThat(s.redactedText()).isEqualTo("CREATE ROLE x PASSWORD '***'");
    assertThat(s.changesParsing()).isTrue();
  }

  @Test
  void nulAndLoneSurrogatesAreUnclassified() {
    assertThat(unclassified("SELECT 1\0; DROP TABLE t")).isTrue();
    assertThat(unclassified("SELECT a FROM t WHERE b = '\uD800'")).isTrue();
  }

  @Test
  void hugeAndDeepInputsDoNotThrow() {
    assertThat(unclassified("SELECT a FROM t WHERE " + "(".repeat(100_000) + "a = 1" + ")".repeat(100_000))).isTrue();
    StringBuilder sb = new StringBuilder("INSERT INTO t (a) VALUES ");
    while (sb.length() < 1 << 20) sb.append("(1),");
    sb.append("(2)");
    assertThat(fallback.analyze(sb.toString()).combined().kinds()).containsExactly("INSERT");
  }
}
