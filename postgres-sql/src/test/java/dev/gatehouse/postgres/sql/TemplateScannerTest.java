package dev.gatehouse.postgres.sql;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.Structure;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The {@link Template}'s number tokens are exactly the numeric tokens of PostgreSQL 15's own scanner
 * (libpg_query's {@code pg_query_scan}): same places, same extents, same token type ({@code ICONST}
 * or {@code FCONST}), over the corpus and over texts assembled at random from the fragments where
 * scanners go wrong (strings of every kind, dollar quotes, nested comments, quoted identifiers,
 * operators next to numbers, exponents, PostgreSQL 16 literals).
 */
class TemplateScannerTest {
  private static final int FCONST = 260;
  private static final int ICONST = 266;

  private static final String[] FRAGMENTS = {
      "1", "42", "007", "1.5", ".5", "1.", "1e5", "1E+5", "1e-5", "1.5e3", "2147483647", "2147483648", "99999999999999999999",
      "0x1F", "0o17", "0b101", "1_000", "1..2", "5abc", "1e", "1e+", "-", "+", "*", "/", "<", ">", "=", "<>", "!=", "@-", "+-",
      "-5", "- 5", "--5\n", "-- x 5\n", "/* 5 */", "/* /* 5 */ 6 */", "'5'", "'a''5'", "E'\\'5'", "e'\\\\'", "'5'\n'6'",
      "$$5$$", "$q$5$q$", "$1", "$12", "\"5\"", "\"a\"\"5\"", "U&\"\\0035\"", "U&'\\0035'", "B'101'", "X'1F'", "N'5'",
      "a1", "_5", "x", "e", "E", "abc$5", " ", "\n", "\t", "(", ")", "[", "]", ",", ";", ":", "::", ".", "..", ":=", "=>",
      "ü", "日本", "SELECT", "FROM t", "WHERE", "~", "||", "#", "%", "^", "&", "|", "`", "?", "!"};

  private static Scanner scanner;

  @BeforeAll
  static void load() {
    LibPgQuerySupport.classifier(); // fails or skips, saying why, when the library is missing
    String file = PgQueryLibrary.KNOWN_FILES.stream().filter(Files::exists).map(Object::toString).findFirst().orElse("pg_query");
    scanner = Native.load(file, Scanner.class);
  }

  @Test
  void numberTokensAreTheScannersOnEveryCorpusText() {
    int compared = 0;
    for (Corpus.Entry e : Corpus.entries()) compared += agree(e.sql()) ? 1 : 0;
    assertThat(compared).isGreaterThan(20);
  }

  @Test
  void numberTokensAreTheScannersOnRandomTexts() {
    Random random = new Random(2026);
    int compared = 0;
    for (int i = 0; i < 30_000; i++) {
      StringBuilder sql = new StringBuilder();
      int parts = 1 + random.nextInt(8);
      for (int p = 0; p < parts; p++) sql.append(FRAGMENTS[random.nextInt(FRAGMENTS.length)]);
      compared += agree(sql.toString()) ? 1 : 0;
    }
    // Many random texts hold a fragment the lexer refuses; enough must remain to prove something.
    assertThat(compared).isGreaterThan(3_000);
  }

  /**
   * When the text has a template, the scanner reads it without error and its numeric tokens are
   * the template's number tokens. Returns whether the text had a template.
   */
  private static boolean agree(String sql) {
    var template = Template.of(sql);
    if (template.isEmpty()) return false;
    Template t = template.get();
    List<int[]> expected = new ArrayList<>();
    for (int k = 0; k < t.count(); k++) {
      int start = utf8Length(sql, t.start(k));
      int end = utf8Length(sql, t.end(k));
      expected.add(new int[] {start, end, Template.isInteger(sql, t.start(k), t.end(k)) ? ICONST : FCONST});
    }
    List<int[]> actual = numericTokens(sql);
    assertThat(actual).as("scanner tokens of %s", sql).isNotNull();
    assertThat(actual).as("numeric tokens of %s", sql).usingElementComparator(TemplateScannerTest::compare).isEqualTo(expected);
    return true;
  }

  private static int compare(int[] a, int[] b) {
    return java.util.Arrays.compare(a, b);
  }

  private static int utf8Length(String s, int chars) {
    return s.substring(0, chars).getBytes(StandardCharsets.UTF_8).length;
  }

  /** The scanner's ICONST and FCONST tokens as {start, end, type} (UTF-8 byte offsets), or null on a scan error. */
  private static List<int[]> numericTokens(String sql) {
    byte[] utf8 = sql.getBytes(StandardCharsets.UTF_8);
    byte[] cString = java.util.Arrays.copyOf(utf8, utf8.length + 1);
    ScanResult r = scanner.pg_query_scan(cString);
    try {
      if (r.error != null) return null;
      byte[] pb = r.data.getByteArray(0, (int) r.len);
      List<int[]> out = new ArrayList<>();
      Protobuf in = new Protobuf(pb, 0, pb.length);
      while (in.more()) {
        long tag = in.varint();
        if (tag == ((2 << 3) | 2)) {
          int len = (int) in.varint();
          Protobuf tok = new Protobuf(pb, in.pos, in.pos + len);
          in.pos += len;
          int start = 0;
          int end = 0;
          int type = 0;
          while (tok.more()) {
            long f = tok.varint();
            long v = tok.varint(); // every field of ScanToken is a varint
            switch ((int) (f >>> 3)) {
              case 1 -> start = (int) v;
              case 2 -> end = (int) v;
              case 4 -> type = (int) v;
              default -> {}
            }
          }
          if (type == ICONST || type == FCONST) out.add(new int[] {start, end, type});
        } else {
          in.varint(); // version
        }
      }
      return out;
    } finally {
      scanner.pg_query_free_scan_result(r);
    }
  }

  private static final class Protobuf {
    final byte[] b;
    int pos;
    final int limit;

    Protobuf(byte[] b, int pos, int limit) {
      this.b = b;
      this.pos = pos;
      this.limit = limit;
    }

    boolean more() {
      return pos < limit;
    }

    long varint() {
      long v = 0;
      for (int shift = 0; ; shift += 7) {
        byte x = b[pos++];
        v |= (long) (x & 0x7f) << shift;
        if (x >= 0) return v;
      }
    }
  }

  /** {@code PgQueryScanResult}: a {@code PgQueryProtobuf} (size_t len, char* data) flattened, then stderr and error. */
  @Structure.FieldOrder({"len", "data", "stderr_buffer", "error"})
  public static class ScanResult extends Structure implements Structure.ByValue {
    public long len;
    public Pointer data;
    public Pointer stderr_buffer;
    public Pointer error;
  }

  interface Scanner extends Library {
    ScanResult pg_query_scan(byte[] input);

    void pg_query_free_scan_result(ScanResult result);
  }
}
