package dev.gatehouse.policy;

import static dev.gatehouse.policy.Fixtures.*;
import static org.assertj.core.api.Assertions.assertThat;

import dev.gatehouse.core.CommandFlag;
import dev.gatehouse.core.Decision;
import org.junit.jupiter.api.Test;

class NamedObjectDdlTest {
  private static final String RULES = """
      version: 1
      rules:
        - name: devs
          effect: allow
          subjects: {groups: [developers, dba]}
        - name: no-payments-for-interns
          effect: deny
          subjects: {groups: [interns]}
          commands: {sql: {objects: [billing.payments]}}
      """;

  @Test
  void ddlOnAnObjectARuleNamesNeedsApprovalByDefault() {
    PolicyEngine p = policy(RULES);
    var s = session(user("alice", "developers"), PG_DEMO);
    Decision rename = p.decide(s, kind("ALTER TABLE", "billing.payments", CommandFlag.DDL));
    assertThat(rename).isInstanceOf(Decision.RequireApproval.class);
    assertThat(rename.rule()).isEqualTo("builtin:named-object-ddl");
    // Dropping it under its unqualified name (the search path may resolve to it) too; the same name in another named schema is another table.
    assertThat(p.decide(s, kind("DROP TABLE", "payments", CommandFlag.DDL)).rule()).isEqualTo("builtin:named-object-ddl");
    assertThat(p.decide(s, kind("CREATE TABLE", "public.payments", CommandFlag.DDL)).rule()).isEqualTo("devs");
    // Other objects and non-DDL statements are untouched.
    assertThat(p.decide(s, kind("ALTER TABLE", "public.orders", CommandFlag.DDL)).rule()).isEqualTo("devs");
    assertThat(p.decide(s, kind("UPDATE", "billing.payments", CommandFlag.DATA_MODIFYING)).rule()).isEqualTo("devs");
    assertThat(p.ruleNames()).endsWith("builtin:named-object-ddl");
  }

  @Test
  void theBuiltinCanBeTightenedExemptedOrTurnedOff() {
    var s = session(user("alice", "developers"), PG_DEMO);
    var dba = session(user("dave", "dba"), PG_DEMO);
    var alter = kind("ALTER TABLE", "billing.payments", CommandFlag.DDL);
    PolicyEngine deny = policy(RULES + """
        builtins:
          named_object_ddl:
            effect: deny
            message: named objects are frozen
            unless: {subjects: {groups: [dba]}}
        """);
    assertThat(deny.decide(s, alter)).isEqualTo(new Decision.Deny("builtin:named-object-ddl", "named objects are frozen"));
    assertThat(deny.decide(dba, alter).rule()).isEqualTo("devs");
    PolicyEngine off = policy(RULES + """
        builtins:
          named_object_ddl: {effect: off}  # YAML 1.1 reads off as a boolean; text fields keep the word
        """);
    assertThat(off.decide(s, alter).rule()).isEqualTo("devs");
    assertThat(off.ruleNames()).doesNotContain("builtin:named-object-ddl");
  }

  @Test
  void aWildcardAloneNamesNoObject() {
    PolicyEngine p = policy("""
        version: 1
        rules:
          - name: devs
            effect: allow
            subjects: {groups: [developers]}
            commands: {sql: {objects: ["*"]}}
        """);
    assertThat(p.decide(session(user("alice", "developers"), PG_DEMO), kind("ALTER TABLE", "t", CommandFlag.DDL)).rule())
        .isEqualTo("devs");
  }
}
