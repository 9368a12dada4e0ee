package dev.gatehouse.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {
  @TempDir Path dir;

  private final ConfigLoader loader = new ConfigLoader(Map.of("PG_PASSWORD", "s3cr3t-value")::get);

  private Path write(String yaml) throws IOException {
    Path file = dir.resolve("gatehouse.yaml");
    Files.writeString(file, yaml);
    return file;
  }

  private static final String RESOURCE = """
      resources:
        - name: pg-prod
          type: postgres
          host: db.internal
          database: app
          user: gatehouse_app
          password: ${env:PG_PASSWORD}
      """;

  @Test
  void fullConfigurationLoadsWithDefaultsAndResolvedSecrets() throws IOException {
    var loaded = loader.load(write("""
        node: {id: 3}
        listeners:
          postgres: {port: 25432, startupTimeout: 5s, maxStartups: 64}
        identity:
          issuers:
            - name: corp
              issuer: https://login.example.com
              audiences: [gatehouse]
        """ + RESOURCE));
    assertThat(loaded.config().node().id()).isEqualTo(3);
    assertThat(loaded.config().listeners().postgres().maxStartups()).isEqualTo(64);
    assertThat(loaded.config().listeners().postgres().port()).isEqualTo(25432);
    assertThat(loaded.config().listeners().postgres().startupTimeout()).isEqualTo(Duration.ofSeconds(5));
    assertThat(loaded.config().listeners().postgres().bind()).isEqualTo("127.0.0.1");
    assertThat(loaded.config().identity().issuers().get(0).algorithms()).containsExactly("RS256", "ES256");
    assertThat(loaded.resourcePasswords().get("pg-prod").reveal()).isEqualTo("s3cr3t-value");
    assertThat(loaded.dataDir()).isEqualTo(dir.resolve("data"));
  }

  /**
   * docs/configuration.md's complete example loads as written (its absolute paths moved into the
   * test's directory, where the files it names are created), so the documentation cannot drift
   * from the keys Gatehouse accepts.
   */
  @Test
  void theDocumentedCompleteExampleLoads() throws IOException {
    String doc = Files.readString(Path.of("..", "docs", "configuration.md"));
    int section = doc.indexOf("## A complete example");
    int start = doc.indexOf("```yaml\n", section) + "```yaml\n".length();
    String yaml = doc.substring(start, doc.indexOf("```", start)).replace("/etc/gatehouse/", dir + "/");
    for (String file : List.of("cluster-ca.crt", "pg-prod-ca.crt", "policy.yaml")) Files.writeString(dir.resolve(file), "");
    var loaded = new ConfigLoader(Map.of("PG_PROD_PASSWORD", "from-the-environment")::get).load(write(yaml));
    assertThat(loaded.config().node().peers()).hasSize(1);
    assertThat(loaded.config().identity().issuers()).hasSize(2);
    assertThat(loaded.resourcePasswords().get("pg-prod").reveal()).isEqualTo("from-the-environment");
  }

  @Test
  void peersOfAClusterLoadWithTheirTls() throws IOException {
    Files.writeString(dir.resolve("node1-ca.crt"), "not read at load time, only checked to exist");
    var loaded = loader.load(write("""
        node:
          id: 2
          peers:
            - {id: 1, host: gh-1.internal, tls: {ca: node1-ca.crt}}
            - {id: 3, host: 127.0.0.1, port: 25432, tls: {mode: disable}}
        """ + RESOURCE));
    var peers = loaded.config().node().peers();
    assertThat(peers).hasSize(2);
    assertThat(peers.get(0).port()).isEqualTo(15432);
    assertThat(peers.get(0).tls().mode()).isEqualTo("verify-full");
    assertThat(peers.get(1).tls().mode()).isEqualTo("disable");
  }

  @Test
  void peerMistakesAreNamedByKey() throws IOException {
    for (var bad : Map.of(
        "[{host: gh-1.internal}]", "node.peers[0].id: is required",
        "[{id: 0, host: gh-1.internal}]", "node.peers[0].id: is this node's own id 0",
        "[{id: 1, host: a}, {id: 1, host: b}]", "node.peers[1].id: duplicate peer id 1",
        "[{id: 300, host: a}]", "node.peers[0].id: must be 0..255",
        "[{id: 1}]", "node.peers[0].host: is required",
        "[{id: 1, host: a, port: 0}]", "node.peers[0].port: must be 1..65535",
        "[{id: 1, host: a, tls: {mode: prefer}}]", "node.peers[0].tls.mode: must be verify-full, require or disable",
        "[{id: 1, host: a, tls: {ca: missing.crt}}]", "node.peers[0].tls.ca: cannot read",
        "[{id: 1, host: gh-1.internal, tls: {mode: disable}}]",
            "node.peers[0].tls.mode: disable is allowed only towards a loopback address").entrySet()) {
      Path file = write("node: {id: 0, peers: " + bad.getKey() + "}\n" + RESOURCE);
      assertThatThrownBy(() -> loader.load(file)).as(bad.getKey()).isInstanceOf(ConfigException.class)
          .hasMessageContaining(bad.getValue());
    }
  }

  @Test
  void inlineSecretIsRefusedWithoutEchoingIt() throws IOException {
    Path file = write(RESOURCE.replace("${env:PG_PASSWORD}", "hunter2-inline"));
    assertThatThrownBy(() -> loader.load(file))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("gatehouse.yaml")
        .hasMessageContaining("resources[0].password")
        .hasMessageContaining("not the secret itself")
        .hasMessageNotContaining("hunter2-inline");
  }

  @Test
  void missingEnvironmentVariableIsNamed() throws IOException {
    Path file = write(RESOURCE.replace("PG_PASSWORD", "NOT_SET_ANYWHERE"));
    assertThatThrownBy(() -> loader.load(file)).hasMessageContaining("environment variable NOT_SET_ANYWHERE is not set");
  }

  @Test
  void secretFileIsReadRelativeToTheConfigFile() throws IOException {
    Files.writeString(dir.resolve("pg.pass"), "from-file\n");
    var loaded = loader.load(write(RESOURCE.replace("${env:PG_PASSWORD}", "${file:pg.pass}")));
    assertThat(loaded.resourcePasswords().get("pg-prod").reveal()).isEqualTo("from-file");
  }

  @Test
  void unknownKeyIsNamedWithItsPathAndLine() throws IOException {
    Path file = write("""
        listeners:
          postgres:
            prot: 15432
        """);
    assertThatThrownBy(() -> loader.load(file))
        .hasMessageContaining("listeners.postgres")
        .hasMessageContaining("unknown key \"prot\"")
        .hasMessageContaining("line 3");
  }

  @Test
  void plaintextListenerOffLoopbackIsRefused() throws IOException {
    Path file = write("""
        listeners:
          postgres: {bind: 0.0.0.0, tls: {mode: off}}
        """);
    assertThatThrownBy(() -> loader.load(file))
        .hasMessageContaining("listeners.postgres.tls.mode")
        .hasMessageContaining("only on a listener bound to loopback");
  }

  @Test
  void plaintextListenerOnLoopbackIsAccepted() throws IOException {
    var loaded = loader.load(write("""
        listeners:
          postgres: {bind: 127.0.0.1, tls: {mode: off}}
        """));
    assertThat(loaded.config().listeners().postgres().tls().mode()).isEqualTo(GatehouseConfig.TlsMode.OFF);
  }

  @Test
  void issuerWithoutAudienceIsRefused() throws IOException {
    Path file = write("""
        identity:
          issuers:
            - {name: corp, issuer: "https://login.example.com"}
        """);
    assertThatThrownBy(() -> loader.load(file)).hasMessageContaining("identity.issuers[0].audiences");
  }

  @Test
  void issuerTimeoutsHaveDefaultsCanBeSetAndMustBeSensible() throws IOException {
    String issuers = """
          issuers:
            - {name: corp, issuer: "https://login.example.com", audiences: [g]}
        """;
    var defaults = loader.load(write("identity:\n" + issuers));
    assertThat(defaults.config().identity().connectTimeout()).isEqualTo(Duration.ofSeconds(2));
    assertThat(defaults.config().identity().readTimeout()).isEqualTo(Duration.ofSeconds(3));
    var set = loader.load(write("identity:\n  connectTimeout: 500ms\n  readTimeout: 10s\n" + issuers));
    assertThat(set.config().identity().connectTimeout()).isEqualTo(Duration.ofMillis(500));
    assertThat(set.config().identity().readTimeout()).isEqualTo(Duration.ofSeconds(10));
    Path zero = write("identity:\n  readTimeout: 0s\n" + issuers);
    assertThatThrownBy(() -> loader.load(zero)).isInstanceOf(ConfigException.class).hasMessageContaining("identity.readTimeout");
    Path huge = write("identity:\n  connectTimeout: 2h\n" + issuers);
    assertThatThrownBy(() -> loader.load(huge)).isInstanceOf(ConfigException.class).hasMessageContaining("identity.connectTimeout");
  }

  @Test
  void plainHttpIssuerIsRefusedUnlessOnLoopback() throws IOException {
    Path remote = write("""
        identity:
          issuers:
            - {name: corp, issuer: "http://login.example.com", audiences: [g]}
        """);
    assertThatThrownBy(() -> loader.load(remote)).hasMessageContaining("must use https");
    var local = loader.load(write("""
        identity:
          issuers:
            - {name: dev, issuer: "http://127.0.0.1:9000/dev", audiences: [g]}
        """));
    assertThat(local.config().identity().issuers()).hasSize(1);
  }

  @Test
  void symmetricAlgorithmsAreNeverAccepted() throws IOException {
    Path file = write("""
        identity:
          issuers:
            - {name: corp, issuer: "https://login.example.com", audiences: [g], algorithms: [HS256]}
        """);
    assertThatThrownBy(() -> loader.load(file)).hasMessageContaining("unsupported algorithm HS256");
  }

  @Test
  void badDurationIsExplained() throws IOException {
    Path file = write("sessions: {tokenGrace: soon}\n");
    assertThatThrownBy(() -> loader.load(file))
        .hasMessageContaining("sessions.tokenGrace")
        .hasMessageContaining("not a duration");
  }

  @Test
  void yamlAliasBombIsRefused() throws IOException {
    StringBuilder yaml = new StringBuilder("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for (int i = 0; i < 30; i++) {
      yaml.append((char) ('b' + (i % 20))).append(i).append(": &").append((char) ('b' + (i % 20))).append(i)
          .append(" [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n");
    }
    Path file = write(yaml.toString());
    assertThatThrownBy(() -> loader.load(file)).isInstanceOf(ConfigException.class);
  }

  @Test
  void duplicateResourceNamesAreRefused() throws IOException {
    Path file = write(RESOURCE + """
          - name: pg-prod
            type: postgres
            host: other
            database: app
            user: u
            password: ${env:PG_PASSWORD}
        """);
    assertThatThrownBy(() -> loader.load(file)).hasMessageContaining("resources[1].name").hasMessageContaining("duplicate");
  }

  @Test
  void maxStartupsDefaultsTo512AndMustBeAPositiveNumberWithinTheLimit() throws IOException {
    var defaults = loader.load(write("""
        identity:
          issuers:
            - name: corp
              issuer: https://login.example.com
              audiences: [gatehouse]
        """ + RESOURCE));
    assertThat(defaults.config().listeners().postgres().maxStartups()).isEqualTo(512);
    for (String bad : List.of("0", "-3", "100000")) {
      Path file = write("""
          listeners:
            postgres: {maxStartups: %s}
          identity:
            issuers:
              - name: corp
                issuer: https://login.example.com
                audiences: [gatehouse]
          """.formatted(bad) + RESOURCE);
      assertThatThrownBy(() -> loader.load(file)).as(bad)
          .isInstanceOf(ConfigException.class)
          .hasMessageContaining("gatehouse.yaml")
          .hasMessageContaining("listeners.postgres.maxStartups")
          .hasMessageContaining("between 1 and 65536");
    }
  }
}
