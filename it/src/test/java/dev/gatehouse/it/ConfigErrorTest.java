package dev.gatehouse.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gatehouse.testkit.PostgresFixture;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code gatehouse serve --config bad.yaml}: Gatehouse refuses to start, exits 2 and says which
 * file, which key and what is wrong, without echoing a secret that was written where a reference
 * belongs.
 */
class ConfigErrorTest {
  @TempDir Path dir;

  /** A configuration that would start; each case breaks one thing in it. */
  private static final String VALID = """
      node: {id: 1, dataDir: data}
      listeners:
        postgres: {bind: 127.0.0.1, port: 0, tls: {mode: auto}}
        controlPlane: {bind: 127.0.0.1, port: 0}
      identity:
        issuers:
          - name: corp
            issuer: "http://127.0.0.1:9/corp"
            audiences: [gatehouse]
      sessions: {maxPerUser: 5, tokenGrace: 0s}
      resources:
        - name: pg-demo
          type: postgres
          host: 127.0.0.1
          port: 5432
          database: postgres
          user: someone
          password: ${file:target.password}
      policy:
        files: [policy.yaml]
      """;

  static Stream<Arguments> brokenConfigurations() {
    return Stream.of(
        Arguments.of("a misspelt key", VALID.replace("port: 0, tls", "prot: 0, tls"),
            "listeners.postgres.prot", "unknown key \"prot\" (line 3"),
        Arguments.of("plaintext on a public interface", VALID.replace("bind: 127.0.0.1, port: 0, tls: {mode: auto}", "bind: 0.0.0.0, port: 0, tls: {mode: off}"),
            "listeners.postgres.tls.mode", "off is allowed only on a listener bound to loopback"),
        Arguments.of("a password written inline", VALID.replace("${file:target.password}", "hunter2-inline-secret"),
            "resources[0].password", "not the secret itself"),
        Arguments.of("an unset environment variable", VALID.replace("${file:target.password}", "${env:GATEHOUSE_IT_SURELY_UNSET}"),
            "resources[0].password", "environment variable GATEHOUSE_IT_SURELY_UNSET is not set"),
        Arguments.of("an issuer without audience", VALID.replace("audiences: [gatehouse]", "audiences: []"),
            "identity.issuers[0].audiences", "at least one audience is required"),
        Arguments.of("an issuer over plain http elsewhere", VALID.replace("http://127.0.0.1:9/corp", "http://idp.example.com/corp"),
            "identity.issuers[0].issuer", "must use https"),
        Arguments.of("a policy file that does not exist", VALID.replace("[policy.yaml]", "[missing-policy.yaml]"),
            "policy.files[0]", "cannot read"),
        Arguments.of("a duration that is not one", VALID.replace("tokenGrace: 0s", "tokenGrace: soon"),
            "sessions.tokenGrace", "not a duration"),
        Arguments.of("an unknown resource type", VALID.replace("type: postgres", "type: oracle"),
            "resources[0].type", "unsupported type \"oracle\""),
        Arguments.of("a startup limit of zero", VALID.replace("tls: {mode: auto}}", "tls: {mode: auto}, maxStartups: 0}"),
            "listeners.postgres.maxStartups", "must be between 1 and 65536"),
        Arguments.of("a limit per source above the whole limit",
            VALID.replace("tls: {mode: auto}}", "tls: {mode: auto}, maxStartups: 8, maxStartupsPerSource: 9}"),
            "listeners.postgres.maxStartupsPerSource", "must be between 1 and listeners.postgres.maxStartups (8)"),
        Arguments.of("YAML that does not parse", VALID.replace("node: {id: 1, dataDir: data}", "node: {id: 1, dataDir: data}}"),
            "", "not valid YAML"),
        // Round 40: only SnakeYAML's context was kept ("while parsing a block mapping"), at the
        // block's first line; the problem and the line it is on came after it.
        Arguments.of("a key indented less than its siblings", VALID.replace("    port: 5432", "   port: 5432"),
            "", "not valid YAML (line 15, column 4): expected <block end>, but found '<block mapping start>'"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("brokenConfigurations")
  void serveRefusesToStartNamingTheFileAndTheKey(String what, String yaml, String key, String problem) throws IOException {
    Path config = write(yaml);
    Cli.Result r = Cli.run("serve", "--config", config.toString());
    assertThat(r.exitCode()).as(what + ": " + r.err()).isEqualTo(2);
    assertThat(r.err()).as(what).contains("gatehouse: " + config + ": " + (key.isEmpty() ? "" : key + ": ")).contains(problem);
    assertThat(r.err() + r.out()).as("a secret written inline is not echoed").doesNotContain("hunter2-inline-secret");
  }

  @Test
  void serveRefusesAMissingConfigurationFile() {
    Path missing = dir.resolve("nowhere.yaml");
    Cli.Result r = Cli.run("serve", "--config", missing.toString());
    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.err()).contains(missing + ": no such file");
  }

  @Test
  void serveRefusesASuperuserTargetRoleNamingTheResource() throws IOException {
    // The machine's (or embedded) superuser: every guardrail is one function call away from it.
    PostgresFixture pg = PostgresFixture.shared();
    String yaml = VALID.replace("port: 5432", "port: " + pg.port())
        .replace("user: someone", "user: " + pg.superuser() + "\n    tls: {mode: disable}");
    assertThat(yaml).contains("user: " + pg.superuser() + "\n    tls: {mode: disable}\n    password");
    Path config = write(yaml);
    Cli.Result r = Cli.run("serve", "--config", config.toString());
    assertThat(r.exitCode()).as(r.err()).isEqualTo(2);
    assertThat(r.err()).contains(config + ": resources[0]: resource \"pg-demo\"").contains("role \"" + pg.superuser() + "\" has SUPERUSER").contains("acceptPrivilegedRole");
  }

  @Test
  void serveRefusesAPolicyThatAppliesAnUndefinedMaskingRule() throws IOException {
    // Policy decides who gets masked data; masking.rules says how. A name policy uses but no rule
    // defines would otherwise only show as refused statements at run time.
    Files.writeString(dir.resolve("masks.yaml"), """
        version: 1
        rules:
          - name: developers-see-masked-cards
            effect: allow
            applies_to: [commands]
            subjects: {groups: [developers]}
            resources: {names: [pg-demo]}
            mask: [card-numbers]
        """);
    Path config = write(VALID.replace("files: [policy.yaml]", "files: [policy.yaml, masks.yaml]"));
    Cli.Result r = Cli.run("serve", "--config", config.toString());
    assertThat(r.exitCode()).as(r.err()).isEqualTo(2);
    assertThat(r.err()).contains(config + ": policy.files: ").contains("masking rules that masking.rules does not define: card-numbers");
  }

  private Path write(String yaml) throws IOException {
    Files.writeString(dir.resolve("target.password"), "not-used\n");
    Files.writeString(dir.resolve("policy.yaml"), dev.gatehouse.policy.PolicySource.demo().text());
    Path config = dir.resolve("gatehouse.yaml");
    Files.writeString(config, yaml);
    return config;
  }
}
