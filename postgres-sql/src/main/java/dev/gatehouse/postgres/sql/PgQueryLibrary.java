package dev.gatehouse.postgres.sql;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.Structure;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The JNA binding of libpg_query ({@code pg_query.h}): only {@code pg_query_parse} and its free
 * function. Loaded once per JVM (a native library is process-wide anyway); thread-safe, as
 * libpg_query keeps its memory contexts per thread.
 */
final class PgQueryLibrary {

  /** Where Debian, Homebrew and source installs put the library; used to tell "absent" from "broken". */
  static final List<Path> KNOWN_FILES = List.of(
      Path.of("/usr/lib/x86_64-linux-gnu/libpg_query.so"),
      Path.of("/usr/lib/aarch64-linux-gnu/libpg_query.so"),
      Path.of("/usr/lib/x86_64-linux-gnu/libpg_query.so.1504.0"),
      Path.of("/usr/lib/aarch64-linux-gnu/libpg_query.so.1504.0"),
      Path.of("/usr/local/lib/libpg_query.so"),
      Path.of("/usr/lib/libpg_query.so"),
      Path.of("/usr/local/lib/libpg_query.dylib"),
      Path.of("/opt/homebrew/lib/libpg_query.dylib"));

  /** System property naming the library file explicitly. */
  static final String PATH_PROPERTY = "gatehouse.libpg_query.path";

  /** {@code PgQueryParseResult}, returned by value. */
  @Structure.FieldOrder({"parse_tree", "stderr_buffer", "error"})
  public static class ParseResult extends Structure implements Structure.ByValue {
    public Pointer parse_tree;
    public Pointer stderr_buffer;
    public Pointer error;
  }

  /** {@code PgQueryError}. */
  @Structure.FieldOrder({"message", "funcname", "filename", "lineno", "cursorpos", "context"})
  public static class Error extends Structure {
    public Pointer message;
    public Pointer funcname;
    public Pointer filename;
    public int lineno;
    public int cursorpos;
    public Pointer context;

    public Error(Pointer p) {
      super(p);
      read();
    }
  }

  interface Api extends Library {
    ParseResult pg_query_parse(byte[] input);

    void pg_query_free_parse_result(ParseResult result);
  }

  /**
   * The outcome of one parse: the JSON tree (UTF-8, as the library wrote it: Jackson reads bytes
   * faster than a decoded string), or an error message and cursor position.
   */
  record Parse(byte[] json, String error, int cursorPosition, String filename) {
    Parse(byte[] json, String error, int cursorPosition) {
      this(json, error, cursorPosition, null);
    }

    /**
     * Whether the error is the grammar's or the scanner's (the text is not valid SQL), rather than
     * a limit of the parser such as its stack depth.
     */
    boolean syntaxError() {
      return json == null && error != null && ("scan.l".equals(filename) || "gram.y".equals(filename));
    }
  }

  private static final class Holder {
    private static final Object API = load();
  }

  private PgQueryLibrary() {}

  /** The loaded binding, or a {@link ClassifierException} saying why it could not be loaded. */
  static Api api() {
    Object api = Holder.API;
    if (api instanceof Api a) return a;
    throw new ClassifierException((String) api);
  }

  private static Object load() {
    List<String> candidates = new ArrayList<>();
    String explicit = System.getProperty(PATH_PROPERTY);
    if (explicit != null && !explicit.isBlank()) candidates.add(explicit);
    candidates.add("pg_query");
    for (Path p : KNOWN_FILES) {
      if (Files.exists(p)) candidates.add(p.toString());
    }
    List<String> failures = new ArrayList<>();
    for (String name : candidates) {
      try {
        Api api = Native.load(name, Api.class);
        // A smoke parse proves the symbols resolve and the ABI matches before anyone relies on it.
        Parse smoke = parse(api, "SELECT 1".getBytes(StandardCharsets.UTF_8));
        if (smoke.json() == null || !new String(smoke.json(), StandardCharsets.UTF_8).contains("SelectStmt")) {
          failures.add(name + ": smoke parse returned an unexpected tree");
          continue;
        }
        return api;
      } catch (UnsatisfiedLinkError | RuntimeException e) {
        failures.add(name + ": " + e.getMessage());
      }
    }
    return "libpg_query could not be loaded (tried " + String.join("; ", failures) + ")";
  }

  /** Parses NUL-free UTF-8 text. The native call is short but pins the carrier thread. */
  static Parse parse(Api api, byte[] utf8) {
    return parse(api, utf8, Integer.MAX_VALUE - 8);
  }

  /**
   * As above, with a parse tree longer than {@code maxJson} bytes of JSON not copied out of the
   * library: its error says so, and the text is not classified.
   */
  static Parse parse(Api api, byte[] utf8, long maxJson) {
    byte[] cString = new byte[utf8.length + 1];
    System.arraycopy(utf8, 0, cString, 0, utf8.length);
    ParseResult result = api.pg_query_parse(cString);
    try {
      if (result.error != null) {
        Error e = new Error(result.error);
        String message = e.message == null ? "parse error" : e.message.getString(0, "UTF-8");
        String file = e.filename == null ? null : e.filename.getString(0, "UTF-8");
        return new Parse(null, message, e.cursorpos, file);
      }
      if (result.parse_tree == null) return new Parse(null, "no parse tree", 0);
      long length = result.parse_tree.indexOf(0, (byte) 0);
      if (length < 0 || length > Math.min(maxJson, Integer.MAX_VALUE - 8)) return new Parse(null, "parse tree too large", 0);
      return new Parse(result.parse_tree.getByteArray(0, (int) length), null, 0);
    } finally {
      api.pg_query_free_parse_result(result);
    }
  }
}
