package dev.gatehouse.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gatehouse.testkit.Psql;
import java.io.IOException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Masking through what an administrator built on the target: tables related by inheritance or
 * partitioning, views whose data comes through functions or catalog statistics, and names with
 * dots in them. Each read goes through a transformation the value detectors cannot see through
 * ({@code replace(email, '@', ' at ')}), so only tracing the columns to their masked source keeps
 * the values out (red-team round 5).
 */
class GatewayMaskingSchemaTest {
  private static MaskingHarness h;

  @BeforeAll
  static void start() {
    h = new MaskingHarness();
    h.admin("""
        CREATE TABLE people (id int, name text, email text, card_number text, phone text, ssn text, country text);
        CREATE SCHEMA archive;
        CREATE TABLE archive.customers (id int, card_number text, country text) PARTITION BY LIST (country);
        CREATE TABLE archive.customers_gb PARTITION OF archive.customers FOR VALUES IN ('GB');
        CREATE TABLE archive.customers_us PARTITION OF archive.customers FOR VALUES IN ('US');
        INSERT INTO archive.customers SELECT id, card_number, country FROM customers;
        CREATE TABLE customers_vip () INHERITS (customers);
        INSERT INTO customers_vip SELECT * FROM customers WHERE id = 1;
        CREATE FUNCTION customer_rows() RETURNS TABLE (id int, mail text) LANGUAGE sql AS $$ SELECT id, email FROM customers $$;
        CREATE VIEW mail_view AS SELECT * FROM customer_rows();
        CREATE VIEW xml_view AS SELECT query_to_xml('SELECT email FROM customers', true, false, '')::text AS x;
        ANALYZE customers;
        CREATE VIEW column_stats AS
          SELECT attname::text AS column_name, histogram_bounds::text AS hist FROM pg_stats WHERE tablename = 'customers';
        CREATE VIEW "sales.customers" AS SELECT * FROM customers;
        CREATE FUNCTION customer_email(o orders) RETURNS text LANGUAGE sql
          AS $$ SELECT email FROM customers WHERE id = o.customer_id $$;
        CREATE VIEW lock_view AS SELECT id, note FROM orders;
        CREATE VIEW settings_view AS SELECT name, setting FROM pg_settings;
        CREATE VIEW contact_directory AS SELECT id, name AS contact FROM customers;
        CREATE TABLE lock_other (id int);
        CREATE TABLE notes (id int, body text);
        CREATE RULE notes_ins AS ON INSERT TO notes DO INSTEAD
          SELECT c.id, replace(c.email, '@', ' at ') AS body FROM customers c;
        """);
  }

  @AfterAll
  static void stop() throws IOException {
    h.close();
  }

  @AfterEach
  void nothingLeaked() {
    assertThat(h.leaks()).as("clear values in alice's bytes or the audit log").isEmpty();
  }

  /**
   * What alice gets for a statement whose reads cannot be known: NULL for computed columns, or a
   * refusal by masking (the harness's ssn rule is strict {@code deny}; a statement that may run
   * hidden code may also copy what it reads); either way no value.
   */
  private static String aliceGetsNoValue(String sql) {
    Psql.Result r = h.alice().withArgs("-A", "-t", "-P", "null=<NULL>").command(sql);
    if (!r.succeeded()) {
      assertThat(r.stderr()).contains("42501").contains("permission denied by Gatehouse masking");
      return "";
    }
    assertThat(r.stdout()).contains("<NULL>");
    return r.stdout();
  }

  private static String alice(String sql) {
    Psql.Result r = h.alice().withArgs("-A", "-t", "-P", "null=<NULL>").command(sql);
    assertThat(r.succeeded()).as(r.stderr()).isTrue();
    return r.stdout();
  }

  @Test
  void aParentTableOfAMaskedOneIsMaskedTooItsScanReturnsTheChildsRows() {
    h.admin("ALTER TABLE customers INHERIT people");
    try {
      assertThat(alice("SELECT email, card_number, phone FROM people ORDER BY id"))
          .contains("****|***************1111|[phone]");
      assertThat(alice("SELECT replace(email, '@', ' at ') FROM people")).doesNotContain(" at example.com");
    } finally {
      h.admin("ALTER TABLE customers NO INHERIT people");
    }
  }

  @Test
  void aChildTableOfAMaskedOneIsMaskedByItsOwnName() {
    assertThat(alice("SELECT email, card_number FROM ONLY customers_vip")).contains("****|***************1111");
    assertThat(alice("SELECT replace(email, '@', ' at ') FROM customers_vip")).contains("<NULL>")
        .doesNotContain(" at example.com");
  }

  @Test
  void aPartitionOfAMaskedTableIsMaskedByItsOwnName() {
    assertThat(alice("SELECT card_number FROM archive.customers_gb")).contains("***************1111");
    assertThat(alice("SELECT 'x' || card_number FROM archive.customers_us")).contains("<NULL>").doesNotContain("4444");
  }

  @Test
  void aViewWhoseRowsComeFromAFunctionMayReadAnythingSoItsComputedColumnsAreNull() {
    assertThat(aliceGetsNoValue("SELECT replace(mail, '@', ' at ') FROM mail_view")).doesNotContain(" at example.com");
  }

  @Test
  void aViewCallingABuiltInThatRunsSqlTextMayReadAnything() {
    assertThat(aliceGetsNoValue("SELECT replace(x, '@', ' at ') FROM xml_view")).doesNotContain(" at example.com");
  }

  @Test
  void aViewOverTheCatalogsStatisticsIsAsGuardedAsTheStatisticsThemselves() {
    assertThat(aliceGetsNoValue("SELECT column_name, replace(hist, '@', ' at ') FROM column_stats WHERE column_name = 'email'"))
        .doesNotContain(" at example.com");
  }

  @Test
  void aViewWhoseQuotedNameHoldsADotIsTracedToWhatItReads() {
    assertThat(aliceGetsNoValue("SELECT replace(email, '@', ' at ') FROM \"sales.customers\"")).doesNotContain(" at example.com");
  }

  @Test
  void aFunctionCalledAsIfItWereAColumnMayReadAnything() {
    // o.customer_email is customer_email(o): a function reading customers, not a column of orders.
    assertThat(aliceGetsNoValue("SELECT o.id, replace(o.customer_email, '@', ' at ') FROM orders o"))
        .doesNotContain(" at example.com");
  }

  @Test
  void theSystemsOwnViewsAnswerTheyCallOnlyTheSystemsCode() {
    // pg_settings calls pg_show_all_settings(), information_schema's views call its _pg_ helpers:
    // neither is code someone made, nor a read of customers' values (round 9: both were refused).
    assertThat(alice("SELECT setting FROM pg_settings WHERE name = 'max_index_keys'")).isEqualTo("32\n");
    assertThat(alice("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name = 'customers'"))
        .isEqualTo("customers\n");
    assertThat(alice("SELECT data_type FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'customers' AND column_name = 'email'"))
        .isEqualTo("text\n");
    // A view someone made over a system view is traced through it like any other.
    assertThat(alice("SELECT setting FROM settings_view WHERE name = 'max_index_keys'")).isEqualTo("32\n");
  }

  @Test
  void aBuiltInCalledOnTheWholeRowIsAWholeRowReadWhateverTheSelectListCallsItsItems() {
    // c.quote_literal is quote_literal(c), the whole row as text; the item named quote_literal is
    // another (round 9: the name was taken for that item's, and the row came back in clear).
    assertThat(aliceGetsNoValue("SELECT reverse(c.quote_literal) AS y, 1 AS quote_literal FROM customers c WHERE c.id = 1"))
        .doesNotContain("moc.elpmaxe");
    assertThat(aliceGetsNoValue("SELECT reverse((c).to_json::text) AS x, 1 AS to_json FROM customers c WHERE c.id = 1"))
        .doesNotContain("moc.elpmaxe");
  }

  @Test
  void aViewRedefinedInsideADoBlockThroughGatehouseIsReadAgain() {
    assertThat(alice("SELECT contact FROM contact_directory WHERE id = 1 LIMIT 1")).isEqualTo("Ada Lovelace\n");
    // DDL run by code (a DO block, a procedure) changes the schema like DDL does (round 9: the
    // cached view kept tracing contact to customers.name, and the e-mails came out in clear).
    Psql.Result redefined = h.dana().command("DO $$ BEGIN EXECUTE 'CREATE OR REPLACE VIEW contact_directory AS"
        + " SELECT id, email AS contact FROM customers'; END $$");
    assertThat(redefined.succeeded()).as(redefined.stderr()).isTrue();
    assertThat(alice("SELECT contact FROM contact_directory WHERE id = 1 LIMIT 1")).isEqualTo("****\n");
  }

  @Test
  void aFetchCarriesTheMasksItsCursorsDeclarationWasAllowedWithEvenWhenItsOwnDecisionHasNone() {
    // fran's policy masks her SELECT and DECLARE, and attaches nothing to a FETCH (round 10: a mask
    // rule limited to kinds [SELECT] let FETCH return the cursor's rows in clear).
    Psql.Result r = h.fran().withArgs("-A", "-t", "-P", "null=<NULL>").script(
        "BEGIN;\nDECLARE c CURSOR FOR SELECT email, card_number FROM ONLY customers ORDER BY id;\nFETCH 1 FROM c;\nCOMMIT;\n");
    assertThat(r.succeeded()).as(r.stderr()).isTrue();
    assertThat(r.stdout()).contains("****|***************1111").doesNotContain("ada@example.com").doesNotContain("4111");
  }

  @Test
  void aSessionHoldingMoreResultDescriptionsThanItsBudgetIsEndedAndOthersGoOn() throws Exception {
    // Under masking, a described portal keeps its result description until its transaction ends:
    // one statement, many portals each described, held them all (red-team round 10: about 230 KB of heap per portal, for no more SQL).
    StringBuilder wide = new StringBuilder("SELECT ");
    for (int i = 0; i < 1600; i++) wide.append(i == 0 ? "" : ", ").append("1 AS c").append(i).append("_").append("x".repeat(55));
    try (RawClient c = new RawClient(h.gateway.port())) {
      c.login(MaskingHarness.ALICE, java.util.Map.of("database", MaskingHarness.RESOURCE));
      c.send(new dev.gatehouse.postgres.wire.Query("BEGIN"));
      c.untilReady();
      c.send(new dev.gatehouse.postgres.wire.Parse("wide", wide.toString(), new int[0]), dev.gatehouse.postgres.wire.Sync.INSTANCE);
      c.untilReady();
      java.util.List<dev.gatehouse.postgres.wire.BackendMessage> answer = new java.util.ArrayList<>();
      try {
        for (int batch = 0; batch < 8 && answer.stream().noneMatch(dev.gatehouse.postgres.wire.ErrorResponse.class::isInstance); batch++) {
          java.util.List<dev.gatehouse.postgres.wire.FrontendMessage> messages = new java.util.ArrayList<>();
          for (int i = 0; i < 25; i++) {
            messages.add(new dev.gatehouse.postgres.wire.Bind("p" + batch + "_" + i, "wide", new short[0], java.util.List.of(), new short[0]));
            messages.add(dev.gatehouse.postgres.wire.Describe.portal("p" + batch + "_" + i));
          }
          messages.add(dev.gatehouse.postgres.wire.Sync.INSTANCE);
          c.send(messages.toArray(dev.gatehouse.postgres.wire.FrontendMessage[]::new));
          answer.addAll(c.untilReady());
        }
      } catch (IllegalStateException | java.io.IOException ended) {
        // the session ended while the batch was read
      }
      answer.addAll(c.untilClosed());
      assertThat(answer).anySatisfy(m -> assertThat(m).isInstanceOfSatisfying(dev.gatehouse.postgres.wire.ErrorResponse.class, e -> {
        assertThat(e.sqlstate()).isEqualTo("54000");
        assertThat(e.message()).contains("result descriptions");
      }));
    }
    try (RawClient other = new RawClient(h.gateway.port())) {
      other.login(MaskingHarness.DANA, java.util.Map.of("database", MaskingHarness.RESOURCE, "user", "dana"));
      other.send(new dev.gatehouse.postgres.wire.Query("SELECT 1"));
      assertThat(other.untilReady()).last().isEqualTo(new dev.gatehouse.postgres.wire.ReadyForQuery(dev.gatehouse.postgres.wire.ReadyForQuery.IDLE));
    }
  }

  @Test
  void aTableWithRulesMayBeRewrittenIntoAReadOfAnything() {
    assertThat(aliceGetsNoValue("INSERT INTO notes VALUES (1, 'x')")).doesNotContain(" at example.com");
  }

  @Test
  void aLookupBlockedByOneUsersLockDoesNotHoldEveryoneElsesStatements() throws Exception {
    try (java.sql.Connection a = h.jdbc(MaskingHarness.ALICE, new java.util.Properties());
        java.sql.Connection admin = h.pg.connect(h.database)) {
      a.createStatement().execute("BEGIN; DECLARE held CURSOR WITH HOLD FOR SELECT * FROM lock_view; COMMIT");
      admin.setAutoCommit(false);
      admin.createStatement().execute("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE");
      // The FETCH needs no lock, but tracing lock_view's columns makes the catalog connection
      // analyse the view's definition, which waits for the lock.
      var fetch = java.util.concurrent.CompletableFuture.runAsync(() -> {
        try (var rs = a.createStatement().executeQuery("FETCH 1 FROM held")) {
          while (rs.next()) { }
        } catch (java.sql.SQLException e) {
          // a failed lookup fails closed; what matters here is the others
        }
      });
      assertThat(GatewayHarness.eventually(() -> fetch.isDone() || catalogWaitsForALock(admin))).isTrue();
      java.util.concurrent.atomic.AtomicBoolean released = new java.util.concurrent.atomic.AtomicBoolean();
      var other = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
        Psql.Result r = h.alice().command("SELECT id FROM lock_other");
        return r.succeeded() && !released.get();
      });
      boolean before;
      try {
        before = other.get(30, java.util.concurrent.TimeUnit.SECONDS);
      } finally {
        released.set(true);
        admin.rollback();
      }
      assertThat(before).as("another session's statement answered while the lock was held").isTrue();
      fetch.get(30, java.util.concurrent.TimeUnit.SECONDS);
    }
  }

  private static boolean catalogWaitsForALock(java.sql.Connection admin) {
    try (var rs = admin.createStatement().executeQuery(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'gatehouse-catalog' AND wait_event_type = 'Lock'")) {
      rs.next();
      return rs.getInt(1) > 0;
    } catch (java.sql.SQLException e) {
      return false;
    }
  }
}
