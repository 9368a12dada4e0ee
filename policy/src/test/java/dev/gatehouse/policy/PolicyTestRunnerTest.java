package dev.gatehouse.policy;

import static dev.gatehouse.policy.Fixtures.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.gatehouse.core.Classification;
import dev.gatehouse.core.Command;
import dev.gatehouse.core.CommandFlag;
import dev.gatehouse.core.Resource;
import dev.gatehouse.core.ResourceType;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

class PolicyTestRunnerTest {
  /**
   * A stand-in for the SQL classifier, which lives in another module: it knows a handful of
   * statement shapes, splits on ';' and calls everything else unclassified. Enough to drive the
   * runner; the real classifier is tested where it lives.
   */
  static final Function<String, List<Command>> TOY = sql -> {
    List<Command> out = new ArrayList<>();
    for (String stmt : sql.split(";")) {
      String s = stmt.strip();
      if (s.isEmpty()) continue;
      String[] w = s.split("\\s+");
      String first = w[0].toUpperCase(Locale.ROOT);
      Classification c = switch (first) {
        case "SELECT" -> new Classification(List.of("SELECT"), w.length > 3 ? Set.of(w[3]) : Set.of(), Set.of(), Set.of());
        case "DROP" -> new Classification(List.of("DROP TABLE"), Set.of(w[2]), Set.of(), Set.of(CommandFlag.DDL));
        case "DELETE" -> new Classification(List.of("DELETE"), Set.of(w[2]), Set.of(),
            s.toUpperCase(Locale.ROOT).contains(" WHERE ")
                ? Set.of(CommandFlag.DATA_MODIFYING) : Set.of(CommandFlag.DATA_MODIFYING, CommandFlag.NO_WHERE));
        default -> Classification.unclassified();
      };
      out.add(new Command("sql", s, c, Map.of()));
    }
    return out;
  };

  private static String resource(String name) throws Exception {
    try (InputStream in = PolicyTestRunnerTest.class.getResourceAsStream(name)) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  @Test
  void theDemoCasesAllPassAgainstTheDemoPolicy() throws Exception {
    PolicyEngine demo = new PolicyLoader().compile(List.of(PolicySource.demo()));
    var cases = PolicyTestRunner.readCases(new PolicySource("demo-policy-cases.yaml", resource("demo-policy-cases.yaml")));
    PolicyTestReport report = new PolicyTestRunner(demo, TOY).run(cases);
    assertThat(report.failures()).isEmpty();
    assertThat(report.results()).hasSizeGreaterThanOrEqualTo(15);
    assertThat(report.passed()).isTrue();
  }

  @Test
  void aMismatchFailsTheCaseAndSaysWhatHappened() {
    PolicyEngine demo = new PolicyLoader().compile(List.of(PolicySource.demo()));
    var cases = PolicyTestRunner.readCases(new PolicySource("c.yaml", """
        version: 1
        cases:
          - name: wrong effect
            as: alice
            groups: [developers]
            resource: pg-demo
            sql: DROP TABLE orders
            expect: allow
          - name: wrong rule
            as: alice
            groups: [developers]
            resource: pg-demo
            sql: DELETE FROM orders
            expect: deny
            rule: no-drop-truncate
          - name: right
            as: alice
            groups: [developers]
            resource: pg-demo
            sql: SELECT 1; DELETE FROM orders
            expect: deny
            rule: no-unbounded-writes
        """));
    PolicyTestReport report = new PolicyTestRunner(demo, TOY).run(cases);
    assertThat(report.passed()).isFalse();
    assertThat(report.failures()).extracting(r -> r.failure().orElseThrow()).containsExactly(
        "expected allow, got deny by rule no-drop-truncate",
        "expected rule no-drop-truncate, got deny by rule no-unbounded-writes");
    assertThat(report.results().get(2).passed()).isTrue();
    assertThat(report.results().get(2).commands()).hasSize(2);
  }

  @Test
  void theClassifierFailingFailsTheCase() {
    PolicyEngine demo = new PolicyLoader().compile(List.of(PolicySource.demo()));
    var c = new PolicyTestCase("boom", "alice", "alice", Set.of("developers"), "corp",
        dev.gatehouse.core.Principal.Kind.HUMAN, Map.of(), "pg-demo", ResourceType.POSTGRES, Map.of(), Optional.empty(),
        new PolicyTestCase.Input.Sql("SELECT 1"), Optional.of(Effect.ALLOW), Optional.empty());
    PolicyTestResult r = new PolicyTestRunner(demo, sql -> { throw new IllegalStateException("parser missing"); }).run(c);
    assertThat(r.passed()).isFalse();
    assertThat(r.failure()).hasValue("the classifier failed: parser missing");
  }

  @Test
  void resourcesComeFromTheCatalogWhenItKnowsThem() {
    PolicyEngine p = policy("""
        version: 1
        rules:
          - name: prod-no
            effect: deny
            resources: {tags: {env: prod}}
          - name: all
            effect: allow
            subjects: {groups: [developers]}
        """);
    var cases = PolicyTestRunner.readCases(new PolicySource("c.yaml", """
        version: 1
        cases:
          - {name: catalog, as: alice, groups: [developers], resource: pg-prod-eu, connect: true, expect: deny}
          - {name: inline, as: alice, groups: [developers], resource: other, resource_tags: {env: prod}, connect: true, expect: deny}
          - {name: plain, as: alice, groups: [developers], resource: other, connect: true, expect: allow}
        """));
    var catalog = (dev.gatehouse.core.ResourceCatalog) name -> name.equals("pg-prod-eu") ? Optional.<Resource>of(PG_PROD) : Optional.empty();
    PolicyTestReport report = new PolicyTestRunner(p, TOY, catalog, clock(NOW)).run(cases);
    assertThat(report.failures()).isEmpty();
  }

  @Test
  void aCaseCanSayWhenItHappens() {
    PolicyEngine p = policy("""
        version: 1
        rules:
          - name: office
            effect: allow
            subjects: {groups: [ops]}
            when: {time: [{days: [mon, tue, wed, thu, fri], from: "09:00", to: "18:00", zone: Europe/Paris}]}
        """);
    var cases = PolicyTestRunner.readCases(new PolicySource("c.yaml", """
        version: 1
        cases:
          - {name: tuesday, as: o, groups: [ops], resource: r, connect: true, at: "2025-06-03T10:00:00+02:00", expect: allow}
          - {name: sunday, as: o, groups: [ops], resource: r, connect: true, at: "2025-06-08T10:00:00+02:00", expect: deny}
        """));
    assertThat(new PolicyTestRunner(p, TOY).run(cases).failures()).isEmpty();
  }

  @Test
  void caseFileErrorsAreLocated() {
    assertThatThrownBy(() -> PolicyTestRunner.readCases(new PolicySource("c.yaml", """
        version: 1
        cases:
          - name: a
            as: alice
            resource: pg-demo
            sql: SELECT 1
            expect: permit
          - name: b
            as: bob
            resource: pg-demo
            expect: allow
        """)))
        .isInstanceOf(PolicyException.class)
        .hasMessageContaining("c.yaml:7:13: cases[0].expect: unknown decision \"permit\"")
        .hasMessageContaining("c.yaml:8:5: cases[1]: give exactly one of sql, command, or connect: true");
  }
}
