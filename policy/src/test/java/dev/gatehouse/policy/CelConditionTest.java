package dev.gatehouse.policy;

import static dev.gatehouse.policy.Fixtures.*;
import static org.assertj.core.api.Assertions.assertThat;

import dev.gatehouse.core.CommandFlag;
import dev.gatehouse.core.Decision;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class CelConditionTest {
  private static PolicyEngine allowWhen(String cel) {
    return policy("""
        version: 1
        rules:
          - name: cel-allow
            effect: allow
            subjects: {groups: [developers]}
            when:
              cel: '%s'
        """.formatted(cel));
  }

  private static PolicyEngine denyWhen(String cel) {
    return policy("""
        version: 1
        rules:
          - name: all
            effect: allow
            subjects: {groups: [developers]}
          - name: cel-deny
            effect: deny
            when:
              cel: '%s'
        """.formatted(cel));
  }

  @Test
  void aTrueConditionLetsTheRuleMatchAndAFalseOneDoesNot() {
    var s = session(user("alice", "developers"), PG_DEMO);
    assertThat(allowWhen("resource.tags.env == \"dev\"").decide(s, select("t")).rule()).isEqualTo("cel-allow");
    assertThat(allowWhen("resource.tags.env == \"prod\"").decide(s, select("t")).rule()).isEqualTo(Decision.NO_MATCH);
  }

  @Test
  void conditionsSeeThePrincipalTheSessionAndTheCommand() {
    var s = session(user("alice", "developers"), PG_DEMO);
    var write = kind("UPDATE", "public.orders", CommandFlag.DATA_MODIFYING);
    PolicyEngine p = denyWhen("\"data_modifying\" in command.flags && command.objects.exists(o, o.endsWith(\".orders\"))"
        + " && session.application == \"psql\" && principal.kind == \"human\" && \"developers\" in principal.groups");
    assertThat(p.decide(s, write).rule()).isEqualTo("cel-deny");
    assertThat(p.decide(s, select("public.orders")).rule()).isEqualTo("all");
  }

  @Test
  void claimsAreAvailableWithCelTypes() {
    var p = policy("""
        version: 1
        rules:
          - name: ci-small
            effect: allow
            subjects: {kinds: [machine]}
            when:
              cel: 'principal.claims.run_attempt < 3 && principal.claims.repository.startsWith("acme/")'
        """);
    var ci = machine("repo:acme/api", Map.of("run_attempt", 1, "repository", "acme/api"));
    var retried = machine("repo:acme/api", Map.of("run_attempt", 5, "repository", "acme/api"));
    assertThat(p.admit(ci, PG_DEMO, CLIENT).rule()).isEqualTo("ci-small");
    assertThat(p.admit(retried, PG_DEMO, CLIENT).rule()).isEqualTo(Decision.NO_MATCH);
  }

  @Test
  void aRuntimeErrorMakesAnAllowNotMatch() {
    // No such claim: evaluation fails; the allow cannot be proven.
    var p = allowWhen("principal.claims.department == \"finance\"");
    assertThat(p.decide(session(user("alice", "developers"), PG_DEMO), select("t")).rule()).isEqualTo(Decision.NO_MATCH);
  }

  @Test
  void aRuntimeErrorMakesADenyMatch() {
    var p = denyWhen("principal.claims.department != \"finance\"");
    Decision d = p.decide(session(user("alice", "developers"), PG_DEMO), select("t"));
    assertThat(d.rule()).isEqualTo("cel-deny");
  }

  @Test
  void aRuntimeErrorInAnUnlessResolvesTheStrictWay() {
    var p = policy("""
        version: 1
        rules:
          - name: all
            effect: allow
            subjects: {groups: [developers]}
          - name: no-ddl
            effect: deny
            commands: {flags: [ddl]}
            unless: {when: {cel: 'principal.claims.level > 3'}}
        """);
    // The exemption cannot be proven, so the deny stands.
    assertThat(p.decide(session(user("alice", "developers"), PG_DEMO), kind("ALTER TABLE", "t", CommandFlag.DDL)).rule())
        .isEqualTo("no-ddl");
  }

  @Test
  void celRunsOnlyForRulesWhoseStaticMatchersMatched() {
    // Division by zero would make this deny match for anyone it reached; it must not reach analysts.
    var p = policy("""
        version: 1
        rules:
          - name: all
            effect: allow
            subjects: {groups: [developers, analysts]}
          - name: devs-only-check
            effect: deny
            subjects: {groups: [developers]}
            when: {cel: '1 / 0 == 1'}
        """);
    assertThat(p.decide(session(user("ann", "analysts"), PG_DEMO), select("t")).rule()).isEqualTo("all");
    assertThat(p.decide(session(user("alice", "developers"), PG_DEMO), select("t")).rule()).isEqualTo("devs-only-check");
  }

  @Test
  void atConnectionTheCommandIsEmptyAndTheStageSaysSo() {
    var p = policy("""
        version: 1
        rules:
          - name: connect-from-psql
            effect: allow
            subjects: {groups: [developers]}
            when: {cel: 'session.stage == "connect" ? session.application == "psql" : command.kinds.all(k, k == "SELECT")'}
        """);
    var alice = user("alice", "developers");
    assertThat(p.admit(alice, PG_DEMO, CLIENT).rule()).isEqualTo("connect-from-psql");
    assertThat(p.decide(session(alice, PG_DEMO), select("t")).rule()).isEqualTo("connect-from-psql");
    assertThat(p.decide(session(alice, PG_DEMO), sql("", List.of("DELETE"), Set.of(), Set.of())).rule()).isEqualTo(Decision.NO_MATCH);
  }

  @Test
  void syntaxTypeAndFieldErrorsAreLoadErrors() {
    var loader = new PolicyLoader();
    for (String bad : List.of("principal.groups.exists(g, ", "1 + \"a\" == 2", "principal.grups == []", "resource.name")) {
      var errors = loader.check(List.of(new PolicySource("c.yaml", """
          version: 1
          rules:
            - name: r
              effect: deny
              when: {cel: '%s'}
          """.formatted(bad))));
      assertThat(errors).as(bad).singleElement().satisfies(e -> {
        assertThat(e.path()).isEqualTo("rules[0].when.cel");
        assertThat(e.line()).isEqualTo(5);
      });
    }
  }

  @Test
  void endlessComprehensionsAreCut() {
    var p = allowWhen("[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, true))))");
    assertThat(p.decide(session(user("alice", "developers"), PG_DEMO), select("t")).rule()).isEqualTo(Decision.NO_MATCH);
  }
}
