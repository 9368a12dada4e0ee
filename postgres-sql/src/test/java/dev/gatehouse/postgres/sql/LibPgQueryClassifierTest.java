package dev.gatehouse.postgres.sql;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gatehouse.core.CommandFlag;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class LibPgQueryClassifierTest {
  private static LibPgQueryClassifier libpg;

  @BeforeAll
  static void load() {
    libpg = LibPgQuerySupport.classifier();
  }

  private static List<String> texts(Analysis a) {
    return a.statements().stream().map(ClassifiedStatement::text).toList();
  }

  @Test
  void aParseTreeLongerThanTheBoundIsNotClassifiedAndShorterOnesAre() {
    // Red-team round 40: a 2 MB target list read as a tree took 1.3 GB of heap. Each `,1` is
    // about 88 bytes of the library's JSON: 5,000 of them are over a 64 KiB bound, 100 are not.
    LibPgQueryClassifier bounded = LibPgQueryClassifier.create(64 * 1024);
    String wide = "SELECT 1" + ",1".repeat(5_000);
    String narrow = "SELECT 1" + ",1".repeat(100);
    assertThat(bounded.analyze(wide).statements()).singleElement()
        .satisfies(st -> assertThat(st.classification().has(CommandFlag.UNCLASSIFIED)).isTrue());
    assertThat(bounded.analyze(narrow).statements()).singleElement()
        .satisfies(st -> assertThat(st.classification().kinds()).containsExactly("SELECT"));
    // Over the medium parser threads' 64 KiB too (the large ones), and under the default bound.
    String wider = "SELECT 1" + ",1".repeat(40_000);
    assertThat(libpg.analyze(wider).statements()).singleElement()
        .satisfies(st -> assertThat(st.classification().kinds()).containsExactly("SELECT"));
  }

  @Test
  void aSetOfTheRoleSaysWhomTheSessionActsAsAfterwards() {
    java.util.function.Function<String, java.util.Optional<String>> roleSet =
        sql -> libpg.analyze(sql).statements().getFirst().roleSet();
    assertThat(roleSet.apply("SET ROLE 'gatehouse_demo'")).contains("gatehouse_demo");
    assertThat(roleSet.apply("SET ROLE Gatehouse_Demo")).as("unquoted: folded").contains("gatehouse_demo");
    assertThat(roleSet.apply("SET LOCAL role = \"Ops\"")).contains("Ops");
    assertThat(roleSet.apply("SET SESSION AUTHORIZATION app")).contains("app");
    assertThat(roleSet.apply("SET ROLE 'NONE'")).contains("NONE");
    // Review round 46: names that look like the marker are names.
    assertThat(roleSet.apply("SET ROLE \"<login role>\"")).contains("<login role>");
    assertThat(libpg.analyze("SET ROLE \"<login role>\"").statements().getFirst().classification().flags())
        .contains(dev.gatehouse.core.CommandFlag.ROLE_CHANGE);
    assertThat(roleSet.apply("SET ROLE ''")).as("no role's name").isEmpty();
    for (String back : List.of("RESET ROLE", "SET ROLE NONE", "SET role TO DEFAULT", "SET SESSION AUTHORIZATION DEFAULT",
        "RESET SESSION AUTHORIZATION")) {
      assertThat(roleSet.apply(back)).as(back).contains(ClassifiedStatement.LOGIN_ROLE);
    }
    for (String other : List.of("SET search_path = public", "SELECT set_config('role', 'x', false)", "ALTER ROLE app SET role = 'x'",
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql SET role TO DEFAULT AS 'SELECT 1'", "DISCARD ALL")) {
      assertThat(roleSet.apply(other)).as(other).isEmpty();
    }
  }

  @Test
  void eachStatementKeepsItsExactSourceSliceWithoutTheSemicolon() {
    Analysis a = libpg.analyze("SELECT 'a;b' AS x;\n  /* why */ DELETE FROM t WHERE id = $$;$$ ;  ");
    assertThat(texts(a)).containsExactly("SELECT 'a;b' AS x", "/* why */ DELETE FROM t WHERE id = $$;$$");
  }

  @Test
  void statementSlicesAreRightAfterMultiByteCharacters() {
    Analysis a = libpg.analyze("SELECT 'é😀日本'; DROP TABLE \"clientèle\"; SELECT 1");
    assertThat(texts(a)).containsExactly("SELECT 'é😀日本'", "DROP TABLE \"clientèle\"", "SELECT 1");
    assertThat(a.statements().get(1).classification().objects()).containsExactly("clientèle");
  }

  @Test
  void prepareAndDeallocateNameThePreparedStatementAsTheServerDoes() {
    // Review round 20: so that SQL touching one name makes Gatehouse forget that name only.
    Map<String, java.util.Optional<ColumnUse.Cursor>> expected = new java.util.LinkedHashMap<>();
    expected.put("PREPARE S1 AS SELECT 1", java.util.Optional.of(new ColumnUse.Cursor(ColumnUse.Cursor.Kind.PREPARE, "s1")));
    expected.put("PREPARE \"Mixed Case\" (int) AS SELECT $1",
        java.util.Optional.of(new ColumnUse.Cursor(ColumnUse.Cursor.Kind.PREPARE, "Mixed Case")));
    expected.put("DEALLOCATE s1", java.util.Optional.of(new ColumnUse.Cursor(ColumnUse.Cursor.Kind.DEALLOCATE, "s1")));
    expected.put("DEALLOCATE PREPARE \"S1\"", java.util.Optional.of(new ColumnUse.Cursor(ColumnUse.Cursor.Kind.DEALLOCATE, "S1")));
    expected.put("DEALLOCATE ALL", java.util.Optional.empty());
    expected.forEach((sql, cursor) -> assertThat(libpg.analyze(sql).statements().get(0).columnUse())
        .as(sql).get().extracting(ColumnUse::cursor).isEqualTo(cursor));
  }

  @Test
  void theRolesAStatementAltersRenamesOrDropsAreNamed() {
    Map<String, Set<String>> expected = new java.util.LinkedHashMap<>();
    expected.put("ALTER ROLE gh_app PASSWORD 'x'", Set.of("gh_app"));
    expected.put("ALTER USER \"GH App\" VALID UNTIL 'infinity'", Set.of("GH App"));
    expected.put("ALTER USER CURRENT_USER PASSWORD 'x'", Set.of(ClassifiedStatement.CURRENT_USER));
    expected.put("ALTER ROLE SESSION_USER CONNECTION LIMIT 1", Set.of(ClassifiedStatement.SESSION_USER));
    expected.put("ALTER ROLE CURRENT_ROLE SET work_mem = '1MB'", Set.of(ClassifiedStatement.CURRENT_ROLE));
    expected.put("ALTER ROLE gh_app IN DATABASE shop SET search_path = s", Set.of("gh_app"));
    expected.put("ALTER ROLE ALL SET work_mem = '1MB'", Set.of(ClassifiedStatement.ALL_ROLES));
    expected.put("ALTER ROLE gh_app RENAME TO x", Set.of("gh_app"));
    expected.put("DROP ROLE IF EXISTS a, gh_app", Set.of("a", "gh_app"));
    expected.put("DROP USER CURRENT_USER", Set.of(ClassifiedStatement.CURRENT_USER));
    expected.put("GRANT SELECT ON t TO gh_app", Set.of());
    expected.put("GRANT gh_app TO someone", Set.of("gh_app", "someone"));
    expected.put("GRANT pg_read_server_files TO gh_app", Set.of("pg_read_server_files", "gh_app"));
    expected.put("REASSIGN OWNED BY gh_app TO someone", Set.of("gh_app"));
    expected.put("DROP OWNED BY CURRENT_USER", Set.of(ClassifiedStatement.CURRENT_USER));
    expected.put("ALTER TABLE gh_app RENAME TO x", Set.of());
    // Memberships changed by CREATE/ALTER ROLE options (red-team round 5).
    expected.put("CREATE ROLE r2 LOGIN IN ROLE gh_app", Set.of("gh_app"));
    expected.put("CREATE ROLE r3 ROLE gh_app ADMIN other", Set.of("gh_app", "other"));
    expected.put("CREATE USER u", Set.of());
    expected.put("ALTER GROUP reporting DROP USER gh_app", Set.of("reporting", "gh_app"));
    expected.put("ALTER GROUP reporting ADD USER CURRENT_USER", Set.of("reporting", ClassifiedStatement.CURRENT_USER));
    expected.forEach((sql, roles) ->
        assertThat(libpg.analyze(sql).statements()).as(sql).singleElement().extracting(ClassifiedStatement::roles).isEqualTo(roles));
  }

  @Test
  void builtInNamesWrittenWithoutASchemaAreListedForTheShadowingCheck() {
    ClassifiedStatement s = libpg.analyze("SELECT lower(name), pg_catalog.upper(name), count(*) FROM t WHERE id = 1 AND n # 2")
        .statements().getFirst();
    assertThat(s.unqualifiedBuiltins()).containsExactlyInAnyOrder("lower", "count", "=", "#");
    assertThat(s.opaque().classification().flags()).contains(CommandFlag.OPAQUE_CODE);
    // Operators found by name though none is written, and the types casts convert to.
    assertThat(libpg.analyze("SELECT CASE a WHEN 1 THEN 2 END, b BETWEEN 1 AND 2, c IN (SELECT 1), 'x'::public.checked FROM t")
        .statements().getFirst().unqualifiedBuiltins()).containsExactlyInAnyOrder("=", ">=", "<=", "::checked");
    assertThat(libpg.analyze("SELECT 1 FROM a JOIN b USING (id) ORDER BY x USING >").statements().getFirst()
        .unqualifiedBuiltins()).contains("=", ">");
    // (x).f reads f like a column (a field, or the call f(x)).
    assertThat(libpg.analyze("SELECT (c).leak FROM customers c").statements().getFirst().columnUse().orElseThrow().read())
        .contains("leak");
    // A function not taken for a built-in is opaque already; nothing to check.
    assertThat(libpg.analyze("SELECT my_func(1)").statements().getFirst().unqualifiedBuiltins()).isEmpty();
  }

  @Test
  void columnsInClausesTheWalkerDoesNotKnowAreUsedOutsideTheSelectList() {
    // Red-team round 26: TABLESAMPLE's arguments and a MERGE action's condition were walked as if
    // they were select-list items; any field but the statement's structure now counts as outside.
    Map<String, String> outside = Map.of(
        "SELECT c.id FROM customers c, LATERAL (SELECT 1 FROM orders TABLESAMPLE BERNOULLI (c.pct) LIMIT 1) x", "pct",
        "SELECT 1 FROM orders TABLESAMPLE SYSTEM (1) REPEATABLE (seed)", "seed",
        "MERGE INTO orders o USING customers c ON o.id = c.id WHEN MATCHED AND c.secret > 0 THEN DO NOTHING", "secret",
        "UPDATE orders SET note = lower(c.hidden) FROM customers c WHERE c.id = orders.id", "hidden");
    outside.forEach((sql, column) -> assertThat(libpg.analyze(sql).statements().getFirst().columnUse().orElseThrow()
        .outsideProjection()).as(sql).contains(column));
    // What a select list, a RETURNING list or a VALUES list shows as it is stays inside.
    for (String sql : List.of("SELECT shown FROM customers", "SELECT c.shown FROM (SELECT shown FROM customers) c",
        "WITH w AS (SELECT shown FROM customers) SELECT shown FROM w", "DELETE FROM customers WHERE id = 1 RETURNING shown",
        "SELECT shown FROM customers UNION ALL SELECT shown FROM orders", "SELECT shown FROM customers TABLESAMPLE SYSTEM (5)")) {
      assertThat(libpg.analyze(sql).statements().getFirst().columnUse().orElseThrow().outsideProjection()).as(sql)
          .doesNotContain("shown");
    }
  }

  @Test
  void aParseErrorYieldsOneUnclassifiedStatementAndNoException() {
    Analysis a = libpg.analyze("SELECT 1; SELEC 2; DROP TABLE t");
    assertThat(a.statements()).hasSize(1);
    assertThat(a.statements().get(0).text()).isEqualTo("SELECT 1; SELEC 2; DROP TABLE t");
    assertThat(a.statements().get(0).classification().flags()).containsExactly(CommandFlag.UNCLASSIFIED);
    assertThat(a.changesParsing()).isTrue();
  }

  @Test
  void settingAParsingSettingToTheValueGatehouseFixesChangesNothing() {
    // What pg_dump, pg_restore and psql's \encoding send; every spelling the server (PostgreSQL 15)
    // takes for UTF8 (case and punctuation ignored, "unicode" an alias) and for on (any case, 1, and
    // the unique prefixes of true and yes).
    for (String sql : List.of("SET client_encoding = 'UTF8'", "SET client_encoding TO 'utf8'",
        "SET client_encoding = 'UTF-8'", "SET client_encoding = 'unicode'", "SET client_encoding = 'UNICODE'",
        "SET client_encoding = ' u_t_f_8 '", "SET client_encoding TO utf8", "SET client_encoding = \"UTF8\"",
        "SET SESSION client_encoding = 'UTF8'", "SET LOCAL client_encoding = 'UTF8'", "SET NAMES 'UTF8'",
        "SET \"Client_Encoding\" = 'UTF8'", "SET client_encoding = E'UTF\\x38'",
        "SET standard_conforming_strings = on", "SET standard_conforming_strings TO ON",
        "SET standard_conforming_strings = 'On'", "SET standard_conforming_strings = true",
        "SET standard_conforming_strings = 'TRU'", "SET standard_conforming_strings = 't'",
        "SET standard_conforming_strings = yes", "SET standard_conforming_strings = 'y'",
        "SET standard_conforming_strings = 1", "SET standard_conforming_strings = '1'",
        "SET LOCAL standard_conforming_strings = on")) {
      Analysis a = libpg.analyze(sql);
      assertThat(a.changesParsing()).as(sql).isFalse();
      assertThat(a.combined().flags()).as(sql).containsExactly(CommandFlag.SETTING_CHANGE);
    }
    // Any other value, and every form that does not name one constant, still changes (or may change) them.
    for (String sql : List.of("SET client_encoding = 'LATIN1'", "SET client_encoding = 'utf8mb4'",
        "SET client_encoding = 'utf-8-é'", "SET client_encoding = 6", "SET client_encoding TO DEFAULT",
        "SET client_encoding = 'UTF8', 'UTF8'", "SET client_encoding FROM CURRENT", "RESET client_encoding",
        "SET NAMES DEFAULT", "SET standard_conforming_strings = off", "SET standard_conforming_strings = 'o'",
        "SET standard_conforming_strings = 'of'", "SET standard_conforming_strings = 'on '",
        "SET standard_conforming_strings = 1.0", "SET standard_conforming_strings = '01'",
        "SET standard_conforming_strings = 0", "SET standard_conforming_strings = 2",
        "SET standard_conforming_strings TO DEFAULT", "RESET standard_conforming_strings", "RESET ALL",
        "SET backslash_quote = safe_encoding", "SELECT set_config('client_encoding', 'UTF8', false)",
        "SELECT set_config('standard_conforming_strings', 'on', false)",
        "ALTER ROLE CURRENT_USER SET client_encoding = 'UTF8'")) {
      assertThat(libpg.analyze(sql).changesParsing()).as(sql).isTrue();
    }
  }

  @Test
  void advisoryLocksSleepAndNotifyAreKnownBuiltInsNotOpaqueCode() {
    for (String f : List.of("pg_advisory_lock(1)", "pg_advisory_lock_shared(1, 2)", "pg_try_advisory_lock(1)",
        "pg_try_advisory_lock_shared(1)", "pg_advisory_xact_lock(1)", "pg_advisory_xact_lock_shared(1)",
        "pg_try_advisory_xact_lock(1)", "pg_try_advisory_xact_lock_shared(1)", "pg_advisory_unlock(1)",
        "pg_advisory_unlock_shared(1)", "pg_advisory_unlock_all()", "pg_catalog.pg_advisory_lock(1)")) {
      ClassifiedStatement s = libpg.analyze("SELECT " + f).statements().getFirst();
      // Locks held against other sessions, as SELECT … FOR UPDATE holds them.
      assertThat(s.classification().flags()).as(f).containsExactly(CommandFlag.LOCKING);
      assertThat(s.classification().kinds()).as(f).containsExactly("SELECT");
    }
    for (String f : List.of("pg_sleep(0.5)", "pg_sleep_for('1 second')", "pg_sleep_until(now())")) {
      assertThat(libpg.analyze("SELECT " + f).combined().flags()).as(f).isEmpty();
    }
    // pg_notify is a NOTIFY: a policy that does not allow NOTIFY refuses it too.
    ClassifiedStatement notify = libpg.analyze("SELECT pg_notify('jobs', 'x')").statements().getFirst();
    assertThat(notify.classification().kinds()).containsExactly("SELECT", "NOTIFY");
    assertThat(notify.classification().flags()).isEmpty();
    // Written without a schema, each may be shadowed by a function someone made: checked like lower().
    assertThat(notify.unqualifiedBuiltins()).contains("pg_notify");
    assertThat(libpg.analyze("SELECT pg_advisory_lock(1), pg_sleep(1)").statements().getFirst().unqualifiedBuiltins())
        .contains("pg_advisory_lock", "pg_sleep");
    // Look-alikes in another schema stay opaque, and say so; so do the functions that reach other sessions.
    ClassifiedStatement alike = libpg.analyze("SELECT public.pg_notify('c', 'x'), pg_cancel_backend(1), lower('x')")
        .statements().getFirst();
    assertThat(alike.classification().flags()).contains(CommandFlag.OPAQUE_CODE);
    assertThat(alike.classification().opaqueCalls()).containsExactlyInAnyOrder("public.pg_notify", "pg_cancel_backend");
    assertThat(libpg.analyze("SELECT pg_terminate_backend(1)").combined().opaqueCalls()).containsExactly("pg_terminate_backend");
    assertThat(libpg.analyze("CALL billing.close_month(1)").combined().opaqueCalls()).containsExactly("billing.close_month");
    assertThat(libpg.analyze("DO $$ BEGIN END $$").combined().opaqueCalls()).isEmpty();
    // A statement decided as opaque for hidden code keeps the calls it names.
    assertThat(alike.opaque().classification().opaqueCalls()).containsExactlyInAnyOrder("public.pg_notify", "pg_cancel_backend");
  }

  @Test
  void aSyntaxErrorIsReportedWithTheParsersMessageAndPositionAsPostgresGivesThem() {
    assertThat(libpg.analyze("SELEC 1").syntaxError()).contains(new SyntaxError("syntax error at or near \"SELEC\"", 1));
    // The whole text is rejected, as the server rejects a query string with one bad statement; the
    // position counts characters, not bytes, from 1.
    Analysis multi = libpg.analyze("SELECT 'é😀'; SELECT 1 FROM;");
    assertThat(multi.syntaxError()).contains(new SyntaxError("syntax error at or near \";\"", 27));
    assertThat(multi.statements()).singleElement()
        .satisfies(s -> assertThat(s.classification().flags()).containsExactly(CommandFlag.UNCLASSIFIED));
    assertThat(libpg.analyze("SELECT 'unterminated").syntaxError()).get()
        .satisfies(e -> assertThat(e.message()).isEqualTo("unterminated quoted string at or near \"'unterminated\""));
    // What is not a syntax error in the text says nothing of the kind.
    assertThat(libpg.analyze("SELECT 1").syntaxError()).isEmpty();
    assertThat(libpg.analyze("SELECT 1\0").syntaxError()).isEmpty();
    assertThat(libpg.analyze("SELECT 1" + " + 1".repeat(200_000)).syntaxError()).isEmpty(); // parsed, too deep to walk
    // The grammar's own stack limit is the server's too: PostgreSQL 15 answers this 42601 as well.
    assertThat(libpg.analyze("SELECT " + "(".repeat(100_000) + "1" + ")".repeat(100_000)).syntaxError()).get()
        .satisfies(e -> assertThat(e.message()).isEqualTo("memory exhausted at or near \"(\""));
  }

  @Test
  void emptyWhitespaceAndCommentOnlyTextsHaveNoStatements() {
    for (String s : List.of("", "  \n", "-- c", "/* a /* b */ */", ";;")) {
      assertThat(libpg.analyze(s).statements()).as(s).isEmpty();
    }
  }

  @Test
  void textWithANulIsUnclassifiedBecauseTheParserWouldStopThere() {
    Analysis a = libpg.analyze("SELECT 1\0; DROP TABLE customers");
    assertThat(a.unclassified()).isTrue();
    assertThat(a.statements()).hasSize(1);
  }

  @Test
  void loneSurrogatesAreUnclassifiedNotGuessed() {
    assertThat(libpg.analyze("SELECT '\uD800'; DROP TABLE t").unclassified()).isTrue();
    assertThat(libpg.analyze("SELECT 'x\uDC00'").unclassified()).isTrue();
    assertThat(libpg.analyze("SELECT '\uD83D\uDE00'").unclassified()).isFalse();
  }

  @Test
  void aOneMebibyteStatementIsClassified() {
    StringBuilder sb = new StringBuilder("SELECT * FROM customers WHERE id IN (");
    while (sb.length() < 1 << 20) sb.append("1234567,");
    sb.append("0)");
    Analysis a = libpg.analyze(sb.toString());
    assertThat(a.combined().kinds()).containsExactly("SELECT");
    assertThat(a.combined().objects()).containsExactly("customers");
  }

  @Test
  void textsOverTwoMebibytesAreUnclassified() {
    String s = "SELECT '" + "x".repeat(LibPgQueryClassifier.MAX_BYTES) + "'";
    assertThat(libpg.analyze(s).unclassified()).isTrue();
  }

  @Test
  void deeplyNestedExpressionsAreUnclassifiedAndDoNotCrashTheJvm() {
    // Left-nested operators are not limited by the grammar's stack and once overflowed the native stack.
    assertThat(libpg.analyze("SELECT 1" + " + 1".repeat(200_000)).unclassified()).isTrue();
    assertThat(libpg.analyze("SELECT 1" + "::int".repeat(100_000)).unclassified()).isTrue();
    assertThat(libpg.analyze("SELECT " + "(".repeat(100_000) + "1" + ")".repeat(100_000)).unclassified()).isTrue();
    assertThat(libpg.analyze("SELECT " + "f(".repeat(50_000) + "1" + ")".repeat(50_000)).unclassified()).isTrue();
    // Moderate nesting is still understood.
    assertThat(libpg.analyze("SELECT 1" + " + 1".repeat(200)).combined().kinds()).containsExactly("SELECT");
  }

  @Test
  void deepNestingWorksFromAVirtualThreadToo() throws Exception {
    List<Analysis> out = new ArrayList<>();
    Thread t = Thread.ofVirtual().start(() -> {
      out.add(libpg.analyze("SELECT " + "(".repeat(300) + "1" + ")".repeat(300)));
      out.add(libpg.analyze("SELECT 1" + " + 1".repeat(5_000)));
    });
    t.join();
    assertThat(out.get(0).combined().kinds()).containsExactly("SELECT");
    assertThat(out.get(1).unclassified()).isTrue();
  }

  @Test
  void concurrentCallsGiveTheSameAnswers() throws Exception {
    List<String> sqls = List.of(
        "SELECT * FROM a JOIN b ON a.id = b.id", "WITH d AS (DELETE FROM x RETURNING *) SELECT * FROM d",
        "SET ROLE admin", "SELECT pg_read_file('/etc/passwd')", "COPY t TO PROGRAM 'x'", "SELEC broken");
    List<Analysis> expected = sqls.stream().map(libpg::analyze).toList();
    try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
      List<Callable<Boolean>> tasks = new ArrayList<>();
      for (int i = 0; i < 400; i++) {
        int k = i % sqls.size();
        tasks.add(() -> libpg.analyze(sqls.get(k)).equals(expected.get(k)));
      }
      for (Future<Boolean> f : pool.invokeAll(tasks)) assertThat(f.get()).isTrue();
    }
  }

  @Test
  void rolePasswordsAreRedacted() {
    ClassifiedStatement s = libpg.analyze("CREATE ROLE app LOGIN PASSWORD 'hunter2' VALID UNTIL 'infinity'").statements().get(0);
    assertThat(s.redactedText()).doesNotContain("hunter2").contains("PASSWORD '***'");
    assertThat(s.text()).contains("hunter2");
    assertThat(libpg.analyze("ALTER USER postgres WITH PASSWORD E'it\\'s secret'").statements().get(0).redactedText())
        .isEqualTo("ALTER USER postgres WITH PASSWORD '***'");
    assertThat(libpg.analyze("ALTER ROLE x PASSWORD $p$s3cr3t$p$").statements().get(0).redactedText())
        .isEqualTo("ALTER ROLE x PASSWORD '***'");
  }

  @Test
  void aSecretWrittenAsABareWordIsRedactedWhereTheTextDoesNotParse() {
    // Round 24: unparsed text (a syntax error; the first KiB of an over-long statement) kept only
    // its string literals redacted, so a password setting's bare word, name or number was stored.
    for (String sql : List.of(
        "SET my.password TO barewordsecretB garbage",
        "SET my.password TO \"identsecretL\" garbage",
        "SET my.password = 98765432101 garbage",
        "ALTER DATABASE shop SET my.password TO baresecretP garbage",
        "ALTER ROLE app PASSWORD baresecretR garbage",
        "SET my.password TO barewordsecretA; SELECT 1 +",
        // Review round 25: an arrow, a Unicode-escaped name, a dotted name, a signed number, NULL first.
        "SET my.password => hunterArrowsecret2;",
        "SET U&\"my.p\\0061ssword\" TO hunterUnisecret4 x;",
        "SET my.password.x TO hunterDotsecret9 x;",
        "ALTER ROLE alice PASSWORD -98765432101 x;",
        "ALTER ROLE alice PASSWORD NULL hunterNullsecret8 x;")) {
      Analysis a = libpg.analyze(sql);
      assertThat(a.syntaxError()).as(sql).isPresent();
      assertThat(a.statements()).allSatisfy(s ->
          assertThat(s.redactedText()).as(sql).doesNotContain("secret").doesNotContain("98765432101"));
      assertThat(SqlClassifier.redactAllStrings(sql)).as(sql).doesNotContain("secret").doesNotContain("98765432101");
    }
    // What follows the setting's value is kept; so are values of other settings and other words.
    assertThat(SqlClassifier.redactAllStrings("SET my.password TO s3cret; SELECT id FROM t WHERE x = 5"))
        .isEqualTo("SET my.password TO '***'; SELECT id FROM t WHERE x = 5");
    assertThat(SqlClassifier.redactAllStrings("SET work_mem TO 64 garbage")).isEqualTo("SET work_mem TO 64 garbage");
  }

  @Test
  void userMappingServerAndSubscriptionOptionsAreRedacted() {
    assertThat(libpg.analyze("CREATE USER MAPPING FOR bob SERVER s OPTIONS (user 'bob', password 'pw1')").statements().get(0).redactedText())
        .doesNotContain("pw1");
    assertThat(libpg.analyze("ALTER SERVER s OPTIONS (SET password 'pw2')").statements().get(0).redactedText())
        .doesNotContain("pw2");
    assertThat(libpg.analyze("CREATE SUBSCRIPTION sub CONNECTION 'host=h password=pw3' PUBLICATION p").statements().get(0).redactedText())
        .doesNotContain("pw3");
  }

  @Test
  void connectionStringsAndKeysPassedToFunctionsAreRedactedButTheSqlStays() {
    ClassifiedStatement s = libpg.analyze(
        "SELECT dblink('host=evil password=pw4', 'SELECT secret_column FROM t'), pgp_sym_encrypt(ssn, 'key5'), crypt('pw6', gen_salt('bf')) FROM p")
        .statements().get(0);
    assertThat(s.redactedText())
        .doesNotContain("pw4").doesNotContain("key5").doesNotContain("pw6")
        .contains("'SELECT secret_column FROM t'");
    assertThat(libpg.analyze("SELECT dblink_connect('c', 'host=h ' || 'password=pw7')").statements().get(0).redactedText())
        .doesNotContain("pw7");
    assertThat(libpg.analyze("SELECT pgp_sym_decrypt(psw => 'pw8', msg => m) FROM t").statements().get(0).redactedText())
        .doesNotContain("pw8");
  }

  @Test
  void secretsWrittenAsBareWordsOrNumbersOrPassedToSqlExecuteAreRedacted() {
    // Round 18b: these were stored as written.
    assertThat(libpg.analyze("SET my.password TO S3cretIDENT").statements().get(0).redactedText())
        .isEqualTo("SET my.password TO '***'");
    assertThat(libpg.analyze("ALTER ROLE CURRENT_USER SET my.secret TO S3cretIDENT3").statements().get(0).redactedText())
        .isEqualTo("ALTER ROLE CURRENT_USER SET my.secret TO '***'");
    assertThat(libpg.analyze("SET my.password = 424242").statements().get(0).redactedText())
        .isEqualTo("SET my.password = '***'");
    // Round 44: keys, credentials and passphrases are secrets too.
    assertThat(libpg.analyze("SELECT set_config('my.api_key', 'Sekret_AAA6', false)").statements().get(0).redactedText())
        .isEqualTo("SELECT set_config('my.api_key', '***', false)");
    assertThat(libpg.analyze("SET app.credentials TO 'Sekret_B'").statements().get(0).redactedText())
        .isEqualTo("SET app.credentials TO '***'");
    assertThat(libpg.analyze("SET app.signing_passphrase = Sekret_C").statements().get(0).redactedText())
        .isEqualTo("SET app.signing_passphrase = '***'");
    assertThat(libpg.analyze("SET app.region = 'eu-west'").statements().get(0).redactedText())
        .isEqualTo("SET app.region = 'eu-west'");
    assertThat(libpg.analyze("EXECUTE pk('S3cretN', 7)").statements().get(0).redactedText())
        .isEqualTo("EXECUTE pk('***', '***')");
    assertThat(libpg.analyze("SELECT (('host=h password=S3cretA')::text).dblink_connect").statements().get(0).redactedText())
        .doesNotContain("S3cretA");
    // Names and keywords elsewhere stay.
    assertThat(libpg.analyze("SET search_path TO app, public").statements().get(0).redactedText())
        .isEqualTo("SET search_path TO app, public");
  }

  @Test
  void passwordSettingsAreRedacted() {
    assertThat(libpg.analyze("ALTER SYSTEM SET my.password = 'pw9'").statements().get(0).redactedText()).doesNotContain("pw9");
    assertThat(libpg.analyze("SET app.secret TO 'pw10'").statements().get(0).redactedText()).doesNotContain("pw10");
    assertThat(libpg.analyze("SELECT set_config('app.password', 'pw11', false)").statements().get(0).redactedText())
        .doesNotContain("pw11").contains("'app.password'");
  }

  @Test
  void secretsInsideDoBlocksAndFunctionBodiesAreRedactedButTheCodeStays() {
    ClassifiedStatement s = libpg.analyze(
        "DO $$BEGIN EXECUTE format('ALTER ROLE %I PASSWORD %L', 'app', 'pw15'); "
            + "EXECUTE $x$CREATE USER MAPPING FOR bob SERVER s OPTIONS (password 'pw16')$x$; END$$")
        .statements().get(0);
    assertThat(s.redactedText())
        .doesNotContain("pw15").doesNotContain("pw16")
        .isEqualTo("DO $$BEGIN EXECUTE format('***', '***', '***'); EXECUTE '***'; END$$");
    assertThat(libpg.analyze("DO LANGUAGE plpgsql 'BEGIN PERFORM dblink_connect(''host=h password=pw17''); END'")
        .statements().get(0).redactedText()).doesNotContain("pw17");
    ClassifiedStatement f = libpg.analyze(
        "CREATE FUNCTION rotate() RETURNS void LANGUAGE plpgsql AS $f$BEGIN "
            + "PERFORM pgp_sym_encrypt('x', 'key18'); END$f$").statements().get(0);
    assertThat(f.redactedText()).doesNotContain("key18").contains("PERFORM pgp_sym_encrypt('***', '***')");
    // A body that mentions no secret keeps its literals: they are the evidence of what it did.
    String plain = "DO $$BEGIN DELETE FROM orders WHERE status = 'void'; END$$";
    assertThat(libpg.analyze(plain).statements().get(0).redactedText()).isEqualTo(plain);
  }

  @Test
  void redactionKeepsOffsetsRightAfterNonAsciiText() {
    ClassifiedStatement s = libpg.analyze("SELECT 'ümlaut', dblink('password=pw12', 'q')").statements().get(0);
    assertThat(s.redactedText()).isEqualTo("SELECT 'ümlaut', dblink('***', 'q')");
  }

  @Test
  void unparseableTextHasEveryLiteralRedacted() {
    ClassifiedStatement s = libpg.analyze("CREATE ROLE x PASSWORD 'pw13' garbage garbage").statements().get(0);
    assertThat(s.classification().has(CommandFlag.UNCLASSIFIED)).isTrue();
    assertThat(s.redactedText()).doesNotContain("pw13");
    assertThat(libpg.analyze("ALTER ROLE x PASSWORD 'pw14").statements().get(0).redactedText()).doesNotContain("pw14");
  }

  @Test
  void ordinaryStatementsAreNotRedacted() {
    String sql = "SELECT * FROM users WHERE name = 'alice'";
    assertThat(libpg.analyze(sql).statements().get(0).redactedText()).isEqualTo(sql);
  }

  @Test
  void theClassifierNamesItself() {
    assertThat(libpg.name()).isEqualTo("libpg_query");
    assertThat(SqlClassifier.load().name()).isEqualTo("libpg_query");
    assertThat(SqlClassifier.fallback().name()).isEqualTo("fallback");
  }
}
