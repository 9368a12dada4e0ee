package dev.gatehouse.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code masking:} section of gatehouse.yaml: rules bound, hash key resolved, errors located. */
class MaskingConfigTest {
  @TempDir Path dir;

  private final ConfigLoader loader = new ConfigLoader(
      Map.of("MASK_KEY", "0123456789abcdef0123456789abcdef-key", "SHORT", "short")::get);

  private Path write(String yaml) throws IOException {
    Path file = dir.resolve("gatehouse.yaml");
    Files.writeString(file, yaml);
    return file;
  }

  @Test
  void maskingRulesLoadWithTheirHashKeyFromASecretReference() throws IOException {
    var loaded = loader.load(write("""
        masking:
          hashKey: ${env:MASK_KEY}
          catalogTtl: 30s
          rules:
            - name: email
              columns: ["*.*.email"]
              style: {type: hash, length: 12, prefix: "e:"}
              detect: [email]
            - name: card
              resources: ["pg-*"]
              columns: ["public.customers.card_number"]
              style: {type: keep_last, keep: 4}
              strict: off
            - name: secrets
              detect: [cloud_key, private_key, jwt]
              detectIn: all
        """));
    assertThat(loaded.masking().ruleNames()).containsExactly("email", "card", "secrets");
    assertThat(loaded.config().masking().catalogTtl()).isEqualTo(Duration.ofSeconds(30));
    assertThat(loaded.masking().toString()).doesNotContain("0123456789abcdef");
  }

  @Test
  void noMaskingSectionMeansNoRules() throws IOException {
    assertThat(loader.load(write("node: {id: 1}\n")).masking().ruleNames()).isEmpty();
  }

  @Test
  void invalidRulesAreReportedWithTheirLocation() throws IOException {
    Path file = write("""
        masking:
          rules:
            - name: email
              columns: ["email"]
              style: {type: smudge}
        """);
    assertThatThrownBy(() -> loader.load(file))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("masking")
        .hasMessageContaining("rules[0] (email).columns")
        .hasMessageContaining("unknown style \"smudge\"");
  }

  @Test
  void aHashRuleNeedsALongEnoughKeyAndTheKeyIsNeverEchoed() throws IOException {
    Path noKey = write("""
        masking:
          rules:
            - {name: email, columns: ["*.*.email"], style: {type: hash}}
        """);
    assertThatThrownBy(() -> loader.load(noKey)).hasMessageContaining("hashKey");
    Path shortKey = write("""
        masking:
          hashKey: ${env:SHORT}
          rules:
            - {name: email, columns: ["*.*.email"], style: {type: hash}}
        """);
    assertThatThrownBy(() -> loader.load(shortKey)).hasMessageContaining("at least 32 bytes").hasMessageNotContaining("short\"");
  }

  @Test
  void unknownKeysInARuleAreRefused() throws IOException {
    Path file = write("""
        masking:
          rules:
            - {name: email, colums: ["*.*.email"]}
        """);
    assertThatThrownBy(() -> loader.load(file)).isInstanceOf(ConfigException.class).hasMessageContaining("colums");
  }
}
