package dev.gatehouse.policy;

import com.fasterxml.jackson.annotation.JsonSetter;
import com.fasterxml.jackson.annotation.Nulls;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonStreamContext;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;
import java.io.IOException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.stream.Collectors;
import org.yaml.snakeyaml.LoaderOptions;

/**
 * Reads policy and test-case YAML safely and remembers where every value was written.
 *
 * <p>Safety: files over {@link #MAX_CHARS} characters, nesting deeper than {@link #MAX_DEPTH},
 * anchors and aliases (the "billion laughs" vector, and Jackson would silently turn an alias into
 * the anchor's name) and explicit tags are refused before binding. Binding uses a plain {@link
 * ObjectMapper}: no default or polymorphic typing, unknown keys and duplicate keys fail, nulls inside
 * lists fail.
 *
 * <p>Locations: a first streaming pass records the line and column of every value under its key
 * path ({@code rules[3].commands.sql.kinds[0]}), so errors found after binding still point at the
 * text. Thread-safe: the mapper is configured once and only read.
 */
final class PolicyYaml {
  /** A policy file larger than this is certainly a mistake (or an attack). */
  static final int MAX_CHARS = 1 << 20;

  static final int MAX_DEPTH = 32;

  private final YAMLFactory factory;
  private final ObjectMapper mapper;

  PolicyYaml() {
    LoaderOptions loader = new LoaderOptions();
    loader.setCodePointLimit(MAX_CHARS);
    loader.setNestingDepthLimit(MAX_DEPTH);
    loader.setMaxAliasesForCollections(0);
    loader.setAllowRecursiveKeys(false);
    loader.setAllowDuplicateKeys(false);
    loader.setProcessComments(false);
    factory = YAMLFactory.builder()
        .loaderOptions(loader)
        .streamReadConstraints(StreamReadConstraints.builder()
            .maxNestingDepth(MAX_DEPTH)
            .maxStringLength(64 * 1024)
            .maxNumberLength(40)
            .build())
        .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
        .build();
    mapper = JsonMapper.builder(factory)
        .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
        .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
        .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
        .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
        .enable(DeserializationFeature.ACCEPT_SINGLE_VALUE_AS_ARRAY)
        .enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY)
        .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
        .defaultSetterInfo(JsonSetter.Value.forContentNulls(Nulls.FAIL))
        .build();
  }

  /** A bound document and the locations of its values. */
  record Parsed<T>(T value, Locations locations) {}

  /**
   * Parses {@code text} (named {@code source} in errors) into {@code type}.
   *
   * @throws PolicyException with every located error found
   */
  <T> Parsed<T> read(String source, String text, Class<T> type) {
    Objects.requireNonNull(source, "source == null");
    Objects.requireNonNull(text, "text == null");
    if (text.length() > MAX_CHARS) {
      throw new PolicyException(List.of(new PolicyError(source, 0, 0, "",
          "file is " + text.length() + " characters, more than the limit of " + MAX_CHARS)));
    }
    Locations locations = index(source, text);
    if (text.isBlank()) {
      throw new PolicyException(List.of(new PolicyError(source, 1, 1, "", "file is empty")));
    }
    try {
      T value = mapper.readValue(text, type);
      if (value == null) {
        throw new PolicyException(List.of(new PolicyError(source, 1, 1, "", "file holds no document")));
      }
      return new Parsed<>(value, locations);
    } catch (JsonProcessingException e) {
      throw new PolicyException(List.of(relocate(bindingError(source, e), e, locations)));
    }
  }

  /**
   * Jackson reports where its parser stood when binding failed, which can be past the offending
   * value; the index knows where the value (or the unknown key itself) was written.
   */
  private static PolicyError relocate(PolicyError error, JsonProcessingException e, Locations locations) {
    Optional<JsonLocation> found = e instanceof UnrecognizedPropertyException u
        ? locations.key((error.path().isEmpty() ? "" : error.path() + ".") + u.getPropertyName())
        : locations.exact(error.path());
    return found
        .map(loc -> new PolicyError(error.file(), line(loc), column(loc), error.path(), error.message()))
        .orElse(error);
  }

  /** The streaming pass: refuses aliases, anchors and tags, and records value locations. */
  private Locations index(String source, String text) {
    Map<String, JsonLocation> at = new HashMap<>();
    Map<String, JsonLocation> keys = new HashMap<>();
    try (YAMLParser p = factory.createParser(text)) {
      JsonToken t;
      while ((t = p.nextToken()) != null) {
        if (t == JsonToken.FIELD_NAME) {
          keys.putIfAbsent(path(p.getParsingContext()), p.currentTokenLocation());
          continue;
        }
        if (t.isStructEnd()) continue;
        JsonStreamContext ctx = t.isStructStart() ? p.getParsingContext().getParent() : p.getParsingContext();
        String path = path(ctx);
        if (p.isCurrentAlias() || p.getObjectId() != null) {
          throw located(source, p.currentTokenLocation(), path,
              "anchors and aliases (&name, *name) are not allowed in policy files: write each value out");
        }
        if (p.getTypeId() != null) {
          throw located(source, p.currentTokenLocation(), path,
              "explicit YAML tags (" + p.getTypeId() + ") are not allowed in policy files");
        }
        at.putIfAbsent(path, p.currentTokenLocation());
      }
    } catch (JsonProcessingException e) {
      throw new PolicyException(List.of(bindingError(source, e)));
    } catch (IOException e) {
      throw new PolicyException(List.of(new PolicyError(source, 0, 0, "", "cannot read: " + e.getMessage())));
    } catch (RuntimeException e) {
      if (e instanceof PolicyException) throw e;
      // SnakeYAML reports its limits (code points, nesting, aliases) with its own unchecked types.
      throw new PolicyException(List.of(YamlSyntax.of(e).map(p -> syntaxError(source, p))
          .orElseGet(() -> new PolicyError(source, 0, 0, "", "not valid YAML: " + firstLine(e.getMessage())))));
    }
    return new Locations(source, at, keys);
  }

  private static PolicyException located(String source, JsonLocation loc, String path, String message) {
    return new PolicyException(List.of(new PolicyError(source, line(loc), column(loc), path, message)));
  }

  /** A YAML syntax problem as the file's error, at the problem's own line. */
  private static PolicyError syntaxError(String source, YamlSyntax.Problem p) {
    return new PolicyError(source, p.line(), p.column(), "", "not valid YAML: " + p.message());
  }

  /** Turns Jackson's exception into a located error with a key path and a sentence. */
  private static PolicyError bindingError(String source, JsonProcessingException e) {
    Optional<YamlSyntax.Problem> syntax = YamlSyntax.of(e);
    if (syntax.isPresent()) return syntaxError(source, syntax.get());
    JsonLocation loc = e.getLocation();
    String path = "";
    String message = firstLine(e.getOriginalMessage());
    if (e instanceof JsonMappingException m) {
      path = m.getPath().stream()
          .map(r -> r.getFieldName() != null ? "." + r.getFieldName() : "[" + r.getIndex() + "]")
          .collect(Collectors.joining());
      if (path.startsWith(".")) path = path.substring(1);
      if (m instanceof UnrecognizedPropertyException u) {
        int dot = path.lastIndexOf('.');
        path = dot < 0 ? "" : path.substring(0, dot);
        List<String> known = u.getKnownPropertyIds().stream().map(Object::toString).sorted().toList();
        message = "unknown key \"" + u.getPropertyName() + "\" (allowed here: " + String.join(", ", known) + ")";
      } else if (message.startsWith("Cannot deserialize value of type `java.util.")
          || message.startsWith("Cannot deserialize value of type `dev.gatehouse")) {
        message = "wrong shape: expected " + expected(message);
      } else if (message.contains("Duplicate field")) {
        message = "duplicate key: " + message.substring(message.indexOf('\'') < 0 ? 0 : message.indexOf('\''));
      }
    }
    return new PolicyError(source, line(loc), column(loc), path, message);
  }

  private static String expected(String jacksonMessage) {
    if (jacksonMessage.contains("java.util.List") || jacksonMessage.contains("java.util.ArrayList")) return "a list";
    if (jacksonMessage.contains("java.util.Map") || jacksonMessage.contains("java.util.LinkedHashMap")) return "a mapping";
    if (jacksonMessage.contains("dev.gatehouse")) return "a mapping of keys";
    return "another type";
  }

  static int line(JsonLocation loc) {
    return loc == null || loc.getLineNr() < 0 ? 0 : loc.getLineNr();
  }

  static int column(JsonLocation loc) {
    return loc == null || loc.getColumnNr() < 0 ? 0 : loc.getColumnNr();
  }

  private static String firstLine(String s) {
    if (s == null) return "unreadable";
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }

  /** {@code rules[3].commands.sql.kinds[0]} for the value the context points at. */
  private static String path(JsonStreamContext ctx) {
    StringBuilder b = new StringBuilder();
    build(ctx, b);
    return b.length() > 0 && b.charAt(0) == '.' ? b.substring(1) : b.toString();
  }

  private static void build(JsonStreamContext ctx, StringBuilder b) {
    if (ctx == null || ctx.inRoot()) return;
    build(ctx.getParent(), b);
    if (ctx.inArray()) b.append('[').append(Math.max(ctx.getCurrentIndex(), 0)).append(']');
    else if (ctx.inObject() && ctx.getCurrentName() != null) b.append('.').append(ctx.getCurrentName());
  }

  /** Where each key path was written in one file; answers for the nearest enclosing path. */
  static final class Locations {
    private final String source;
    private final Map<String, JsonLocation> at;
    private final Map<String, JsonLocation> keys;

    Locations(String source, Map<String, JsonLocation> at, Map<String, JsonLocation> keys) {
      this.source = source;
      this.at = Map.copyOf(at);
      this.keys = Map.copyOf(keys);
    }

    /** Where a key (rather than its value) was written. */
    Optional<JsonLocation> key(String path) {
      return Optional.ofNullable(keys.get(path));
    }

    String source() {
      return source;
    }

    Optional<JsonLocation> exact(String path) {
      return Optional.ofNullable(at.get(path));
    }

    PolicyError error(String path, String message) {
      String p = path;
      while (true) {
        JsonLocation loc = at.get(p);
        if (loc != null) return new PolicyError(source, line(loc), column(loc), path, message);
        if (p.isEmpty()) return new PolicyError(source, 0, 0, path, message);
        int cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
        p = cut < 0 ? "" : p.substring(0, cut);
      }
    }
  }
}
