package dev.gatehouse.postgres.sql;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gatehouse.core.CommandFlag;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/** Reads {@code corpus.json} (format described in the file's header). */
final class Corpus {
  record Entry(
      int index,
      int threat,
      String sql,
      List<String> kinds,
      Set<CommandFlag> flags,
      Optional<Set<String>> objects,
      Optional<Set<String>> functions,
      boolean changesParsing,
      Optional<Integer> statements,
      String note) {

    String label() {
      String s = sql.replace("\n", "\\n").replace("\0", "\\0");
      return "#" + index + " [threat " + threat + "] " + (s.length() > 90 ? s.substring(0, 90) + "…" : s);
    }
  }

  private Corpus() {}

  static List<Entry> entries() {
    try (InputStream in = Corpus.class.getResourceAsStream("/corpus.json")) {
      JsonNode root = new ObjectMapper().readTree(in);
      List<Entry> out = new ArrayList<>();
      int i = 0;
      for (JsonNode e : root.path("entries")) {
        Set<CommandFlag> flags = new LinkedHashSet<>();
        for (JsonNode f : e.path("flags")) flags.add(CommandFlag.valueOf(f.asText()));
        out.add(new Entry(
            i++,
            e.path("threat").asInt(),
            e.path("sql").asText(),
            strings(e.path("kinds")),
            flags,
            e.has("objects") ? Optional.of(new LinkedHashSet<>(strings(e.path("objects")))) : Optional.empty(),
            e.has("functions") ? Optional.of(new LinkedHashSet<>(strings(e.path("functions")))) : Optional.empty(),
            e.path("changesParsing").asBoolean(false),
            e.has("statements") ? Optional.of(e.path("statements").asInt()) : Optional.empty(),
            e.path("note").asText("")));
      }
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static List<String> strings(JsonNode array) {
    List<String> out = new ArrayList<>();
    for (JsonNode s : array) out.add(s.asText());
    return out;
  }
}
