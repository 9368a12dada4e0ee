package dev.gatehouse.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code gatehouse policy check} and the one-off form of {@code gatehouse policy test}, run the way a
 * user runs them (the case-file form is {@link PolicyCorpusTest}'s).
 */
class PolicyCommandTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir static Path dir;
  private static Path demoPolicy;

  @BeforeAll
  static void findTheDemoPolicy() {
    demoPolicy = CliRun.demoPolicy(dir);
  }

  @Test
  void policyCheckAcceptsTheDemoPolicy() {
    CliRun run = CliRun.inProcess("policy", "check", demoPolicy.toString());

    assertThat(run.outLines()).containsExactly("policy OK: 1 file(s)");
    assertThat(run.exit()).isZero();
  }

  @Test
  void policyCheckListsEveryErrorOfAFileWithItsLineAndColumn() throws IOException {
    Path file = write("two-errors.yaml", """
        version: 1
        rules:
          - name: x
            effect: maybe
            subjects: {groups: [a]}
          - name: y
            effect: deny
            commands: {sql: {kinds: [DRP]}}
        """);

    CliRun run = CliRun.inProcess("policy", "check", file.toString());

    assertThat(run.outLines()).containsExactly(
        file + ":4:13: rules[0].effect: unknown effect \"maybe\" (allow, deny, require_approval or mask)",
        file + ":8:30: rules[1].commands.sql.kinds[0]: unknown statement kind \"DRP\" (did you mean DROP?)",
        "2 error(s)");
    assertThat(run.exit()).isEqualTo(1);
  }

  @Test
  void policyCheckLocatesAMisspeltKeyAtTheKey() throws IOException {
    Path file = write("misspelt.yaml", """
        version: 1
        rules:
          - name: no-unbounded-writes
            effect: deny
            comands: {flags: [no_where]}
        """);

    CliRun run = CliRun.inProcess("policy", "check", file.toString());

    assertThat(run.outLines()).hasSize(2);
    assertThat(run.outLines().get(0)).startsWith(file + ":5:5: rules[0]: unknown key \"comands\"");
    assertThat(run.exit()).isEqualTo(1);
  }

  @Test
  void policyCheckReportsBrokenYamlWithFileAndLine() throws IOException {
    Path file = write("not-yaml.yaml", """
        version: 1
        rules:
          - name: a
            effect: allow
            subjects: {groups: [x]
        """);

    CliRun run = CliRun.inProcess("policy", "check", file.toString());

    assertThat(run.outLines().get(0)).matches(Pattern.quote(file.toString()) + ":[5-6]:\\d+: .+");
    assertThat(run.exit()).isEqualTo(1);
  }

  @Test
  void policyCheckOfSeveralFilesReportsARuleNameUsedTwice() throws IOException {
    Path second = write("second.yaml", """
        version: 1
        rules:
          - name: staff-connect
            effect: deny
        """);

    CliRun run = CliRun.inProcess("policy", "check", demoPolicy.toString(), second.toString());

    assertThat(run.outLines().get(0))
        .startsWith(second + ":3:11: rules[0].name: rule name \"staff-connect\" is already used at " + demoPolicy + ":");
    assertThat(run.exit()).isEqualTo(1);
  }

  @Test
  void policyTestPrintsTheDecisionTheRuleTheReasonAndTheClassification() {
    CliRun run = CliRun.inProcess("policy", "test", "--policy", demoPolicy.toString(), "--as", "alice", "--group", "developers",
        "--resource", "pg-demo", "--sql", "DELETE FROM orders");

    assertThat(run.outLines()).contains(
        "decision: deny (rule no-unbounded-writes)",
        "reason:   UPDATE and DELETE need a WHERE clause that names a column of their table",
        "statement: DELETE FROM orders",
        "  kinds [DELETE]  objects [orders]  functions []  flags [data_modifying, no_where]",
        "parser:   libpg_query");
    assertThat(run.exit()).isZero();
  }

  @Test
  void theDemosMaskRulesMaskWhatTheReferencePolicyAllowsAndAllowNothingMore() throws IOException {
    Path masking = dir.resolve("masking-policy.yaml");
    Files.writeString(masking, DemoCommand.MASKING_POLICY);
    java.util.function.Function<String, CliRun> asAnalyst = sql -> CliRun.inProcess("policy", "test",
        "--policy", demoPolicy.toString(), "--policy", masking.toString(),
        "--as", "ann", "--group", "analysts", "--resource", "pg-demo-read", "--sql", sql);

    CliRun read = asAnalyst.apply("SELECT email FROM customers");
    assertThat(read.outLines()).contains("decision: allow (rule analysts-read-only)", "masks:    email, card_number, phone");
    // Without the configuration it cannot say which rules confine: it says that it cannot.
    assertThat(read.out()).contains("note:     masking rules may confine these columns");
    // A mask rule grants nothing: the reads that write or lock stay refused (they were allowed
    // while the demo's masks rode on an allow rule of their own).
    for (String sql : List.of("SELECT setval('orders_id_seq', 1)", "SELECT nextval('orders_id_seq')",
        "SELECT * FROM orders WHERE id = 1 FOR UPDATE")) {
      assertThat(asAnalyst.apply(sql).outLines()).as(sql).contains("decision: deny (rule default-deny)");
    }
    CliRun dba = CliRun.inProcess("policy", "test", "--policy", demoPolicy.toString(), "--policy", masking.toString(),
        "--as", "dave", "--group", "dba", "--resource", "pg-demo", "--sql", "SELECT email FROM customers");
    assertThat(dba.outLines()).contains("decision: allow (rule developers-and-dbas-work)").noneMatch(l -> l.startsWith("masks:"));
  }

  @Test
  void policyTestWithTheConfigurationNamesTheConfiningRulesItCannotCheckAndNeedsNoSecret() throws IOException {
    // Round 40 (r40a F3): `SELECT upper(email) …` was "allow" here and refused by the gateway's
    // confinement, with nothing said. And the configuration's secrets had to resolve, so a CI job
    // needed the targets' passwords to test policy.
    Path masking = dir.resolve("confine-masking-policy.yaml");
    Files.writeString(masking, DemoCommand.MASKING_POLICY);
    Path config = dir.resolve("confine-gatehouse.yaml");
    Files.writeString(config, """
        node: {id: 0}
        resources:
          - name: pg-demo
            type: postgres
            host: 127.0.0.1
            port: 5432
            database: shop
            user: gatehouse_demo
            password: ${env:GATEHOUSE_TEST_SURELY_UNSET_PASSWORD}
        policy:
          files: [%s, %s]
        masking:
          hashKey: ${env:GATEHOUSE_TEST_SURELY_UNSET_KEY}
          rules:
            - {name: email, columns: ["public.customers.email"], style: {type: hash}, confine: true}
            - {name: card_number, columns: ["public.customers.card_number"], style: {type: keep_last, keep: 4}}
            - {name: phone, columns: ["public.customers.phone"], style: {type: redact}, confine: true}
        """.formatted(demoPolicy, masking));
    CliRun run = CliRun.inProcess("policy", "test", "--config", config.toString(), "--as", "alice", "--group", "developers",
        "--resource", "pg-demo", "--sql", "SELECT upper(email) FROM customers");
    assertThat(run.exit()).as(run.err()).isZero();
    assertThat(run.outLines()).contains("decision: allow (rule developers-and-dbas-work)")
        .anySatisfy(line -> assertThat(line).startsWith("confine:  email, phone: their columns may only be selected as they are"));
  }

  @Test
  void policyCheckWithTheConfigurationRefusesARuleNamingAnIssuerItDoesNotTrust() throws IOException {
    Path policy = dir.resolve("pinned-policy.yaml");
    Files.writeString(policy, """
        version: 1
        rules:
          - name: partner-read-only
            effect: deny
            subjects: {issuers: [partner]}
            commands: {flags: [data_modifying]}
        """);
    Path config = dir.resolve("pinned-gatehouse.yaml");
    Files.writeString(config, """
        node: {id: 0}
        identity:
          issuers:
            - {name: corp, issuer: "https://login.example.com", audiences: [gatehouse]}
        policy:
          files: [%s]
        """.formatted(policy));
    CliRun run = CliRun.inProcess("policy", "check", "--config", config.toString());
    assertThat(run.exit()).as(run.out() + run.err()).isEqualTo(1);
    assertThat(run.outLines()).contains(policy + ":5:26: rules[0].subjects.issuers[0]: unknown issuer \"partner\":"
        + " identity.issuers defines corp (no token comes from it: subjects pinned to it never match, in a rule or its unless)", "1 error(s)");
    // The same file alone: nothing to compare the names with.
    assertThat(CliRun.inProcess("policy", "check", policy.toString()).exit()).isZero();

    // Two issuers trusted, and a rule that names a group without its issuer: valid, with a warning.
    Files.writeString(policy, """
        version: 1
        rules:
          - name: dba-connect
            effect: allow
            subjects: {groups: [dba]}
          - name: partner-read-only
            effect: deny
            subjects: {issuers: [partner]}
            commands: {flags: [data_modifying]}
        """);
    Files.writeString(config, """
        node: {id: 0}
        identity:
          issuers:
            - {name: corp, issuer: "https://login.example.com", audiences: [gatehouse]}
            - {name: partner, issuer: "https://login.partner.example", audiences: [gatehouse]}
        policy:
          files: [%s]
        """.formatted(policy));
    CliRun warned = CliRun.inProcess("policy", "check", "--config", config.toString());
    assertThat(warned.exit()).as(warned.out() + warned.err()).isZero();
    assertThat(warned.outLines()).contains("warning: rules dba-connect name users, groups or claims without subjects.issuers;"
        + " with 2 issuers trusted (corp, partner), a token from any of them with those names matches: pin each rule to its issuer (docs/policy.md)");
  }

  @Test
  void policyTestWithoutSqlJudgesTheConnection() {
    CliRun stranger = CliRun.inProcess("policy", "test", "--policy", demoPolicy.toString(), "--as", "mallory",
        "--resource", "pg-demo");
    CliRun analyst = CliRun.inProcess("policy", "test", "--policy", demoPolicy.toString(), "--as", "ann",
        "--group", "analysts", "--resource", "pg-demo-read");
    CliRun analystAsOwner = CliRun.inProcess("policy", "test", "--policy", demoPolicy.toString(), "--as", "ann",
        "--group", "analysts", "--resource", "pg-demo");

    assertThat(stranger.outLines()).contains("decision: deny (rule default-deny)");
    assertThat(analyst.outLines()).contains("decision: allow (rule analysts-connect)");
    assertThat(analystAsOwner.outLines()).as("analysts reach the read-only resource only").contains("decision: deny (rule default-deny)");
  }

  @Test
  void policyTestJsonGivesTheDecisionTheRuleAndEveryStatement() throws Exception {
    CliRun run = CliRun.childProcess("policy", "test", "--policy", demoPolicy.toString(), "--as", "alice",
        "--group", "developers", "--resource", "pg-demo", "--sql", "SELECT 1; DROP TABLE orders", "--json");

    JsonNode result = resultRecord(run);
    assertThat(result.get("decision").asText()).isEqualTo("deny");
    assertThat(result.get("rule").asText()).isEqualTo("no-drop-truncate");
    assertThat(result.get("reason").asText()).isEqualTo("DROP and TRUNCATE are reserved to the dba group");
    JsonNode statements = result.get("statements");
    assertThat(statements).hasSize(2);
    assertThat(statements.get(0).get("text").asText()).isEqualTo("SELECT 1");
    assertThat(texts(statements.get(0).get("kinds"))).containsExactly("SELECT");
    assertThat(statements.get(1).get("text").asText()).isEqualTo("DROP TABLE orders");
    assertThat(texts(statements.get(1).get("kinds"))).containsExactly("DROP TABLE");
    assertThat(texts(statements.get(1).get("objects"))).containsExactly("orders");
    assertThat(texts(statements.get(1).get("flags"))).containsExactly("ddl");
    assertThat(run.exit()).isZero();
  }

  /** Scripts pipe {@code --json} into jq: standard output holds the result and nothing else (logs go to stderr). */
  @Test
  void policyTestJsonOutputIsExactlyOneJsonDocumentEvenInAFreshJvm() throws Exception {
    CliRun run = CliRun.childProcess("policy", "test", "--policy", demoPolicy.toString(), "--as", "alice",
        "--group", "developers", "--resource", "pg-demo", "--sql", "SELECT 1", "--json");

    assertThat(run.outLines()).hasSize(1);
    assertThat(JSON.readTree(run.outLines().get(0)).path("decision").asText()).isEqualTo("allow");
  }

  /** The one line of standard output that is the result. */
  private static JsonNode resultRecord(CliRun run) throws IOException {
    assertThat(run.outLines()).as("--json output: %s", run.out()).hasSize(1);
    JsonNode node = JSON.readTree(run.outLines().get(0));
    assertThat(node.has("decision")).isTrue();
    return node;
  }

  private static List<String> texts(JsonNode array) {
    List<String> out = new ArrayList<>();
    array.forEach(n -> out.add(n.asText()));
    return out;
  }

  private static Path write(String name, String text) throws IOException {
    return Files.writeString(dir.resolve(name), text);
  }
}
