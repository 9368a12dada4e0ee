package dev.gatehouse.masking;

import static dev.gatehouse.masking.Fixtures.ALICE;
import static dev.gatehouse.masking.Fixtures.BOB;
import static dev.gatehouse.masking.Fixtures.KEY;
import static dev.gatehouse.masking.Fixtures.oneColumn;
import static dev.gatehouse.masking.Fixtures.write;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.gatehouse.core.Secret;
import dev.gatehouse.masking.MaskingRules.Rule;
import dev.gatehouse.masking.MaskingRules.Style;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

class MaskingRulesTest {
  static final Style HASH = Style.hash(16, "h:");
  static final Style HASH_PER_PRINCIPAL = new Style("hash", null, null, 16, "h:", null, true);

  @Nested
  class HashScoping {
    @Test
    void theSameValueUnderTheSameKeyMasksTheSameSoJoinsStillWork() {
      MaskPlan a = oneColumn(HASH, TypeFamily.TEXT, ValueFormat.TEXT);
      MaskPlan b = oneColumn(HASH, TypeFamily.TEXT, ValueFormat.TEXT);
      assertThat(write(a, "alice@example.com")).isEqualTo(write(b, "alice@example.com"));
      assertThat(write(a, "alice@example.com")).isNotEqualTo(write(a, "alicf@example.com"));
    }

    @Test
    void anotherResourceMasksTheSameValueDifferently() {
      String demo = write(oneColumn(HASH, TypeFamily.TEXT, ValueFormat.TEXT, "pg-demo", ALICE), "alice@example.com");
      String prod = write(oneColumn(HASH, TypeFamily.TEXT, ValueFormat.TEXT, "pg-prod", ALICE), "alice@example.com");
      assertThat(demo).isNotEqualTo(prod);
    }

    @Test
    void perPrincipalKeysSeparatePeopleAndSharedKeysDoNot() {
      String alice = write(oneColumn(HASH_PER_PRINCIPAL, TypeFamily.TEXT, ValueFormat.TEXT, "pg-demo", ALICE), "x@example.com");
      String bob = write(oneColumn(HASH_PER_PRINCIPAL, TypeFamily.TEXT, ValueFormat.TEXT, "pg-demo", BOB), "x@example.com");
      assertThat(alice).isNotEqualTo(bob);
      assertThat(write(oneColumn(HASH, TypeFamily.TEXT, ValueFormat.TEXT, "pg-demo", ALICE), "x@example.com"))
          .isEqualTo(write(oneColumn(HASH, TypeFamily.TEXT, ValueFormat.TEXT, "pg-demo", BOB), "x@example.com"));
    }

    @Test
    void anotherMasterKeyMasksDifferently() {
      Rule rule = Rule.columns("r", HASH, "public.customers.email");
      Masking other = Masking.compile(MaskingRules.of(rule), Optional.of(Secret.of("another key of thirty-two bytes or more!")));
      MaskPlan plan = other.planner("pg-demo", ALICE, List.of("r")).plan(
          List.of(ResultColumn.text(Fixtures.EMAIL, TypeFamily.TEXT)), StatementFacts.readsNothing());
      assertThat(write(plan, "alice@example.com")).isNotEqualTo(write(oneColumn(HASH, TypeFamily.TEXT, ValueFormat.TEXT), "alice@example.com"));
    }

    @Test
    void theKeyNeverShowsInToString() {
      Masking m = Masking.compile(MaskingRules.of(Rule.columns("r", HASH, "*.*.email")), Optional.of(KEY));
      assertThat(m.toString()).doesNotContain(KEY.reveal()).contains("hashKey=set");
      assertThat(m.planner("pg-demo", ALICE, List.of("r")).toString()).doesNotContain(KEY.reveal());
    }
  }

  @Nested
  class Validation {
    @Test
    void everyProblemIsReportedWithItsLocation() {
      MaskingRules rules = MaskingRules.of(
          new Rule("a", null, null, List.of("email"), null, null, null, null, null),
          new Rule("a", null, null, null, null, List.of("cards"), "somewhere", "maybe", null),
          new Rule("", null, null, List.of("*.*.x"), null, null, null, null, null),
          new Rule("c", null, null, List.of("*.*.x"), new Style("scramble", null, null, null, null, null, null), null, null, null, null),
          new Rule("d", null, null, null, null, null, null, null, null),
          new Rule("e", null, null, List.of("*.*.x"), new Style("hash", null, null, 99, null, "base64", null), null, null, null, null));
      assertThatThrownBy(() -> Masking.compile(rules, Optional.empty()))
          .isInstanceOf(MaskingException.class)
          .hasMessageContaining("rules[0] (a).columns: \"email\" is not schema.table.column")
          .hasMessageContaining("rules[1] (a).name: another rule is already named \"a\"")
          .hasMessageContaining("rules[1] (a).detect: unknown detector \"cards\"")
          .hasMessageContaining("rules[1] (a).detectIn: unknown value \"somewhere\"")
          .hasMessageContaining("rules[1] (a).strict: unknown value \"maybe\" (known: mask, deny, off)")
          .hasMessageContaining("rules[2].name: a rule needs a name")
          .hasMessageContaining("rules[3] (c).style.type: unknown style \"scramble\"")
          .hasMessageContaining("rules[4] (d): the rule masks nothing")
          .hasMessageContaining("rules[5] (e).style.encoding: unknown value \"base64\"");
    }

    @Test
    void hashingWithoutAKeyOrWithAShortKeyIsRefused() {
      MaskingRules rules = MaskingRules.of(Rule.columns("h", HASH, "*.*.email"));
      assertThatThrownBy(() -> Masking.compile(rules, Optional.empty()))
          .hasMessageContaining("type hash needs masking.hashKey");
      assertThatThrownBy(() -> Masking.compile(rules, Optional.of(Secret.of("short"))))
          .hasMessageContaining("at least 32 bytes").hasMessageNotContaining("short\"");
    }

    @Test
    void aHashLengthOutOfRangeIsRefused() {
      MaskingRules rules = MaskingRules.of(Rule.columns("h", Style.hash(65, ""), "*.*.email"));
      assertThatThrownBy(() -> Masking.compile(rules, Optional.of(KEY))).hasMessageContaining("length not in 8..64: 65");
    }

    @Test
    void detectAllTurnsOnEveryDetector() {
      Masking m = Masking.compile(MaskingRules.of(Rule.detectors("pii", "all")), Optional.empty());
      assertThat(m.planner("any", ALICE, List.of("pii")).detectors().enabled()).containsExactlyInAnyOrder(Detector.values());
    }

    @Test
    void absentKeysTakeTheDocumentedDefaults() {
      Rule r = new Rule("x", null, null, null, null, null, null, null, null);
      assertThat(r.resources()).containsExactly("*");
      assertThat(r.strict()).isEqualTo("mask");
      assertThat(r.detectIn()).isEqualTo("untraceable");
      assertThat(r.confine()).isFalse();
      assertThat(r.style().type()).isEqualTo("redact");
      assertThat(new MaskingRules(null).rules()).isEmpty();
    }
  }
}
