package dev.gatehouse.policy;

import static dev.gatehouse.policy.Fixtures.*;
import static org.assertj.core.api.Assertions.assertThat;

import dev.gatehouse.core.Classification;
import dev.gatehouse.core.Command;
import dev.gatehouse.core.CommandFlag;
import dev.gatehouse.core.Decision;
import dev.gatehouse.core.ResourceType;
import dev.gatehouse.core.Resource;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class PolicyEngineTest {
  private static final String ALLOW_DEVS = """
      version: 1
      rules:
        - name: devs
          effect: allow
          subjects: {groups: [developers]}
          resources: {names: [pg-*]}
      """;

  @Test
  void rulesNamingUsersGroupsOrClaimsWithoutTheirIssuerAreListedForAWarning() {
    PolicyEngine p = policy("""
        version: 1
        rules:
          - name: devs
            effect: allow
            subjects: {groups: [developers]}
          - name: ci
            effect: allow
            subjects: {issuers: [github], claims: {repository: acme/api}}
          - name: no-drop
            effect: deny
            subjects: {kinds: [human]}
            commands: {sql: {kinds: [DROP]}}
            unless:
              subjects: {users: [dana]}
          - name: machines
            effect: allow
            subjects: {kinds: [machine]}
        """);
    assertThat(p.unpinnedRules()).containsExactly("devs", "no-drop (unless)");
  }

  @Test
  void nothingMatchingIsDeniedByTheDefaultRule() {
    PolicyEngine p = policy(ALLOW_DEVS);
    Decision d = p.decide(session(user("mallory", "sales"), PG_DEMO), select("t"));
    assertThat(d).isInstanceOf(Decision.Deny.class);
    assertThat(d.rule()).isEqualTo(Decision.NO_MATCH);
    assertThat(((Decision.Deny) d).reason()).contains("no policy rule allows");
  }

  @Test
  void aRuleWithoutCommandsGovernsBothConnectionAndCommands() {
    PolicyEngine p = policy(ALLOW_DEVS);
    assertThat(p.admit(user("alice", "developers"), PG_DEMO, CLIENT)).isEqualTo(new Decision.Allow("devs", dev.gatehouse.core.Obligations.NONE));
    assertThat(p.decide(session(user("alice", "developers"), PG_DEMO), select("t")).rule()).isEqualTo("devs");
    Decision refused = p.admit(user("bob", "sales"), PG_DEMO, CLIENT);
    assertThat(refused.rule()).isEqualTo(Decision.NO_MATCH);
    assertThat(((Decision.Deny) refused).reason()).contains("bob@example.com").contains("pg-demo");
  }

  @Test
  void resourceNameGlobsMatchOnlyWhatTheySay() {
    PolicyEngine p = policy(ALLOW_DEVS);
    Resource other = new Resource("mysql-demo", ResourceType.MYSQL, "h:3306", Map.of());
    assertThat(p.admit(user("alice", "developers"), other, CLIENT).rule()).isEqualTo(Decision.NO_MATCH);
    assertThat(p.admit(user("alice", "developers"), PG_PROD, CLIENT).rule()).isEqualTo("devs");
  }

  @Test
  void aRuleWithACommandsMatcherDoesNotAdmitAConnection() {
    PolicyEngine p = policy("""
        version: 1
        rules:
          - name: analysts-select
            effect: allow
            subjects: {groups: [analysts]}
            commands: {sql: {kinds: [SELECT]}}
        """);
    assertThat(p.admit(user("ann", "analysts"), PG_DEMO, CLIENT).rule()).isEqualTo(Decision.NO_MATCH);
    assertThat(p.decide(session(user("ann", "analysts"), PG_DEMO), select("t")).rule()).isEqualTo("analysts-select");
  }

  @Test
  void appliesToConnectOnlyDoesNotAllowCommands() {
    PolicyEngine p = policy("""
        version: 1
        rules:
          - name: connect-only
            effect: allow
            applies_to: [connect]
            subjects: {groups: [analysts]}
        """);
    assertThat(p.admit(user("ann", "analysts"), PG_DEMO, CLIENT).rule()).isEqualTo("connect-only");
    assertThat(p.decide(session(user("ann", "analysts"), PG_DEMO), select("t")).rule()).isEqualTo(Decision.NO_MATCH);
  }

  @Test
  void denyWinsOverAllowWhateverTheOrder() {
    PolicyEngine p = policy(ALLOW_DEVS + """
          - name: no-drop
            effect: deny
            message: no dropping
            commands: {sql: {kinds: [DROP]}}
        """);
    Decision d = p.decide(session(user("alice", "developers"), PG_DEMO), kind("DROP TABLE", "public.orders", CommandFlag.DDL));
    assertThat(d).isEqualTo(new Decision.Deny("no-drop", "no dropping"));
  }

  @Test
  void denyWinsOverRequireApprovalWhichWinsOverAllow() {
    String rules = ALLOW_DEVS + """
          - name: ddl-approval
            effect: require_approval
            reviewers: [dba]
            commands: {flags: [ddl]}
          - name: no-drop
            effect: deny
            commands: {sql: {kinds: [DROP]}}
        """;
    PolicyEngine p = policy(rules);
    var s = session(user("alice", "developers"), PG_DEMO);
    Decision alter = p.decide(s, kind("ALTER TABLE", "orders", CommandFlag.DDL));
    assertThat(alter).isInstanceOf(Decision.RequireApproval.class);
    assertThat(alter.rule()).isEqualTo("ddl-approval");
    assertThat(((Decision.RequireApproval) alter).reviewers()).containsExactly("dba");
    Decision drop = p.decide(s, kind("DROP TABLE", "orders", CommandFlag.DDL));
    assertThat(drop.rule()).isEqualTo("no-drop");
    assertThat(((Decision.Deny) drop).reason()).contains("no-drop");
  }

  @Test
  void unlessExemptsFromTheRuleItRelaxesOnly() {
    PolicyEngine p = policy("""
        version: 1
        rules:
          - name: everyone
            effect: allow
            subjects: {groups: [developers, dba]}
          - name: no-drop
            effect: deny
            commands: {sql: {kinds: [DROP]}}
            unless: {subjects: {groups: [dba]}}
        """);
    var drop = kind("DROP TABLE", "orders", CommandFlag.DDL);
    assertThat(p.decide(session(user("dave", "dba"), PG_DEMO), drop).rule()).isEqualTo("everyone");
    assertThat(p.decide(session(user("alice", "developers"), PG_DEMO), drop).rule()).isEqualTo("no-drop");
    // An exemption is not an allow: a DBA matching no allow rule is still refused.
    PolicyEngine noAllow = policy("""
        version: 1
        rules:
          - name: no-drop
            effect: deny
            commands: {sql: {kinds: [DROP]}}
            unless: {subjects: {groups: [dba]}}
        """);
    assertThat(noAllow.decide(session(user("dave", "dba"), PG_DEMO), drop).rule()).isEqualTo(Decision.NO_MATCH);
  }

  @Test
  void anUnlessOnAnAllowTakesTheAllowAway() {
    PolicyEngine p = policy("""
        version: 1
        rules:
          - name: readers
            effect: allow
            subjects: {groups: [analysts]}
            unless:
              commands: {sql: {objects: [salaries]}}
        """);
    var s = session(user("ann", "analysts"), PG_DEMO);
    assertThat(p.decide(s, select("public.orders")).rule()).isEqualTo("readers");
    assertThat(p.decide(s, select("public.orders", "hr.salaries")).rule()).isEqualTo(Decision.NO_MATCH);
  }

  @Test
  void anAllowMustCoverEveryStatementKindOfAMultiStatementCommand() {
    PolicyEngine p = policy("""
        version: 1
        rules:
          - name: analysts-select
            effect: allow
            subjects: {groups: [analysts]}
            commands: {sql: {kinds: [SELECT]}}
        """);
    var s = session(user("ann", "analysts"), PG_DEMO);
    assertThat(p.decide(s, sql("SELECT 1; SELECT 2", List.of("SELECT", "SELECT"), Set.of(), Set.of())).rule())
        .isEqualTo("analysts-select");
    assertThat(p.decide(s, sql("SELECT 1; DROP TABLE t", List.of("SELECT", "DROP TABLE"), Set.of("t"), Set.of())).rule())
        .isEqualTo(Decision.NO_MATCH);
    assertThat(p.decide(s, sql("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
        List.of("SELECT", "DELETE"), Set.of("t"), Set.of(), CommandFlag.DATA_MODIFYING)).rule())
        .isEqualTo(Decision.NO_MATCH);
  }

  @Test
  void anAllowOfSelectDoesNotCoverSelectIntoButADenyOfSetCatchesSetRole() {
    PolicyEngine p = policy("""
        version: 1
        rules:
          - name: analysts-select
            effect: allow
            subjects: {groups: [analysts]}
            commands: {sql: {kinds: [SELECT, SET]}}
          - name: no-set
            effect: deny
            subjects: {groups: [interns]}
            commands: {sql: {kinds: [SET]}}
        """);
    assertThat(p.decide(session(user("ann", "analysts"), PG_DEMO), kind("SELECT INTO", "copy_of_orders", CommandFlag.DDL)).rule())
        .isEqualTo(Decision.NO_MATCH);
    assertThat(p.decide(session(user("ann", "analysts"), PG_DEMO), kind("SET ROLE", "x")).rule()).isEqualTo(Decision.NO_MATCH);
    assertThat(p.decide(session(user("ian", "interns"), PG_DEMO), kind("SET ROLE", "x")).rule()).isEqualTo("no-set");
  }

  @Test
  void aDenyMatchesWhenAnyStatementOfTheCommandMatches() {
    PolicyEngine p = policy(ALLOW_DEVS + """
          - name: no-truncate
            effect: deny
            commands: {sql: {kinds: [TRUNCATE]}}
        """);
    var cmd = sql("SELECT 1; TRUNCATE t", List.of("SELECT", "TRUNCATE TABLE"), Set.of("t"), Set.of());
    assertThat(p.decide(session(user("alice", "developers"), PG_DEMO), cmd).rule()).isEqualTo("no-truncate");
  }

  @Test
  void anUnqualifiedObjectInARuleMatchesThatNameInEverySchema() {
    PolicyEngine p = policy(ALLOW_DEVS + """
          - name: no-payments
            effect: deny
            commands: {sql: {objects: [payments]}}
        """);
    var s = session(user("alice", "developers"), PG_DEMO);
    assertThat(p.decide(s, select("public.payments")).rule()).isEqualTo("no-payments");
    assertThat(p.decide(s, select("billing.payments")).rule()).isEqualTo("no-payments");
    assertThat(p.decide(s, select("payments")).rule()).isEqualTo("no-payments");
    assertThat(p.decide(s, select("public.payments_archive")).rule()).isEqualTo("devs");
  }

  @Test
  void anUnqualifiedObjectInAStatementMatchesAQualifiedDenyButIsNotCoveredByAQualifiedAllow() {
    PolicyEngine p = policy("""
        version: 1
        rules:
          - name: read-public-orders
            effect: allow
            subjects: {groups: [analysts]}
            commands: {sql: {kinds: [SELECT], objects: [public.orders]}}
          - name: no-billing-payments
            effect: deny
            commands: {sql: {objects: [billing.payments]}}
        """);
    var s = session(user("ann", "analysts"), PG_DEMO);
    assertThat(p.decide(s, select("public.orders")).rule()).isEqualTo("read-public-orders");
    // The search path decides which "orders" this is: not provably public.orders.
    assertThat(p.decide(s, select("orders")).rule()).isEqualTo(Decision.NO_MATCH);
    // ...and an unqualified "payments" may well be billing.payments.
    assertThat(p.decide(s, sql("SELECT", List.of("SELECT"), Set.of("public.orders", "payments"), Set.of())).rule())
        .isEqualTo("no-billing-payments");
  }

  @Test
  void objectGlobsMatchSchemasAndPrefixes() {
    PolicyEngine p = policy(ALLOW_DEVS + """
          - name: no-audit-schema
            effect: deny
            commands: {sql: {objects: ["audit.*", "*.secret_?"]}}
        """);
    var s = session(user("alice", "developers"), PG_DEMO);
    assertThat(p.decide(s, select("audit.events")).rule()).isEqualTo("no-audit-schema");
    assertThat(p.decide(s, select("app.secret_1")).rule()).isEqualTo("no-audit-schema");
    assertThat(p.decide(s, select("app.secret_12")).rule()).isEqualTo("devs");
    assertThat(p.decide(s, select("auditing.events")).rule()).isEqualTo("devs");
  }

  @Test
  void restrictiveRulesCompareNamesCaseInsensitively() {
    PolicyEngine p = policy(ALLOW_DEVS + """
          - name: no-payments
            effect: deny
            commands: {sql: {objects: [public.payments]}}
          - name: read-orders
            effect: allow
            subjects: {groups: [analysts]}
            commands: {sql: {kinds: [SELECT], objects: [public.orders]}}
        """);
    assertThat(p.decide(session(user("alice", "developers"), PG_DEMO), select("Public.Payments")).rule()).isEqualTo("no-payments");
    // An allow is exact: "Orders" (a quoted, different table) is not public.orders.
    var ann = session(user("ann", "analysts"), PG_DEMO);
    assertThat(p.decide(ann, select("public.orders")).rule()).isEqualTo("read-orders");
    assertThat(p.decide(ann, select("public.Orders")).rule()).isEqualTo(Decision.NO_MATCH);
  }

  @Test
  void functionsMatchQualifiedOrNot() {
    PolicyEngine p = policy(ALLOW_DEVS + """
          - name: no-file-functions
            effect: deny
            commands: {sql: {functions: [pg_read_file, "lo_*"]}}
        """);
    var s = session(user("alice", "developers"), PG_DEMO);
    assertThat(p.decide(s, sql("", List.of("SELECT"), Set.of(), Set.of("pg_catalog.pg_read_file"))).rule()).isEqualTo("no-file-functions");
    assertThat(p.decide(s, sql("", List.of("SELECT"), Set.of(), Set.of("lo_import"))).rule()).isEqualTo("no-file-functions");
    assertThat(p.decide(s, sql("", List.of("SELECT"), Set.of(), Set.of("lower"))).rule()).isEqualTo("devs");
  }

  @Test
  void flagsMatchAnyForDenyAndMustAllBeListedForAllow() {
    PolicyEngine p = policy("""
        version: 1
        rules:
          - name: writers
            effect: allow
            subjects: {groups: [writers]}
            commands: {flags: [data_modifying]}
          - name: no-unbounded
            effect: deny
            commands: {flags: [no_where, copy_program]}
        """);
    var s = session(user("wes", "writers"), PG_DEMO);
    assertThat(p.decide(s, kind("UPDATE", "t", CommandFlag.DATA_MODIFYING)).rule()).isEqualTo("writers");
    assertThat(p.decide(s, kind("UPDATE", "t", CommandFlag.DATA_MODIFYING, CommandFlag.NO_WHERE)).rule()).isEqualTo("no-unbounded");
    assertThat(p.decide(s, kind("UPDATE", "t", CommandFlag.DATA_MODIFYING, CommandFlag.OPAQUE_CODE)).rule()).isEqualTo(Decision.NO_MATCH);
  }

  @Test
  void unclassifiedCommandsAreAllowedOnlyByARuleThatNamesThem() {
    PolicyEngine p = policy("""
        version: 1
        rules:
          - name: devs
            effect: allow
            subjects: {groups: [developers]}
          - name: break-glass
            effect: allow
            subjects: {groups: [dba]}
            commands: {flags: [unclassified]}
        """);
    Decision d = p.decide(session(user("alice", "developers"), PG_DEMO), unclassified());
    assertThat(d.rule()).isEqualTo(Decision.NO_MATCH);
    assertThat(((Decision.Deny) d).reason()).contains("could not classify");
    assertThat(p.decide(session(user("dave", "dba"), PG_DEMO), unclassified()).rule()).isEqualTo("break-glass");
    var fastPath = sql("", List.of(), Set.of(), Set.of(), CommandFlag.FUNCTION_CALL);
    assertThat(p.decide(session(user("alice", "developers"), PG_DEMO), fastPath).rule()).isEqualTo(Decision.NO_MATCH);
  }

  @Test
  void subjectMatchersCoverUsersIssuersKindsAndClaims() {
    PolicyEngine p = policy("""
        version: 1
        rules:
          - name: by-subject
            effect: allow
            subjects: {users: [alice]}
            resources: {names: [pg-demo]}
          - name: by-display-name
            effect: allow
            subjects: {users: [bob@example.com], issuers: [corp], kinds: [human]}
            resources: {names: [pg-demo]}
          - name: ci-main
            effect: allow
            subjects:
              kinds: [machine]
              issuers: [github]
              claims:
                repository: acme/api
                ref: [refs/heads/main, refs/heads/release]
            resources: {tags: {env: [dev, staging]}}
        """);
    assertThat(p.admit(user("alice"), PG_DEMO, CLIENT).rule()).isEqualTo("by-subject");
    assertThat(p.admit(user("bob"), PG_DEMO, CLIENT).rule()).isEqualTo("by-display-name");
    assertThat(p.admit(user("carol"), PG_DEMO, CLIENT).rule()).isEqualTo(Decision.NO_MATCH);
    var ci = machine("repo:acme/api", Map.of("repository", "acme/api", "ref", "refs/heads/main"));
    assertThat(p.admit(ci, PG_DEMO, CLIENT).rule()).isEqualTo("ci-main");
    assertThat(p.admit(ci, PG_PROD, CLIENT).rule()).isEqualTo(Decision.NO_MATCH);
    var fork = machine("repo:evil/api", Map.of("repository", "evil/api", "ref", "refs/heads/main"));
    assertThat(p.admit(fork, PG_DEMO, CLIENT).rule()).isEqualTo(Decision.NO_MATCH);
    var branch = machine("repo:acme/api", Map.of("repository", "acme/api", "ref", "refs/heads/feature"));
    assertThat(p.admit(branch, PG_DEMO, CLIENT).rule()).isEqualTo(Decision.NO_MATCH);
  }

  @Test
  void resourceTypesAndTagsMatch() {
    PolicyEngine p = policy("""
        version: 1
        rules:
          - name: prod-postgres
            effect: deny
            resources: {types: [postgres], tags: {env: prod}}
          - name: all
            effect: allow
            subjects: {groups: [developers]}
        """);
    assertThat(p.admit(user("alice", "developers"), PG_PROD, CLIENT).rule()).isEqualTo("prod-postgres");
    assertThat(p.admit(user("alice", "developers"), PG_DEMO, CLIENT).rule()).isEqualTo("all");
  }

  @Test
  void allowCarriesTheMasksOfEveryMatchingAllowRule() {
    PolicyEngine p = policy("""
        version: 1
        rules:
          - name: support
            effect: allow
            subjects: {groups: [support]}
            mask: [email]
          - name: support-customers
            effect: allow
            subjects: {groups: [support]}
            commands: {sql: {objects: [customers]}}
            mask: [ssn, email]
        """);
    Decision d = p.decide(session(user("sue", "support"), PG_DEMO), select("public.customers"));
    assertThat(d).isInstanceOf(Decision.Allow.class);
    assertThat(d.rule()).isEqualTo("support");
    assertThat(((Decision.Allow) d).obligations().masks()).containsExactly("email", "ssn");
  }

  @Test
  void aMaskRuleAddsItsMasksToWhatOtherRulesAllowButAllowsNothingItself() {
    PolicyEngine p = policy("""
        version: 1
        rules:
          - name: connect
            effect: allow
            applies_to: [connect]
          - name: analysts-mask
            effect: mask
            subjects: {groups: [analysts]}
            mask: [email]
          - name: analysts-read
            effect: allow
            subjects: {groups: [analysts]}
            commands: {sql: {kinds: [SELECT]}, flags: []}
          - name: customers-cards
            effect: mask
            commands: {sql: {objects: [billing.customers]}}
            mask: [card]
        """);
    var ann = session(user("ann", "analysts"), PG_DEMO);
    Decision read = p.decide(ann, select("customers"));
    assertThat(read.rule()).isEqualTo("analysts-read");
    // The masks of every matching mask rule; an unqualified name may be billing's table, so its masks apply.
    assertThat(((Decision.Allow) read).obligations().masks()).containsExactly("email", "card");
    // A write no allow rule covers is refused: the mask rule that matches it grants nothing.
    Decision write = p.decide(ann, kind("UPDATE", "t", CommandFlag.DATA_MODIFYING));
    assertThat(write).isInstanceOf(Decision.Deny.class);
    assertThat(write.rule()).isEqualTo(Decision.NO_MATCH);
    // The refusal says what was matched: the kinds and flags no rule allows.
    assertThat(((Decision.Deny) write).reason())
        .isEqualTo("no policy rule allows this command on \"pg-demo\" (UPDATE; flags data_modifying)");
    // A mask rule never applies at connection time: it cannot admit anyone.
    assertThat(p.admit(user("ann", "analysts"), PG_DEMO, CLIENT).rule()).isEqualTo("connect");
  }

  @Test
  void aRefusalOfOpaqueCodeNamesTheFunctionsThatMadeItOpaque() {
    PolicyEngine p = policy("""
        version: 1
        rules:
          - name: connect
            effect: allow
            applies_to: [connect]
          - name: reads
            effect: allow
            commands: {sql: {kinds: [SELECT]}, flags: [transaction_control]}
          - name: no-opaque-code
            effect: deny
            message: code Gatehouse cannot see into is reserved to the dba group
            subjects: {groups: [developers]}
            commands: {flags: [opaque_code]}
        """);
    Command call = new Command("sql", "SELECT public.f(x), lower(y), g() FROM t", new Classification(List.of("SELECT"),
        Set.of("t"), Set.of("public.f", "lower", "g"), Set.of(CommandFlag.OPAQUE_CODE, CommandFlag.DATA_MODIFYING),
        Set.of("public.f", "g")), Map.of());
    // Nothing allows it: the refusal lists what was matched, and what made it opaque.
    Decision unmatched = p.decide(session(user("ann", "analysts"), PG_DEMO), call);
    assertThat(((Decision.Deny) unmatched).reason()).isEqualTo("no policy rule allows this command on \"pg-demo\""
        + " (SELECT; flags data_modifying, opaque_code: calls g, public.f)");
    // A rule that refuses opaque code says which call it refused.
    Decision denied = p.decide(session(user("alice", "developers"), PG_DEMO), call);
    assertThat(((Decision.Deny) denied).reason())
        .isEqualTo("code Gatehouse cannot see into is reserved to the dba group (opaque_code: calls g, public.f)");
    // Opaque for another reason: the statement says which (round 40: an SQL EXECUTE, as pg_dump
    // sends, was refused with nothing to tell it from a function).
    Command block = new Command("sql", "DO $$ … $$", new Classification(List.of("DO"), Set.of(), Set.of(),
        Set.of(CommandFlag.OPAQUE_CODE)), Map.of());
    assertThat(((Decision.Deny) p.decide(session(user("alice", "developers"), PG_DEMO), block)).reason())
        .isEqualTo("code Gatehouse cannot see into is reserved to the dba group (opaque_code: DO)");
    Command execute = new Command("sql", "EXECUTE q(1)", new Classification(List.of("EXECUTE"), Set.of(), Set.of(),
        Set.of(CommandFlag.OPAQUE_CODE)), Map.of());
    assertThat(((Decision.Deny) p.decide(session(user("alice", "developers"), PG_DEMO), execute)).reason())
        .isEqualTo("code Gatehouse cannot see into is reserved to the dba group (opaque_code: EXECUTE of a prepared statement;"
            + " Gatehouse does not follow SQL-level PREPARE names: use a driver's prepared statements, which it does)");
  }

  @Test
  void grantRequiredAsksTheGrantLookupAndFailsClosedWhenItThrows() {
    String yaml = """
        version: 1
        rules:
          - name: prod-with-grant
            effect: allow
            subjects: {groups: [oncall]}
            resources: {tags: {env: prod}}
            when: {grant: required}
          - name: prod-frozen
            effect: deny
            resources: {tags: {env: prod}}
            when: {grant: required}
            unless: {subjects: {groups: [oncall]}}
        """;
    var source = List.of(new PolicySource("g.yaml", yaml));
    var oncall = user("olga", "oncall");
    var none = new PolicyLoader(clock(NOW), GrantLookup.NONE).compile(source);
    assertThat(none.admit(oncall, PG_PROD, CLIENT).rule()).isEqualTo(Decision.NO_MATCH);
    var granted = new PolicyLoader(clock(NOW), (pr, r, at) -> pr.subject().equals("olga") && r.equals(PG_PROD)).compile(source);
    assertThat(granted.admit(oncall, PG_PROD, CLIENT).rule()).isEqualTo("prod-with-grant");
    var broken = new PolicyLoader(clock(NOW), (pr, r, at) -> { throw new IllegalStateException("store down"); }).compile(source);
    // The allow cannot be proven; the deny counts as matching. Fail closed both ways.
    assertThat(broken.admit(oncall, PG_PROD, CLIENT).rule()).isEqualTo(Decision.NO_MATCH);
    assertThat(broken.admit(user("x", "devs"), PG_PROD, CLIENT).rule()).isEqualTo("prod-frozen");
  }

  @Test
  void theFirstRuleOfTheWinningEffectNamesTheDecision() {
    PolicyEngine p = policy("""
        version: 1
        rules:
          - name: a
            effect: deny
            commands: {flags: [ddl]}
          - name: b
            effect: deny
            commands: {flags: [ddl]}
        """);
    assertThat(p.decide(session(user("x"), PG_DEMO), kind("ALTER TABLE", "t", CommandFlag.DDL)).rule()).isEqualTo("a");
  }
}
