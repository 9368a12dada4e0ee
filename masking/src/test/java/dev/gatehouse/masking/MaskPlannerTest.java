package dev.gatehouse.masking;

import static dev.gatehouse.masking.Fixtures.ALICE;
import static dev.gatehouse.masking.Fixtures.EMAIL;
import static dev.gatehouse.masking.Fixtures.NAME;
import static dev.gatehouse.masking.Fixtures.masking;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.gatehouse.core.ColumnOrigin;
import dev.gatehouse.masking.MaskPlan.Action;
import dev.gatehouse.masking.MaskingRules.Rule;
import dev.gatehouse.masking.MaskingRules.Style;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

class MaskPlannerTest {
  static final Rule EMAIL_RULE = new Rule("email", null, null, List.of("*.customers.email"), Style.redact(),
      List.of("email", "card"), null, null, null);
  static final Rule DENY_RULE = new Rule("ssn", null, null, List.of("public.customers.ssn"), Style.redact(),
      null, null, "deny", null);
  static final ColumnOrigin.Column ID = ColumnOrigin.column("public", "customers", "id");
  static final ColumnOrigin.Column ORDER_TOTAL = ColumnOrigin.column("public", "orders", "total");
  static final ColumnOrigin.Untraceable EXPR = ColumnOrigin.untraceable("expression");
  static final StatementFacts READS_CUSTOMERS = new StatementFacts(Reads.tables(Set.of("public.customers")),
      Reads.nothing(), false);
  static final StatementFacts READS_ORDERS = new StatementFacts(Reads.columns(Set.of(ORDER_TOTAL)), Reads.nothing(), false);

  static MaskPlanner planner(Rule... rules) {
    Masking m = masking(rules);
    return m.planner("pg-demo", ALICE, m.ruleNames());
  }

  static String cell(MaskPlan plan, int column, String value) {
    MaskOutput out = new MaskOutput();
    byte[] b = value.getBytes(StandardCharsets.UTF_8);
    int n = plan.write(column, b, 0, b.length, out);
    return n < 0 ? null : new String(out.array(), 0, n, StandardCharsets.UTF_8);
  }

  @Nested
  class NothingApplies {
    @Test
    void withoutMasksPolicyAppliedThePlannerIsEmptyAndPlansPassEverything() {
      MaskPlanner p = masking(EMAIL_RULE).planner("pg-demo", ALICE, List.of());
      assertThat(p.isEmpty()).isTrue();
      MaskPlan plan = p.plan(List.of(ResultColumn.text(EMAIL, TypeFamily.TEXT), ResultColumn.text(EXPR, TypeFamily.TEXT)),
          StatementFacts.unknown(true));
      assertThat(plan.needsDecoding()).isFalse();
      assertThat(plan.touchesMasked()).isFalse();
    }

    @Test
    void aRuleForAnotherResourceIsNotInForce() {
      Rule elsewhere = new Rule("email", null, List.of("pg-prod*"), List.of("*.*.email"), null, null, null, null, null);
      assertThat(masking(elsewhere).planner("pg-demo", ALICE, List.of("email")).isEmpty()).isTrue();
      assertThat(masking(elsewhere).planner("pg-prod-eu", ALICE, List.of("email")).isEmpty()).isFalse();
    }

    @Test
    void columnsNoRuleMatchesAreRelayedWithoutDecoding() {
      MaskPlan plan = planner(Rule.columns("email", Style.redact(), "*.*.email"))
          .plan(List.of(ResultColumn.text(ID, TypeFamily.INTEGER), ResultColumn.text(NAME, TypeFamily.TEXT)), READS_ORDERS);
      assertThat(plan.needsDecoding()).isFalse();
      assertThat(plan.touchesMasked()).isFalse();
    }

    @Test
    void aPolicyNamingAnUndefinedRuleIsRefusedRatherThanIgnored() {
      assertThatThrownBy(() -> masking(EMAIL_RULE).planner("pg-demo", ALICE, List.of("email", "phone")))
          .isInstanceOf(MaskingException.class).hasMessageContaining("\"phone\"").hasMessageContaining("not defined");
      assertThat(masking(EMAIL_RULE).undefined(List.of("email", "phone"))).containsExactly("phone");
    }
  }

  @Nested
  class TracedColumns {
    @Test
    void anAliasedColumnIsMaskedBecauseItsOriginIsTheMaskedColumn() {
      // SELECT email AS contact FROM customers: the origin is still customers.email.
      MaskPlan plan = planner(EMAIL_RULE).plan(
          List.of(ResultColumn.text(ID, TypeFamily.INTEGER), ResultColumn.text(EMAIL, TypeFamily.TEXT)), READS_CUSTOMERS);
      assertThat(plan.action(0)).isEqualTo(Action.PASS);
      assertThat(plan.action(1)).isEqualTo(Action.MASK);
      assertThat(plan.rule(1)).contains("email");
      assertThat(plan.needsDecoding()).isTrue();
      assertThat(plan.changesLength()).isTrue();
      assertThat(plan.touchesMasked()).isTrue();
      assertThat(cell(plan, 1, "alice@example.com")).isEqualTo("****");
      assertThat(cell(plan, 0, "42")).isEqualTo("42");
    }

    @Test
    void patternsMatchNamesCaseInsensitively() {
      MaskPlan plan = planner(EMAIL_RULE).plan(
          List.of(ResultColumn.text(ColumnOrigin.column("Sales", "Customers", "EMAIL"), TypeFamily.TEXT)), READS_CUSTOMERS);
      assertThat(plan.action(0)).isEqualTo(Action.MASK);
    }

    @Test
    void theFirstMatchingRuleInConfigurationOrderWins() {
      Rule hash = Rule.columns("hash-email", Style.hash(16, "h:"), "public.customers.email");
      Rule redact = Rule.columns("all-email", Style.redact(), "*.*.email");
      Masking m = masking(hash, redact);
      MaskPlan plan = m.planner("pg-demo", ALICE, List.of("all-email", "hash-email"))
          .plan(List.of(ResultColumn.text(EMAIL, TypeFamily.TEXT)), READS_CUSTOMERS);
      assertThat(plan.rule(0)).contains("hash-email");
    }

    @Test
    void detectAllScansTracedTextColumnsThatNoRuleMasks() {
      Rule scanAll = new Rule("scan", null, null, null, null, List.of("email"), "all", null, null);
      MaskPlan plan = planner(scanAll).plan(
          List.of(ResultColumn.text(NAME, TypeFamily.TEXT), ResultColumn.text(ID, TypeFamily.DATE)), READS_CUSTOMERS);
      assertThat(plan.action(0)).isEqualTo(Action.DETECT);
      assertThat(plan.action(1)).isEqualTo(Action.PASS);
      assertThat(plan.changesLength()).isFalse();
      byte[] row = "note: write to bob@example.org".getBytes(StandardCharsets.UTF_8);
      assertThat(plan.detect(0, row, 0, row.length)).isTrue();
      assertThat(new String(row, StandardCharsets.UTF_8)).isEqualTo("note: write to ***************");
    }
  }

  @Nested
  class WholeRows {
    static final ColumnOrigin.Row CUSTOMER = new ColumnOrigin.Row("public", "customers", List.of("id", "name", "email", "born"));
    static final List<TypeFamily> FIELD_TYPES = List.of(TypeFamily.INTEGER, TypeFamily.TEXT, TypeFamily.TEXT, TypeFamily.DATE);

    @Test
    void aWholeRowCarriesEveryColumnSoItsMaskedFieldIsMasked() {
      // SELECT c FROM customers c
      MaskPlan plan = planner(EMAIL_RULE).plan(
          List.of(new ResultColumn(CUSTOMER, TypeFamily.COMPOSITE, ValueFormat.TEXT, FIELD_TYPES)), READS_CUSTOMERS);
      assertThat(plan.action(0)).isEqualTo(Action.MASK);
      assertThat(cell(plan, 0, "(1,\"Alice A.\",alice@example.com,1984-06-01)")).isEqualTo("(1,\"Alice A.\",\"****\",1984-06-01)");
      assertThat(cell(plan, 0, "(2,Bob,,)")).isEqualTo("(2,Bob,,)");
    }

    @Test
    void aMaskedFieldOfUnknownTypeBecomesNull() {
      MaskPlan plan = planner(EMAIL_RULE).plan(
          List.of(new ResultColumn(CUSTOMER, TypeFamily.COMPOSITE, ValueFormat.TEXT)), READS_CUSTOMERS);
      assertThat(cell(plan, 0, "(1,Alice,alice@example.com,1984-06-01)")).isEqualTo("(1,Alice,,1984-06-01)");
    }

    @Test
    void quotesAndBackslashesInsideFieldsAreHandled() {
      Rule keep = Rule.columns("email", Style.keepLast(5), "*.customers.email");
      MaskPlan plan = planner(keep).plan(
          List.of(new ResultColumn(CUSTOMER, TypeFamily.COMPOSITE, ValueFormat.TEXT, FIELD_TYPES)), READS_CUSTOMERS);
      assertThat(cell(plan, 0, "(1,\"a,b\",\"x\"\"y\\\\z@q.com\",)")).isEqualTo("(1,\"a,b\",\"******q.com\",)");
    }

    @Test
    void aRowOfTheWrongShapeBecomesNullRatherThanLeakingThrough() {
      MaskPlan plan = planner(EMAIL_RULE).plan(
          List.of(new ResultColumn(CUSTOMER, TypeFamily.COMPOSITE, ValueFormat.TEXT, FIELD_TYPES)), READS_CUSTOMERS);
      assertThat(cell(plan, 0, "(1,Alice,alice@example.com)")).isNull();
      assertThat(cell(plan, 0, "alice@example.com")).isNull();
    }

    @Test
    void aBinaryWholeRowWithAMaskedFieldIsRefused() {
      MaskPlan plan = planner(EMAIL_RULE).plan(
          List.of(new ResultColumn(CUSTOMER, TypeFamily.COMPOSITE, ValueFormat.BINARY, FIELD_TYPES)), READS_CUSTOMERS);
      assertThat(plan.refusal()).hasValueSatisfying(r -> assertThat(r.reason()).contains("binary"));
    }
  }

  @Nested
  class StrictMode {
    @Test
    void anUntraceableColumnInAStatementReadingAMaskedColumnIsMaskedWhole() {
      // SELECT email, upper(email) FROM customers
      MaskPlan plan = planner(EMAIL_RULE).plan(
          List.of(ResultColumn.text(EMAIL, TypeFamily.TEXT), ResultColumn.text(EXPR, TypeFamily.TEXT)), READS_CUSTOMERS);
      assertThat(plan.action(1)).isEqualTo(Action.MASK);
      assertThat(plan.rule(1)).contains("email");
      assertThat(cell(plan, 1, "ALICE@EXAMPLE.COM")).isNull();
    }

    @Test
    void theStatementsReadsAloneTriggerStrictModeEvenWhenNoMaskedColumnIsReturned() {
      // SELECT email || '' FROM customers: one untraceable column
      MaskPlan plan = planner(EMAIL_RULE).plan(List.of(ResultColumn.text(EXPR, TypeFamily.TEXT)), READS_CUSTOMERS);
      assertThat(plan.action(0)).isEqualTo(Action.MASK);
      assertThat(plan.touchesMasked()).isTrue();
    }

    @Test
    void untraceableColumnsOfStatementsNotReadingMaskedColumnsGetOnlyTheDetectors() {
      // SELECT 'call ' || phone FROM orders
      MaskPlan plan = planner(EMAIL_RULE).plan(List.of(ResultColumn.text(EXPR, TypeFamily.TEXT)), READS_ORDERS);
      assertThat(plan.action(0)).isEqualTo(Action.DETECT);
      assertThat(plan.detectors(0).enabled()).containsExactlyInAnyOrder(Detector.EMAIL, Detector.CARD);
      assertThat(plan.changesLength()).isFalse();
      assertThat(plan.touchesMasked()).isFalse();
      assertThat(cell(plan, 0, "mail carol@example.com, card 4111 1111 1111 1111"))
          .isEqualTo("mail *****************, card *******************");
    }

    @Test
    void whenWhatIsReadIsUnknownStrictModeAssumesTheWorst() {
      MaskPlan plan = planner(EMAIL_RULE).plan(List.of(ResultColumn.text(EXPR, TypeFamily.INTEGER)), StatementFacts.unknown(false));
      assertThat(plan.action(0)).isEqualTo(Action.MASK);
      assertThat(cell(plan, 0, "17")).isNull();
    }

    @Test
    void aRuleSayingDenyRefusesTheResult() {
      ColumnOrigin.Column ssn = ColumnOrigin.column("public", "customers", "ssn");
      MaskPlan plan = planner(DENY_RULE).plan(
          List.of(ResultColumn.text(ssn, TypeFamily.TEXT), ResultColumn.text(EXPR, TypeFamily.TEXT)), READS_CUSTOMERS);
      assertThat(plan.refusal()).hasValueSatisfying(r -> {
        assertThat(r.rule()).isEqualTo("ssn");
        assertThat(r.reason()).contains("column 2").contains("strict");
      });
    }

    @Test
    void strictOffLeavesUntraceableColumnsToTheDetectors() {
      Rule lax = new Rule("email", null, null, List.of("*.*.email"), null, List.of("email"), null, "off", null);
      MaskPlan plan = planner(lax).plan(List.of(ResultColumn.text(EXPR, TypeFamily.TEXT)), READS_CUSTOMERS);
      assertThat(plan.action(0)).isEqualTo(Action.DETECT);
    }

    @Test
    void preciseColumnFactsKeepAWildcardRuleFromMaskingUnrelatedExpressions() {
      Rule anyEmail = Rule.columns("email", Style.redact(), "*.*.email");
      // SELECT count(*) FROM orders: the integration lists the columns of the tables read.
      MaskPlan plan = planner(anyEmail).plan(List.of(ResultColumn.text(EXPR, TypeFamily.INTEGER)), READS_ORDERS);
      assertThat(plan.needsDecoding()).isFalse();
      // Given only table names, a wildcard table pattern must assume the table may hold an email column.
      MaskPlan blunt = planner(anyEmail).plan(List.of(ResultColumn.text(EXPR, TypeFamily.INTEGER)),
          new StatementFacts(Reads.tables(Set.of("orders")), Reads.nothing(), false));
      assertThat(blunt.action(0)).isEqualTo(Action.MASK);
    }

    @Test
    void anUntraceableColumnIsNullWhateverItsTypeAndValue() {
      // SELECT array_agg(email), json_agg(c), length(email) IS NULL FROM customers: in each of them a
      // style would keep something (an element count, a document's shape, a boolean) that can carry
      // the masked data, and so can whether the value is NULL: every value becomes NULL.
      MaskPlan plan = planner(EMAIL_RULE).plan(List.of(ResultColumn.text(EXPR, TypeFamily.OTHER),
          ResultColumn.text(EXPR, TypeFamily.JSON), new ResultColumn(EXPR, TypeFamily.BOOLEAN, ValueFormat.BINARY)),
          READS_CUSTOMERS);
      assertThat(plan.refusal()).isEmpty();
      assertThat(plan.changesLength()).isTrue();
      assertThat(cell(plan, 0, "{alice@example.com}")).isNull();
      assertThat(cell(plan, 1, "[{\"alice@example.com\": true}]")).isNull();
      assertThat(cell(plan, 2, "\u0001")).isNull();
      assertThat(plan.rule(1)).contains("email");
    }

    @Test
    void anUntraceableColumnIsNullWhateverTheRulesStyle() {
      // substr(card, 1, 4) under a keep-last-4 rule would show any four characters; a hash would
      // mask a guess as it masks the value: SELECT 'alice@example.com' || '' FROM customers.
      Rule card = new Rule("card", null, null, List.of("*.customers.card"), Style.keepLast(4), null, null, null, null);
      StatementFacts facts = new StatementFacts(Reads.columns(Set.of(ColumnOrigin.column("public", "customers", "card"))),
          Reads.nothing(), false);
      MaskPlan plan = planner(card).plan(List.of(ResultColumn.text(EXPR, TypeFamily.TEXT)), facts);
      assertThat(cell(plan, 0, "x4111")).isNull();
      Rule hashed = new Rule("email", null, null, List.of("*.customers.email"), Style.hash(12, "email:"), null, null, null, null);
      MaskPlan guess = planner(hashed).plan(List.of(ResultColumn.text(EMAIL, TypeFamily.TEXT), ResultColumn.text(EXPR, TypeFamily.TEXT)),
          READS_CUSTOMERS);
      assertThat(cell(guess, 0, "alice@example.com")).startsWith("email:");
      assertThat(cell(guess, 1, "alice@example.com")).isNull();
    }

    @Test
    void aDenyRuleReadBesideAMaskRuleRefusesWhicheverComesFirst() {
      // SELECT email || ssn FROM customers: email's rule (mask) is configured before ssn's (deny)
      ColumnOrigin.Column ssn = ColumnOrigin.column("public", "customers", "ssn");
      StatementFacts facts = new StatementFacts(Reads.columns(Set.of(EMAIL, ssn)), Reads.nothing(), false);
      MaskPlan plan = planner(EMAIL_RULE, DENY_RULE).plan(List.of(ResultColumn.text(EXPR, TypeFamily.TEXT)), facts);
      assertThat(plan.refusal()).hasValueSatisfying(r -> assertThat(r.rule()).isEqualTo("ssn"));
    }
  }

  @Nested
  class Binary {
    @Test
    void untraceableBinaryIntegersAreCheckedForCardNumbers() {
      MaskPlan plan = planner(EMAIL_RULE).plan(
          List.of(new ResultColumn(EXPR, TypeFamily.INTEGER, ValueFormat.BINARY)), READS_ORDERS);
      assertThat(plan.action(0)).isEqualTo(Action.DETECT);
      byte[] card = java.nio.ByteBuffer.allocate(8).putLong(4111111111111111L).array();
      byte[] count = java.nio.ByteBuffer.allocate(8).putLong(1234L).array();
      assertThat(plan.detect(0, card, 0, 8)).isTrue();
      assertThat(card).containsOnly(0);
      assertThat(plan.detect(0, count, 0, 8)).isFalse();
    }

    @Test
    void untraceableBinaryTimestampsAreRelayed() {
      MaskPlan plan = planner(EMAIL_RULE).plan(
          List.of(new ResultColumn(EXPR, TypeFamily.TIMESTAMPTZ, ValueFormat.BINARY)), READS_ORDERS);
      assertThat(plan.needsDecoding()).isFalse();
    }
  }

  @Nested
  class Screening {
    @Test
    void copyingAMaskedColumnIntoAWriteIsRefused() {
      // CREATE TABLE leak AS SELECT email FROM customers
      StatementFacts launder = new StatementFacts(Reads.columns(Set.of(EMAIL)), Reads.nothing(), true);
      assertThat(planner(EMAIL_RULE).screen(launder)).hasValueSatisfying(r -> {
        assertThat(r.rule()).isEqualTo("email");
        assertThat(r.reason()).contains("masking cannot follow");
      });
    }

    @Test
    void writesThatReadNoMaskedColumnPass() {
      StatementFacts copyOrders = new StatementFacts(Reads.columns(Set.of(ORDER_TOTAL)), Reads.nothing(), true);
      assertThat(planner(EMAIL_RULE).screen(copyOrders)).isEmpty();
    }

    @Test
    void aConfinedColumnMayBeSelectedButNotFilteredOn() {
      Rule confined = new Rule("email", null, null, List.of("*.customers.email"), null, null, null, null, true);
      MaskPlanner p = planner(confined);
      assertThat(p.screen(new StatementFacts(Reads.columns(Set.of(EMAIL)), Reads.columns(Set.of(ID)), false))).isEmpty();
      // SELECT id FROM customers WHERE email LIKE 'a%'
      assertThat(p.screen(new StatementFacts(Reads.columns(Set.of(EMAIL, ID)), Reads.columns(Set.of(EMAIL)), false)))
          .hasValueSatisfying(r -> assertThat(r.reason()).startsWith("columns masked by rule email may only be selected"));
      // What cannot be traced to columns (pg_stat_activity): the refusal says that is why (round 40).
      assertThat(p.screen(StatementFacts.unknown(false))).hasValueSatisfying(r -> assertThat(r.reason())
          .startsWith("the statement reads what Gatehouse cannot trace to its columns (a statistics or activity view such as"
              + " pg_stat_activity").contains("columns masked by rule email may only be selected"));
    }

    @Test
    void withoutConfineFilteringOnAMaskedColumnIsAllowed() {
      assertThat(planner(EMAIL_RULE).screen(new StatementFacts(Reads.columns(Set.of(EMAIL)), Reads.columns(Set.of(EMAIL)), false)))
          .isEmpty();
    }
  }
}
