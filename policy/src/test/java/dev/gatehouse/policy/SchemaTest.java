package dev.gatehouse.policy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gatehouse.core.CommandFlag;
import dev.gatehouse.core.ResourceType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/** The documented schema (docs/policy.schema.json) must describe the format the loader reads. */
class SchemaTest {
  private static final Path SCHEMA = Path.of("..", "docs", "policy.schema.json");

  private static JsonNode schema() throws Exception {
    return new ObjectMapper().readTree(Files.readString(SCHEMA));
  }

  private static Set<String> enumOf(JsonNode node) {
    Set<String> out = new TreeSet<>();
    node.get("enum").forEach(n -> out.add(n.asText()));
    return out;
  }

  private static Set<String> keys(JsonNode node) {
    Set<String> out = new TreeSet<>();
    node.get("properties").fieldNames().forEachRemaining(out::add);
    return out;
  }

  private static Set<String> recordKeys(Class<?> record) {
    Set<String> out = new TreeSet<>();
    for (var c : record.getRecordComponents()) out.add(c.getName().replaceAll("([A-Z])", "_$1").toLowerCase(Locale.ROOT));
    return out;
  }

  @Test
  void flagsEffectsAndResourceTypesMatchTheEngine() throws Exception {
    JsonNode defs = schema().get("$defs");
    assertThat(enumOf(defs.get("flag"))).isEqualTo(new TreeSet<>(
        Arrays.stream(CommandFlag.values()).map(f -> f.name().toLowerCase(Locale.ROOT)).toList()));
    assertThat(enumOf(defs.get("resourceType"))).isEqualTo(new TreeSet<>(
        Arrays.stream(ResourceType.values()).map(f -> f.name().toLowerCase(Locale.ROOT)).toList()));
    assertThat(enumOf(defs.get("rule").get("properties").get("effect"))).isEqualTo(new TreeSet<>(
        Arrays.stream(Effect.values()).map(Effect::yamlName).toList()));
  }

  @Test
  void everyKeyTheLoaderReadsIsInTheSchemaAndNoOther() throws Exception {
    JsonNode root = schema();
    JsonNode defs = root.get("$defs");
    Map<String, Class<?>> objects = Map.of(
        "rule", PolicyDocument.Rule.class,
        "match", PolicyDocument.Match.class,
        "subjects", PolicyDocument.Subjects.class,
        "resources", PolicyDocument.Resources.class,
        "commands", PolicyDocument.Commands.class,
        "sql", PolicyDocument.Sql.class,
        "when", PolicyDocument.When.class,
        "timeWindow", PolicyDocument.TimeWindow.class,
        "namedObjectDdl", PolicyDocument.NamedObjectDdl.class);
    List<String> mismatches = new ArrayList<>();
    objects.forEach((def, type) -> {
      if (!keys(defs.get(def)).equals(recordKeys(type))) mismatches.add(def + ": " + keys(defs.get(def)) + " vs " + recordKeys(type));
    });
    assertThat(mismatches).isEmpty();
    assertThat(keys(root)).isEqualTo(recordKeys(PolicyDocument.class));
  }
}
