package dev.gatehouse.postgres.sql;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gatehouse.core.Classification;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Classifies with PostgreSQL's own grammar: libpg_query (PostgreSQL 15.1 parser) through JNA, its
 * JSON parse tree walked by {@link TreeClassifier}. Statement boundaries come from the parser
 * ({@code stmt_location}/{@code stmt_len}, UTF-8 byte offsets converted to string indices).
 *
 * <p>Fail closed: text containing NUL (the C parser would stop there, the server may not see the
 * same thing), text that is not valid UTF-16 (lone surrogates: its UTF-8 form would not be the
 * text), parse errors, and trees deeper than the walker follows all yield one statement flagged
 * {@code UNCLASSIFIED} with every literal redacted. Thread-safe; each call makes one short native
 * call, which pins a virtual thread's carrier while it runs.
 */
public final class LibPgQueryClassifier implements SqlClassifier {
  private static final ObjectMapper JSON = new ObjectMapper(JsonFactory.builder()
      .streamReadConstraints(StreamReadConstraints.builder()
          .maxNestingDepth(TreeClassifier.MAX_DEPTH)
          .maxStringLength(Integer.MAX_VALUE)
          .maxDocumentLength(-1)
          .build())
      .build());

  private final PgQueryLibrary.Api api;

  private LibPgQueryClassifier(PgQueryLibrary.Api api) {
    this.api = api;
  }

  /**
   * Loads the native library (system property {@code gatehouse.libpg_query.path}, then the
   * platform's library path, then the usual install locations).
   *
   * @throws ClassifierException saying why, when it cannot be loaded
   */
  public static LibPgQueryClassifier create() {
    return new LibPgQueryClassifier(PgQueryLibrary.api());
  }

  /** True when a libpg_query file sits in one of the usual install locations (loadable or not). */
  public static boolean libraryFilePresent() {
    return PgQueryLibrary.KNOWN_FILES.stream().anyMatch(java.nio.file.Files::exists);
  }

  @Override
  public Analysis analyze(String sql) {
    Objects.requireNonNull(sql, "sql == null");
    try {
      return analyzeOrFail(sql);
    } catch (RuntimeException | StackOverflowError | com.fasterxml.jackson.core.JsonProcessingException e) {
      // Never let a classifier defect become an exception on the data path: refuse to classify.
      return unclassified(sql);
    }
  }

  private Analysis analyzeOrFail(String sql) throws com.fasterxml.jackson.core.JsonProcessingException {
    if (sql.indexOf('\0') >= 0 || hasLoneSurrogate(sql)) return unclassified(sql);
    byte[] utf8 = sql.getBytes(StandardCharsets.UTF_8);
    PgQueryLibrary.Parse parse = PgQueryLibrary.parse(api, utf8);
    if (parse.json() == null) return unclassified(sql);
    JsonNode root = JSON.readTree(parse.json());
    Offsets offsets = Offsets.of(sql, utf8);
    List<ClassifiedStatement> out = new ArrayList<>();
    for (JsonNode raw : root.path("stmts")) {
      int loc = raw.path("stmt_location").asInt(0);
      int len = raw.path("stmt_len").asInt(0);
      int startByte = Math.max(0, Math.min(loc, utf8.length));
      int endByte = len == 0 ? utf8.length : Math.min(utf8.length, loc + len);
      int start = offsets.charIndex(startByte);
      int end = offsets.charIndex(endByte);
      while (start < end && Lexer.isSpace(sql.charAt(start))) start++;
      while (end > start && Lexer.isSpace(sql.charAt(end - 1))) end--;
      String text = sql.substring(start, end);
      TreeClassifier.Facts facts = TreeClassifier.classify(raw.path("stmt"));
      Set<Integer> redactAt = new HashSet<>();
      for (int b : facts.redactAt) {
        if (b >= 0 && b <= utf8.length) redactAt.add(offsets.charIndex(b) - start);
      }
      String redacted = Redaction.redact(text, redactAt, facts.redactAllStrings);
      out.add(new ClassifiedStatement(text, redacted, facts.classification(), facts.changesParsing));
    }
    return new Analysis(out);
  }

  /** The whole text as one unclassified statement, every literal redacted. */
  static Analysis unclassified(String sql) {
    String text = sql.strip();
    if (text.isEmpty()) return new Analysis(List.of());
    return new Analysis(List.of(new ClassifiedStatement(text, Redaction.allStrings(text), Classification.unclassified(), true)));
  }

  static boolean hasLoneSurrogate(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (Character.isHighSurrogate(c)) {
        if (i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
          i++;
        } else {
          return true;
        }
      } else if (Character.isLowSurrogate(c)) {
        return true;
      }
    }
    return false;
  }

  @Override
  public String name() {
    return "libpg_query";
  }

  @Override
  public String toString() {
    return "LibPgQueryClassifier";
  }

  /** UTF-8 byte offset to string index. */
  private record Offsets(int[] byteToChar) {
    static Offsets of(String s, byte[] utf8) {
      if (utf8.length == s.length()) return new Offsets(null);
      int[] map = new int[utf8.length + 1];
      int b = 0;
      for (int i = 0; i < s.length(); ) {
        int cp = s.codePointAt(i);
        int n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
        // Offsets inside a multi-byte character map to the character's start.
        for (int k = 0; k < n && b + k < map.length; k++) map[b + k] = i;
        b += n;
        i += Character.charCount(cp);
      }
      map[utf8.length] = s.length();
      return new Offsets(map);
    }

    int charIndex(int byteOffset) {
      return byteToChar == null ? byteOffset : byteToChar[byteOffset];
    }
  }
}
