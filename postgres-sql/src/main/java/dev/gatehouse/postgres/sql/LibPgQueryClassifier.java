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
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * Classifies with PostgreSQL's own grammar: libpg_query (PostgreSQL 15.1 parser) through JNA, its
 * JSON parse tree walked by {@link TreeClassifier}. Statement boundaries come from the parser
 * ({@code stmt_location}/{@code stmt_len}, UTF-8 byte offsets converted to string indices).
 *
 * <p>Fail closed: text containing NUL (the C parser would stop there, the server may not see the
 * same thing), text that is not valid UTF-16 (lone surrogates: its UTF-8 form would not be the
 * text), parse errors, and trees deeper than the walker follows all yield one statement flagged
 * {@code UNCLASSIFIED} with every literal redacted, and so do texts over 2 MiB. Thread-safe. A text
 * of up to 1 KiB is parsed on the calling thread (one short native call that pins a virtual thread's
 * carrier while it runs); a longer one on a shared parser thread with a stack sized so that no
 * input can overflow it, since a native stack overflow would end the JVM.
 */
public final class LibPgQueryClassifier implements SqlClassifier {
  private static final ObjectMapper JSON = new ObjectMapper(JsonFactory.builder()
      .streamReadConstraints(StreamReadConstraints.builder()
          .maxNestingDepth(TreeClassifier.MAX_DEPTH)
          .maxStringLength(Integer.MAX_VALUE)
          .maxDocumentLength(-1)
          .build())
      .build());

  /**
   * Texts up to this many UTF-8 bytes are parsed on the calling thread. libpg_query recurses once
   * per nesting level of the tree (about 130 bytes of native stack each, and a left-nested
   * expression such as {@code 1+1+1...} nests once per two bytes), so 1 KiB needs at most ~130 KiB
   * of stack, which any thread has to spare.
   */
  static final int INLINE_BYTES = 1024;
  /** Longer texts are refused ({@code UNCLASSIFIED}): 2 MiB. */
  static final int MAX_BYTES = SqlClassifier.MAX_STATEMENT_BYTES;
  /** Texts up to this many UTF-8 bytes are parsed by {@link #MEDIUM_PARSES}, longer ones by {@link #LARGE_PARSES}. */
  static final int MEDIUM_BYTES = 64 * 1024;

  /**
   * Platform threads with a stack big enough for {@link #MAX_BYTES} (128 bytes per input byte plus a
   * margin), shared by the process (the native library is process-wide too). A native stack overflow
   * would kill the JVM, so longer texts never run on a thread of unknown stack size. The caller waits
   * without pinning: a virtual thread parks on the future. Idle threads end after 30 seconds.
   */
  private static final ExecutorService LARGE_PARSES = parserThreads("gatehouse-pg_query-large", MAX_BYTES);
  /**
   * The same for texts up to {@link #MEDIUM_BYTES}: an ORM's long query does not wait behind
   * someone's megabytes of SQL, which take seconds each (red-team round 40: two sessions sending
   * 2 MB queries held every other session's texts over 1 KiB for 2 to 4.6 s).
   */
  private static final ExecutorService MEDIUM_PARSES = parserThreads("gatehouse-pg_query-medium", MEDIUM_BYTES);

  private static ExecutorService parserThreads(String name, int maxBytes) {
    long stack = 128L * maxBytes + 16L * 1024 * 1024;
    return new ThreadPoolExecutor(0, 2, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
      Thread t = new Thread(null, r, name, stack);
      t.setDaemon(true);
      return t;
    });
  }

  /**
   * The longest parse tree, in bytes of the library's JSON, classified: 1/128 of the heap, at least
   * 1 MiB (system property {@code gatehouse.libpg_query.max-tree-bytes} sets another). Read as a
   * tree it takes about 13 times as much heap, and the JSON is 14 to 44 times the SQL text (a long
   * target list the most): without a bound one 2 MiB statement took 1.3 GB of heap and seconds of
   * CPU (red-team round 40). With both parser threads at their bound, a fifth of the heap. A longer
   * tree is refused like any text Gatehouse cannot classify.
   */
  static final long MAX_TREE_BYTES = Long.getLong("gatehouse.libpg_query.max-tree-bytes",
      Math.max(1L << 20, Runtime.getRuntime().maxMemory() / 128));

  private final PgQueryLibrary.Api api;
  private final long maxTreeBytes;

  private LibPgQueryClassifier(PgQueryLibrary.Api api, long maxTreeBytes) {
    this.api = api;
    this.maxTreeBytes = maxTreeBytes;
  }

  /**
   * Loads the native library (system property {@code gatehouse.libpg_query.path}, then the
   * platform's library path, then the usual install locations).
   *
   * @throws ClassifierException saying why, when it cannot be loaded
   */
  public static LibPgQueryClassifier create() {
    return new LibPgQueryClassifier(PgQueryLibrary.api(), MAX_TREE_BYTES);
  }

  /** As {@link #create}, classifying parse trees up to {@code maxTreeBytes} bytes of JSON (tests). */
  static LibPgQueryClassifier create(long maxTreeBytes) {
    return new LibPgQueryClassifier(PgQueryLibrary.api(), maxTreeBytes);
  }

  /** True when a libpg_query file sits in one of the usual install locations (loadable or not). */
  public static boolean libraryFilePresent() {
    return PgQueryLibrary.KNOWN_FILES.stream().anyMatch(java.nio.file.Files::exists);
  }

  @Override
  public Analysis analyze(String sql) {
    return parse(sql, false).analysis();
  }

  /**
   * One full parse, with what {@link CachingClassifier} needs to reuse it for texts that differ
   * only in numeric literals.
   *
   * @param analysis what {@link #analyze} returns
   * @param bounds each statement's start and end char offsets in the text, in pairs (empty when
   *     the text was not parsed: unclassified)
   * @param constants when {@code withConstants} was asked and every statement qualifies ({@link
   *     ConstantWalker}): their numeric constants, locations as char offsets
   */
  record Parsed(Analysis analysis, int[] bounds, Optional<List<ConstantWalker.Constant>> constants) {
    static Parsed unparsed(Analysis analysis) {
      return new Parsed(analysis, new int[0], Optional.empty());
    }
  }

  /** {@link #analyze}, plus the numeric constants when {@code withConstants}. Never throws for bad input. */
  Parsed parse(String sql, boolean withConstants) {
    Objects.requireNonNull(sql, "sql == null");
    try {
      return parseOrFail(sql, withConstants);
    } catch (RuntimeException | StackOverflowError | java.io.IOException e) {
      // Never let a classifier defect become an exception on the data path: refuse to classify.
      return Parsed.unparsed(unclassified(sql));
    }
  }

  private Parsed parseOrFail(String sql, boolean withConstants) throws java.io.IOException {
    if (sql.indexOf('\0') >= 0 || hasLoneSurrogate(sql)) return Parsed.unparsed(unclassified(sql));
    byte[] utf8 = sql.getBytes(StandardCharsets.UTF_8);
    if (utf8.length > MAX_BYTES) return Parsed.unparsed(unclassified(sql));
    if (utf8.length > INLINE_BYTES) return onLargeStack(sql, utf8, withConstants);
    return classify(sql, utf8, withConstants);
  }

  private Parsed onLargeStack(String sql, byte[] utf8, boolean withConstants) {
    Future<Parsed> f = (utf8.length > MEDIUM_BYTES ? LARGE_PARSES : MEDIUM_PARSES).submit(() -> {
      try {
        return classify(sql, utf8, withConstants);
      } catch (RuntimeException | StackOverflowError | java.io.IOException e) {
        return Parsed.unparsed(unclassified(sql));
      }
    });
    try {
      return f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      f.cancel(false);
      return Parsed.unparsed(unclassified(sql));
    } catch (ExecutionException e) {
      return Parsed.unparsed(unclassified(sql));
    }
  }

  private Parsed classify(String sql, byte[] utf8, boolean withConstants) throws java.io.IOException {
    PgQueryLibrary.Parse parse = PgQueryLibrary.parse(api, utf8, maxTreeBytes);
    if (parse.syntaxError()) {
      Analysis refused = unclassified(sql);
      SyntaxError error = new SyntaxError(parse.error(), Math.max(0, parse.cursorPosition()));
      return Parsed.unparsed(new Analysis(refused.statements(), Optional.of(error)));
    }
    if (parse.json() == null) return Parsed.unparsed(unclassified(sql));
    JsonNode root = JSON.readTree(parse.json());
    Offsets offsets = Offsets.of(sql, utf8);
    List<ClassifiedStatement> out = new ArrayList<>();
    int[] bounds = new int[2 * root.path("stmts").size()];
    List<ConstantWalker.Constant> constants = withConstants ? new ArrayList<>() : null;
    for (JsonNode raw : root.path("stmts")) {
      int loc = raw.path("stmt_location").asInt(0);
      int len = raw.path("stmt_len").asInt(0);
      int startByte = Math.max(0, Math.min(loc, utf8.length));
      int endByte = len == 0 ? utf8.length : Math.min(utf8.length, loc + len);
      int start = offsets.charIndex(startByte);
      int end = offsets.charIndex(endByte);
      while (start < end && Lexer.isSpace(sql.charAt(start))) start++;
      while (end > start && Lexer.isSpace(sql.charAt(end - 1))) end--;
      bounds[2 * out.size()] = start;
      bounds[2 * out.size() + 1] = end;
      String text = sql.substring(start, end);
      TreeClassifier.Facts facts = TreeClassifier.classify(raw.path("stmt"));
      Set<Integer> redactAt = new HashSet<>();
      for (int b : facts.redactAt) {
        if (b >= 0 && b <= utf8.length) redactAt.add(offsets.charIndex(b) - start);
      }
      String redacted = Redaction.redact(text, redactAt, facts.redactAllStrings, facts.redactCodeBodies);
      out.add(new ClassifiedStatement(text, redacted, facts.classification(), facts.changesParsing,
          java.util.Optional.of(ColumnUseWalker.walk(raw.path("stmt"))), facts.roles, facts.unqualifiedBuiltins, facts.changesPlanning,
          java.util.Optional.ofNullable(facts.roleSet)));
      if (constants != null) {
        Optional<List<ConstantWalker.Constant>> found = ConstantWalker.walk(raw.path("stmt"));
        if (found.isEmpty()) {
          constants = null;
        } else {
          for (ConstantWalker.Constant c : found.get()) {
            int at = c.location() >= 0 && c.location() <= utf8.length ? offsets.charIndex(c.location()) : -1;
            constants.add(new ConstantWalker.Constant(at, c.integer(), c.value()));
          }
        }
      }
    }
    return new Parsed(new Analysis(out), bounds, Optional.ofNullable(constants));
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
