package dev.gatehouse.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PolicyLoadingTest {
  private final PolicyLoader loader = new PolicyLoader();

  private List<PolicyError> errors(String yaml) {
    return loader.check(List.of(new PolicySource("p.yaml", yaml)));
  }

  @Test
  void aMisspeltStatementKindIsReportedWithFileLineKeyPathAndSuggestion() {
    List<PolicyError> errors = errors("""
        version: 1
        rules:
          - name: ok
            effect: deny
            commands: {sql: {kinds: [DROP]}}
          - name: typo
            effect: deny
            commands:
              sql:
                kinds: [TRUNCATE, DRP]
        """);
    assertThat(errors).hasSize(1);
    PolicyError e = errors.get(0);
    assertThat(e.file()).isEqualTo("p.yaml");
    assertThat(e.line()).isEqualTo(10);
    assertThat(e.column()).isEqualTo(27);
    assertThat(e.path()).isEqualTo("rules[1].commands.sql.kinds[1]");
    assertThat(e.message()).isEqualTo("unknown statement kind \"DRP\" (did you mean DROP?)");
    assertThat(e.toString()).isEqualTo("p.yaml:10:27: rules[1].commands.sql.kinds[1]: unknown statement kind \"DRP\" (did you mean DROP?)");
  }

  @Test
  void aRuleNamingAnIssuerTheConfigurationDoesNotTrustIsAnError() {
    // A deny rule pinned to a misspelt issuer matched no token and guarded nothing, silently.
    String yaml = """
        version: 1
        rules:
          - name: ci-only-from-main
            effect: deny
            subjects:
              issuers: [github-actions, githbu-actions]
            commands: {sql: {kinds: [DROP]}}
        """;
    List<PolicySource> source = List.of(new PolicySource("p.yaml", yaml));
    List<PolicyError> errors = loader.withIssuers(List.of("corp", "github-actions")).check(source);
    assertThat(errors).singleElement().satisfies(e -> {
      assertThat(e.line()).isEqualTo(6);
      assertThat(e.path()).isEqualTo("rules[0].subjects.issuers[1]");
      assertThat(e.message()).isEqualTo("unknown issuer \"githbu-actions\": identity.issuers defines corp, github-actions"
          + " (no token comes from it: subjects pinned to it never match, in a rule or its unless)");
    });
    // Without a configuration to compare with (policy check FILE), the names are not judged.
    assertThat(loader.check(source)).isEmpty();
    assertThat(loader.withIssuers(List.of("github-actions", "githbu-actions")).check(source)).isEmpty();
  }

  @Test
  void aYamlSyntaxErrorSaysWhatIsWrongAndWhere() {
    // Round 40: only SnakeYAML's context was kept ("while parsing a block collection"), and the
    // place of the block it was in; the problem and its line came after it.
    List<PolicyError> indent = errors("""
        version: 1
        rules:
          - name: a
            effect: allow
           subjects: {groups: [x]}
        """);
    assertThat(indent).singleElement().satisfies(e -> {
      assertThat(e.line()).isEqualTo(5);
      assertThat(e.message()).isEqualTo("not valid YAML: expected <block end>, but found '<block mapping start>'"
          + " (while parsing a block collection that starts at line 3)");
    });
    List<PolicyError> tab = errors("version: 1\nrules:\n\t- name: a\n");
    assertThat(tab).singleElement().satisfies(e -> {
      assertThat(e.line()).isEqualTo(3);
      assertThat(e.message()).contains("found character '\\t(TAB)' that cannot start any token");
    });
  }

  @Test
  void unknownKeysAreRejectedWithTheirLocationAndTheKeysAllowedThere() {
    List<PolicyError> errors = errors("""
        version: 1
        rules:
          - name: r
            effect: deny
            comands: {flags: [ddl]}
        """);
    assertThat(errors).hasSize(1);
    assertThat(errors.get(0).line()).isEqualTo(5);
    assertThat(errors.get(0).column()).isEqualTo(5);
    assertThat(errors.get(0).path()).isEqualTo("rules[0]");
    assertThat(errors.get(0).message()).startsWith("unknown key \"comands\"").contains("commands");
  }

  @Test
  void everyErrorOfEveryRuleIsReportedTogether() {
    List<PolicyError> errors = errors("""
        version: 1
        rules:
          - name: a
            effect: permit
          - name: b
            effect: require_approval
            subjects: {kinds: [robot]}
          - name: c
            effect: deny
            commands: {flags: [no_were]}
            when:
              time: [{from: "25:00", to: "18:00", zone: Mars/Olympus}]
              grant: maybe
              cel: principal.grups.exists(g, g == 'x')
        """);
    assertThat(errors).extracting(PolicyError::path).containsExactly(
        "rules[0].effect", "rules[1]", "rules[1].subjects.kinds[0]", "rules[2].commands.flags[0]",
        "rules[2].when.time[0].from", "rules[2].when.time[0].zone", "rules[2].when.grant", "rules[2].when.cel");
    assertThat(errors.get(1).message()).contains("reviewers");
    assertThat(errors.get(7).message()).contains("principal has no field \"grups\"");
    assertThat(errors).allSatisfy(e -> assertThat(e.line()).isPositive());
  }

  @Test
  void ruleNamesMustBeUniqueAcrossFiles() {
    String rule = """
        version: 1
        rules:
          - name: same
            effect: deny
            commands: {flags: [ddl]}
        """;
    List<PolicyError> errors = loader.check(List.of(new PolicySource("a.yaml", rule), new PolicySource("b.yaml", rule)));
    assertThat(errors).hasSize(1);
    assertThat(errors.get(0).file()).isEqualTo("b.yaml");
    assertThat(errors.get(0).message()).contains("already used at a.yaml:3");
  }

  @Test
  void aDuplicatedKeyIsAnErrorNotASilentOverride() {
    List<PolicyError> errors = errors("""
        version: 1
        rules:
          - name: r
            effect: deny
            effect: allow
        """);
    assertThat(errors).hasSize(1);
    assertThat(errors.get(0).line()).isEqualTo(5);
    assertThat(errors.get(0).message()).contains("effect");
  }

  @Test
  void syntaxErrorsCarryTheirLine() {
    List<PolicyError> errors = errors("version: 1\nrules:\n  - name: [unclosed\n");
    assertThat(errors).hasSize(1);
    assertThat(errors.get(0).line()).isGreaterThanOrEqualTo(3);
  }

  @Test
  void wrongShapesAreExplained() {
    List<PolicyError> errors = errors("""
        version: 1
        rules:
          - name: r
            effect: deny
            subjects: developers
        """);
    assertThat(errors).hasSize(1);
    assertThat(errors.get(0).path()).isEqualTo("rules[0].subjects");
    assertThat(errors.get(0).line()).isEqualTo(5);
  }

  @Test
  void aMissingVersionIsAnError() {
    assertThat(errors("rules: []\n")).extracting(PolicyError::message).containsExactly("missing key \"version\" (write: version: 1)");
  }

  @Test
  void aliasesAreRefusedSoABillionLaughsCannotExpand() {
    StringBuilder bomb = new StringBuilder("version: 1\nlol0: &l0 [lol]\n");
    for (int i = 1; i < 10; i++) {
      bomb.append("lol").append(i).append(": &l").append(i).append(" [");
      for (int j = 0; j < 10; j++) bomb.append(j == 0 ? "" : ", ").append("*l").append(i - 1);
      bomb.append("]\n");
    }
    List<PolicyError> errors = errors(bomb.toString());
    assertThat(errors).hasSize(1);
    assertThat(errors.get(0).message()).contains("anchors and aliases");
    assertThat(errors.get(0).line()).isEqualTo(2);
  }

  @Test
  void aHugeFileIsRefusedBeforeParsing(@TempDir Path dir) throws Exception {
    Path big = dir.resolve("big.yaml");
    Files.writeString(big, "version: 1\n# " + "x".repeat(5 * 1024 * 1024) + "\n");
    List<PolicyError> errors = PolicyChecker.check(List.of(big));
    assertThat(errors).hasSize(1);
    assertThat(errors.get(0).file()).isEqualTo(big.toString());
    assertThat(errors.get(0).message()).contains("limit");
    assertThat(errors("version: 1\n# " + "x".repeat(PolicyYaml.MAX_CHARS) + "\n").get(0).message()).contains("limit");
  }

  @Test
  void deepNestingIsRefused() {
    String deep = "version: 1\nx: " + "[".repeat(200) + "]".repeat(200) + "\n";
    List<PolicyError> errors = errors(deep);
    assertThat(errors).hasSize(1);
    assertThat(errors.get(0).message()).containsIgnoringCase("depth");
  }

  @Test
  void explicitTagsAreRefused() {
    assertThat(errors("version: 1\nrules: !!java.util.ArrayList []\n").get(0).message()).contains("tags");
  }

  @Test
  void aFileThatIsNotUtf8IsRefused(@TempDir Path dir) throws Exception {
    Path f = dir.resolve("latin1.yaml");
    Files.write(f, new byte[] {'v', 'e', 'r', (byte) 0xE9, '\n'});
    assertThat(PolicyChecker.check(List.of(f))).extracting(PolicyError::message).containsExactly("file is not valid UTF-8");
  }

  @Test
  void aMissingFileIsReportedByName(@TempDir Path dir) {
    Path f = dir.resolve("absent.yaml");
    assertThat(PolicyChecker.check(List.of(f))).singleElement()
        .satisfies(e -> assertThat(e.toString()).startsWith(f + ": cannot read file"));
  }

  @Test
  void loadThrowsAPolicyExceptionListingEveryError() {
    assertThatThrownBy(() -> loader.compile(List.of(new PolicySource("p.yaml", """
        version: 2
        rules:
          - name: "bad name!"
            effect: deny
        """))))
        .isInstanceOf(PolicyException.class)
        .hasMessageContaining("2 policy errors")
        .hasMessageContaining("p.yaml:1:10: version: unsupported version 2")
        .hasMessageContaining("rules[0].name: rule name \"bad name!\"");
  }

  @Test
  void ruleShapeMistakesAreCaught() {
    List<PolicyError> errors = errors("""
        version: 1
        rules:
          - name: a
            effect: allow
            message: hello
            reviewers: [x]
          - name: b
            effect: deny
            mask: [ssn]
            unless: {}
          - name: c
            effect: allow
            applies_to: [connect]
            commands: {sql: {kinds: [SELECT]}}
          - name: d
            effect: deny
            when:
              time: [{from: "09:00", to: "09:00", zone: UTC}]
          - name: e
            effect: mask
            message: masked
          - name: f
            effect: mask
            applies_to: [connect, commands]
            mask: [ssn]
        """);
    assertThat(errors).extracting(PolicyError::path).containsExactly(
        "rules[0].message", "rules[0].reviewers", "rules[1].mask", "rules[1].unless", "rules[2].applies_to",
        "rules[3].when.time[0].to", "rules[4].message", "rules[4]", "rules[5].applies_to");
  }

  @Test
  void theDemoPolicyIsValid() {
    assertThat(loader.check(List.of(PolicySource.demo()))).isEmpty();
  }

  @Test
  void theRealisticBenchmarkPolicyIsValidAndHasTwentyRules() throws Exception {
    Path p = Path.of(getClass().getResource("realistic-policy.yaml").toURI());
    PolicyEngine engine = loader.load(List.of(p));
    assertThat(engine.ruleNames()).hasSizeGreaterThanOrEqualTo(20);
  }
}
