package dev.gatehouse.masking;

import java.util.Arrays;
import java.util.Collection;
import java.util.EnumSet;
import java.util.Objects;
import java.util.Set;

/**
 * A set of {@link Detector}s compiled into one single-pass scanner over UTF-8 bytes. Immutable and
 * thread-safe: one instance serves every session.
 *
 * <p>How it stays fast (the proxy scans every text column of every row with it): one table lookup
 * per byte decides whether the byte can start anything an enabled detector looks for (a digit, an
 * upper-case letter, {@code @}, {@code +}, {@code (}, {@code -}, the first letter of a known token
 * prefix), and only at the start of a word; the rest of a word is skipped with one more branch. The
 * hand-written checks behind a trigger look a bounded number of bytes ahead (except the PEM block,
 * which runs to its END line) and give up at the first byte that cannot fit. There is no regular
 * expression and no allocation: matches are passed around packed into a {@code long}. Text with
 * nothing to mask costs about one table lookup per byte and returns without writing.
 *
 * <p>Matching works on ASCII: a multi-byte UTF-8 sequence is a word boundary, so an address or a
 * number next to non-ASCII letters is still found; addresses with non-ASCII characters are not.
 * Masking is length-preserving ({@code *} per byte, or a JSON- and number-safe variant inside JSON
 * and numeric columns), so a value can be redacted in place without re-framing the message.
 *
 * <p>This class is larger than the usual 400 lines because the scanner and the ten checks it
 * dispatches to share one byte-class table and one packed-match encoding; splitting them would put
 * a virtual call on the hot path.
 */
public final class Detectors {
  // Byte classes of the instance table: WORD bytes are ASCII letters and digits; a TRIGGER byte
  // starts a check (at a word start for WORD bytes, anywhere for symbols).
  private static final byte WORD = 1;
  private static final byte TRIGGER = 2;

  // Static character classes used by the checks.
  private static final byte C_DIGIT = 1, C_UPPER = 2, C_LOWER = 4, C_HEX = 8, C_B64URL = 16, C_TOKEN = 32, C_LOCAL = 64;
  private static final byte[] CHAR = new byte[256];

  private static final long NONE = -1L;
  private static final int MASK30 = (1 << 30) - 1;
  /** Values are scanned up to 1 GiB - 1, PostgreSQL's own limit for a field. */
  static final int MAX_END = MASK30;

  /** IBAN length per country, indexed by (first letter - 'A') * 26 + (second letter - 'A'); 0 = unknown. */
  private static final byte[] IBAN_LENGTH = new byte[26 * 26];

  static {
    for (int c = '0'; c <= '9'; c++) CHAR[c] = C_DIGIT | C_HEX | C_B64URL | C_TOKEN | C_LOCAL;
    for (int c = 'A'; c <= 'Z'; c++) CHAR[c] = C_UPPER | C_B64URL | C_TOKEN | C_LOCAL;
    for (int c = 'a'; c <= 'z'; c++) CHAR[c] = C_LOWER | C_B64URL | C_TOKEN | C_LOCAL;
    for (int c = 'A'; c <= 'F'; c++) CHAR[c] |= C_HEX;
    for (int c = 'a'; c <= 'f'; c++) CHAR[c] |= C_HEX;
    CHAR['-'] |= C_B64URL | C_TOKEN | C_LOCAL;
    CHAR['_'] |= C_B64URL | C_TOKEN | C_LOCAL;
    for (char c : ".~+/=".toCharArray()) CHAR[c] |= C_TOKEN;
    for (char c : ".%+".toCharArray()) CHAR[c] |= C_LOCAL;

    String lengths = "AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 DJ27 DK18 DO28"
        + " EE20 EG29 ES24 FI18 FK18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HR21 HU28 IE22 IL23 IQ23 IS26 IT27"
        + " JO30 KW30 KZ20 LB28 LC32 LI21 LT20 LU20 LV21 LY25 MC27 MD24 ME22 MK19 MR27 MT31 MU30 NL18 NO15 PK24"
        + " PL28 PS29 PT25 QA29 RO24 RS22 RU33 SA24 SC31 SD18 SE24 SI19 SK24 SM27 SO23 ST25 SV28 TL23 TN24 TR26"
        + " UA29 VA22 VG24 XK20";
    for (String e : lengths.split(" ")) {
      IBAN_LENGTH[(e.charAt(0) - 'A') * 26 + (e.charAt(1) - 'A')] = (byte) Integer.parseInt(e.substring(2));
    }
  }

  private static final Detectors NONE_ENABLED = new Detectors(EnumSet.noneOf(Detector.class));
  private static final Detectors ALL_ENABLED = new Detectors(EnumSet.allOf(Detector.class));

  private final Set<Detector> enabled;
  private final byte[] cls = new byte[256];
  /** Bit (first byte << 8 | second byte): whether a match of an enabled detector can start with these two bytes. */
  private final long[] pairs = new long[1024];
  private final boolean card, email, phone, ssn, iban, ip, cloud, pem, jwt, bearer;

  private Detectors(EnumSet<Detector> set) {
    this.enabled = Set.copyOf(set);
    card = set.contains(Detector.CARD);
    email = set.contains(Detector.EMAIL);
    phone = set.contains(Detector.PHONE);
    ssn = set.contains(Detector.SSN);
    iban = set.contains(Detector.IBAN);
    ip = set.contains(Detector.IP);
    cloud = set.contains(Detector.CLOUD_KEY);
    pem = set.contains(Detector.PRIVATE_KEY);
    jwt = set.contains(Detector.JWT);
    bearer = set.contains(Detector.BEARER_TOKEN);
    for (int c = '0'; c <= '9'; c++) cls[c] = WORD;
    for (int c = 'A'; c <= 'Z'; c++) cls[c] = WORD;
    for (int c = 'a'; c <= 'z'; c++) cls[c] = WORD;
    if (card || ssn || phone || ip) for (int c = '0'; c <= '9'; c++) cls[c] |= TRIGGER;
    if (iban) for (int c = 'A'; c <= 'Z'; c++) cls[c] |= TRIGGER;
    // IPv6 is found from its first colon (rare in prose), looking back over the first group.
    if (ip) cls[':'] = TRIGGER;
    if (cloud) for (char c : "Agxsr".toCharArray()) cls[c] |= TRIGGER;
    if (jwt) cls['e'] |= TRIGGER;
    if (bearer) cls['B'] |= TRIGGER;
    if (bearer) cls['b'] |= TRIGGER;
    // Key names (access_token, private_key_id ...) are found from their underscore, also rare in prose.
    if (bearer || cloud) cls['_'] = TRIGGER;
    if (email) cls['@'] = TRIGGER;
    if (phone) {
      cls['+'] = TRIGGER;
      cls['('] = TRIGGER;
    }
    if (pem) cls['-'] = TRIGGER;
    buildPairs();
  }

  /**
   * Second-byte filter behind each trigger: most words start with a trigger letter or a digit, few
   * continue like a match ({@code ey} for a JWT, {@code gh} for a GitHub token, a digit then a digit
   * or a dot for numbers), so the checks behind a trigger run only for those.
   */
  private void buildPairs() {
    String digits = "0123456789";
    String hex = "0123456789abcdefABCDEF";
    String upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    if (card || ssn || phone || ip) for (char d : digits.toCharArray()) pair(d, digits + ".");
    if (ip) pair(':', hex + ":");
    if (iban) for (char u : upper.toCharArray()) pair(u, upper);
    if (cloud) {
      pair('A', "KSGIRNBC");
      pair('g', "hil");
      pair('x', "o");
      pair('s', "k");
      pair('r', "k");
      pair('_', "k");
    }
    if (jwt) pair('e', "y");
    if (bearer) {
      pair('b', "eE");
      pair('B', "eE");
      pair('_', "tsk");
    }
    if (email) for (int c = 0; c < 256; c++) set('@' << 8 | c);
    if (phone) {
      pair('+', "123456789");
      pair('(', digits);
    }
    if (pem) pair('-', "-");
  }

  private void pair(char first, String seconds) {
    for (char c : seconds.toCharArray()) set(first << 8 | c);
  }

  private void set(int index) {
    pairs[index >>> 6] |= 1L << (index & 63);
  }

  /** The given detectors. */
  public static Detectors of(Collection<Detector> detectors) {
    if (detectors.isEmpty()) return NONE_ENABLED;
    EnumSet<Detector> set = EnumSet.copyOf(detectors);
    if (set.size() == Detector.values().length) return ALL_ENABLED;
    return new Detectors(set);
  }

  public static Detectors of(Detector first, Detector... rest) {
    return of(EnumSet.of(first, rest));
  }

  public static Detectors all() {
    return ALL_ENABLED;
  }

  public static Detectors none() {
    return NONE_ENABLED;
  }

  public Set<Detector> enabled() {
    return enabled;
  }

  public boolean isEmpty() {
    return enabled.isEmpty();
  }

  /** This set and another together. */
  public Detectors with(Detectors other) {
    if (other.enabled.isEmpty() || enabled.containsAll(other.enabled)) return this;
    EnumSet<Detector> set = EnumSet.noneOf(Detector.class);
    set.addAll(enabled);
    set.addAll(other.enabled);
    return of(set);
  }

  /**
   * Reports every match in {@code buf[off, off+len)} to {@code sink} without changing the buffer.
   *
   * @return the number of matches
   */
  public int scan(byte[] buf, int off, int len, MatchSink sink) {
    Objects.requireNonNull(sink, "sink == null");
    return run(buf, off, len, sink, Replacement.NONE, false);
  }

  /** Whether anything in the range matches. */
  public boolean matches(byte[] buf, int off, int len) {
    return run(buf, off, len, null, Replacement.NONE, true) > 0;
  }

  /**
   * Masks every match in {@code buf[off, off+len)} in place, one {@code *} per byte (the value's
   * length and everything around a match stay as they were).
   *
   * @return whether anything was masked
   */
  public boolean redact(byte[] buf, int off, int len) {
    return run(buf, off, len, null, Replacement.TEXT, false) > 0;
  }

  /** Masks in place, in the way that keeps a value of this kind valid (see {@link Replacement}). */
  boolean redact(byte[] buf, int off, int len, Replacement replacement) {
    return run(buf, off, len, null, replacement, false) > 0;
  }

  /**
   * The UTF-8 text with every match masked: the same array when nothing matched (no copy, no
   * allocation), otherwise a masked copy; the argument is never changed.
   */
  public byte[] redact(byte[] utf8) {
    if (!matches(utf8, 0, utf8.length)) return utf8;
    byte[] copy = utf8.clone();
    redact(copy, 0, copy.length);
    return copy;
  }

  /**
   * How a match is overwritten so that the value stays valid for its type. Matches never contain a
   * quote, and JSON escape sequences inside a match are kept, so the surrounding syntax survives.
   */
  enum Replacement {
    /** Report only. */
    NONE,
    /** Every byte becomes {@code *}. */
    TEXT,
    /** Digits become {@code 0}, other bytes {@code *}: numbers stay numbers, in arrays and rows too. */
    DIGITS,
    /** Inside a JSON string as {@link #TEXT} (escapes kept); outside, a number becomes {@code 0} and spaces. */
    JSON
  }

  private int run(byte[] b, int off, int len, MatchSink sink, Replacement mode, boolean first) {
    Objects.checkFromIndexSize(off, len, b.length);
    final int end = off + len;
    if (end > MAX_END) throw new MaskingException("value too large to scan: " + len + " bytes");
    int found = 0;
    long json = off; // JSON mode: the position up to which string state is known, and that state in bit 62
    int i = off, prev = 0;
    while ((i = nextCandidate(b, i, end, prev)) < end) {
      long m = dispatch(b, i, off, end, b[i] & 0xff);
      if (m == NONE) {
        prev = cls[b[i] & 0xff] & WORD;
        i++;
        continue;
      }
      found++;
      if (first) return found;
      int s = (int) ((m >>> 30) & MASK30);
      int e = (int) (m & MASK30);
      switch (mode) {
        case NONE -> sink.match(Detector.of((int) (m >>> 60)), s, e);
        case TEXT -> Arrays.fill(b, s, e, (byte) '*');
        case DIGITS -> {
          for (int p = s; p < e; p++) b[p] = (CHAR[b[p] & 0xff] & C_DIGIT) != 0 ? (byte) '0' : (byte) '*';
        }
        case JSON -> json = replaceJson(b, s, e, end, json);
      }
      // Checks end matches at word boundaries, so the byte at e starts afresh.
      i = Math.max(e, i + 1);
      prev = 0;
    }
    return found;
  }

  /**
   * The hot loop, kept small so that it compiles to a tight loop whatever the rest does: the index
   * of the next byte that starts a word (or is a symbol) with a trigger class and whose next byte can
   * continue a match, or {@code end}.
   *
   * @param prev 1 when the byte before {@code i} is a word byte
   */
  private int nextCandidate(byte[] b, int i, int end, int prev) {
    final byte[] k = cls;
    final long[] pair = pairs;
    for (; i < end; i++) {
      int c = b[i] & 0xff;
      int kind = k[c];
      // Branch-free: word boundaries in prose are too frequent and irregular to predict.
      int fire = (kind >> 1) & ~(prev & kind);
      prev = kind & WORD;
      if (fire != 0 && i + 1 < end) {
        int index = c << 8 | (b[i + 1] & 0xff);
        if ((pair[index >>> 6] & (1L << index)) != 0) return i;
      }
    }
    return end;
  }

  private static final long IN_STRING = 1L << 62;

  /**
   * Masks {@code b[s, e)} inside a JSON text: {@code *} within strings (escape sequences kept, so
   * the string still ends where it did), {@code 0} and spaces outside (a number stays a number).
   * {@code state} is where string state is known and whether that point is inside a string; the
   * new state is returned. Matches come in order, so the text is walked once in all.
   */
  private static long replaceJson(byte[] b, int s, int e, int end, long state) {
    int pos = (int) (state & MASK30);
    boolean inString = (state & IN_STRING) != 0;
    while (pos < s) {
      byte x = b[pos++];
      if (inString) {
        if (x == '\\') pos++;
        else if (x == '"') inString = false;
      } else if (x == '"') {
        inString = true;
      }
    }
    boolean firstOutside = true;
    int p = Math.max(pos, s);
    while (p < e) {
      byte x = b[p];
      if (inString) {
        if (x == '\\') {
          p += (p + 1 < end && b[p + 1] == 'u') ? 6 : 2;
          continue;
        }
        if (x == '"') inString = false;
        else b[p] = '*';
      } else if (x == '"') {
        inString = true;
      } else {
        b[p] = firstOutside ? (byte) '0' : (byte) ' ';
        firstOutside = false;
      }
      p++;
    }
    return Math.min(p, end) | (inString ? IN_STRING : 0);
  }

  private static long pack(Detector d, int start, int end) {
    return ((long) d.ordinal() << 60) | ((long) start << 30) | end;
  }

  private long dispatch(byte[] b, int i, int lo, int end, int c) {
    long m;
    if (c >= '0' && c <= '9') {
      // The first digit run's length and the byte after it say which numeric checks can apply.
      int d = i;
      while (d < end && d - i < 14 && isDigit(b[d])) d++;
      int run = d - i;
      byte x = d < end ? b[d] : 0;
      boolean inDecimal = i - 2 >= lo && b[i - 1] == '.' && isDigit(b[i - 2]);
      if (ip && run <= 3 && x == '.' && !inDecimal && (m = ipv4(b, i, end)) != NONE) return m;
      if (ssn && run == 3 && x == '-' && (m = ssn(b, i, end)) != NONE) return m;
      if (phone && run == 3 && (x == '-' || x == '.') && (m = nanp(b, i, end)) != NONE) return m;
      if (card && !inDecimal && (run >= 13 || (run >= 2 && (x == ' ' || x == '-')))
          && (m = card(b, i, end)) != NONE) {
        return m;
      }
      return NONE;
    }
    switch (c) {
      case '@' -> { return email(b, i, lo, end); }
      case '+' -> { return e164(b, i, lo, end); }
      case '(' -> { return nanpParen(b, i, lo, end); }
      case '-' -> { return pem(b, i, end); }
      case ':' -> { return ipv6FromColon(b, i, lo, end); }
      case '_' -> { return keyValue(b, i, lo, end); }
      default -> { }
    }
    if (jwt && c == 'e' && (m = jwt(b, i, end)) != NONE) return m;
    if (cloud && (m = cloudKey(b, i, end, c)) != NONE) return m;
    if (bearer && (m = bearerToken(b, i, end, c)) != NONE) return m;
    if (iban && c >= 'A' && c <= 'Z' && (m = iban(b, i, end)) != NONE) return m;
    return NONE;
  }

  // ---- character helpers -------------------------------------------------------------------

  private static boolean isDigit(byte x) {
    return x >= '0' && x <= '9';
  }

  private static boolean is(byte x, byte cls) {
    return (CHAR[x & 0xff] & cls) != 0;
  }

  private static boolean isWord(byte x) {
    return (CHAR[x & 0xff] & (C_DIGIT | C_UPPER | C_LOWER)) != 0;
  }

  /** Whether the ASCII text {@code s} is at {@code b[i]}. */
  private static boolean at(byte[] b, int i, int end, String s) {
    int n = s.length();
    if (end - i < n) return false;
    for (int j = 0; j < n; j++) if (b[i + j] != s.charAt(j)) return false;
    return true;
  }

  private static boolean atIgnoreCase(byte[] b, int i, int end, String lower) {
    int n = lower.length();
    if (end - i < n) return false;
    for (int j = 0; j < n; j++) if ((b[i + j] | 0x20) != lower.charAt(j)) return false;
    return true;
  }

  /** Index past the run of bytes of class {@code cls} starting at {@code i}. */
  private static int run(byte[] b, int i, int end, byte cls) {
    while (i < end && (CHAR[b[i] & 0xff] & cls) != 0) i++;
    return i;
  }

  // ---- numbers -----------------------------------------------------------------------------

  private static long ipv4(byte[] b, int i, int end) {
    int p = i;
    for (int part = 0; part < 4; part++) {
      int v = 0, n = 0;
      while (p < end && n < 4 && isDigit(b[p])) {
        v = v * 10 + (b[p] - '0');
        n++;
        p++;
      }
      if (n == 0 || n > 3 || v > 255) return NONE;
      if (part < 3) {
        if (p + 1 >= end || b[p] != '.' || !isDigit(b[p + 1])) return NONE;
        p++;
      }
    }
    if (p < end && (isWord(b[p]) || (b[p] == '.' && p + 1 < end && isDigit(b[p + 1])))) return NONE;
    return pack(Detector.IP, i, p);
  }

  private static long ssn(byte[] b, int i, int end) {
    if (end - i < 11 || b[i + 3] != '-' || b[i + 6] != '-') return NONE;
    int area = 0, group = 0, serial = 0;
    for (int j = 0; j < 11; j++) {
      if (j == 3 || j == 6) continue;
      byte x = b[i + j];
      if (!isDigit(x)) return NONE;
      int d = x - '0';
      if (j < 3) area = area * 10 + d;
      else if (j < 6) group = group * 10 + d;
      else serial = serial * 10 + d;
    }
    int p = i + 11;
    if (p < end && (isWord(b[p]) || (b[p] == '-' && p + 1 < end && isDigit(b[p + 1])))) return NONE;
    // SSA rules: area 001-899 except 666, group 01-99, serial 0001-9999.
    if (area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0) return NONE;
    return pack(Detector.SSN, i, p);
  }

  /** {@code 555-234-5678} or {@code 555.234.5678}: the same separator twice, NANP area and exchange. */
  private static long nanp(byte[] b, int i, int end) {
    if (end - i < 12) return NONE;
    byte sep = b[i + 3];
    if ((sep != '-' && sep != '.') || b[i + 7] != sep) return NONE;
    if (!digits(b, i, 3) || !digits(b, i + 4, 3) || !digits(b, i + 8, 4)) return NONE;
    if (b[i] < '2' || b[i + 4] < '2') return NONE;
    int p = i + 12;
    if (p < end && (isWord(b[p]) || (b[p] == sep && p + 1 < end && isDigit(b[p + 1])))) return NONE;
    return pack(Detector.PHONE, i, p);
  }

  /** {@code (555) 234-5678}, {@code (555)234-5678}, {@code (555) 234 5678}, {@code (555) 234.5678}. */
  private long nanpParen(byte[] b, int i, int lo, int end) {
    if (!phone || (i > lo && isWord(b[i - 1]))) return NONE;
    if (end - i < 13 || !digits(b, i + 1, 3) || b[i + 4] != ')' || b[i + 1] < '2') return NONE;
    int p = i + 5;
    if (b[p] == ' ') p++;
    if (end - p < 8 || !digits(b, p, 3) || b[p] < '2') return NONE;
    byte sep = b[p + 3];
    if (sep != '-' && sep != '.' && sep != ' ') return NONE;
    if (!digits(b, p + 4, 4)) return NONE;
    p += 8;
    if (p < end && (isWord(b[p]) || (b[p] == sep && p + 1 < end && isDigit(b[p + 1])))) return NONE;
    return pack(Detector.PHONE, i, p);
  }

  private static boolean digits(byte[] b, int i, int n) {
    for (int j = 0; j < n; j++) if (!isDigit(b[i + j])) return false;
    return true;
  }

  /** {@code +} then 8–15 digits, single spaces, dashes or dots between groups, a group in parentheses. */
  private static long e164(byte[] b, int i, int lo, int end) {
    if (i > lo && (isWord(b[i - 1]) || b[i - 1] == '+')) return NONE;
    int p = i + 1;
    if (p >= end || b[p] < '1' || b[p] > '9') return NONE;
    int digits = 0, lastEnd = -1, bestEnd = -1;
    while (p < end) {
      byte x = b[p];
      if (isDigit(x)) {
        if (++digits > 15) break;
        p++;
        lastEnd = p;
        continue;
      }
      if (digits >= 8) bestEnd = lastEnd;
      boolean nextOk = p + 1 < end && (isDigit(b[p + 1]) || b[p + 1] == '(');
      if ((x == ' ' || x == '-' || x == '.') && lastEnd == p && nextOk) {
        p++;
      } else if (x == '(' && p + 1 < end && isDigit(b[p + 1])) {
        p++;
      } else if (x == ')' && lastEnd == p) {
        p++;
        lastEnd = p;
      } else {
        break;
      }
    }
    int stop = digits >= 8 && digits <= 15 ? lastEnd : bestEnd;
    if (stop < 0) return NONE;
    if (stop < end && isWord(b[stop])) return NONE;
    return pack(Detector.PHONE, i, stop);
  }

  private static long card(byte[] b, int i, int end) {
    int p = i, digits = 0, found = -1;
    while (p < end) {
      byte x = b[p];
      if (isDigit(x)) {
        if (++digits > 19) break;
        p++;
        continue;
      }
      if ((x == ' ' || x == '-') && p + 1 < end && isDigit(b[p + 1]) && isDigit(b[p - 1])) {
        // A group ends here: keep the longest prefix of groups that is a card ("4111 1111 1111 1111 2025").
        if (digits >= 13 && validCard(b, i, p, digits)) found = p;
        p++;
        continue;
      }
      break;
    }
    if (digits >= 13 && digits <= 19 && cardEndsAt(b, p, end) && validCard(b, i, p, digits)) found = p;
    return found < 0 ? NONE : pack(Detector.CARD, i, found);
  }

  private static boolean cardEndsAt(byte[] b, int p, int end) {
    if (p >= end) return true;
    byte x = b[p];
    // "4111111111111111.5" is a decimal number, not a card; a comma is a list separator.
    return !isWord(x) && !(x == '.' && p + 1 < end && isDigit(b[p + 1]));
  }

  /** Issuer prefix, length and Luhn check of the digits in {@code b[from, to)} (separators skipped). */
  private static boolean validCard(byte[] b, int from, int to, int length) {
    int first6 = 0, seen = 0;
    for (int p = from; p < to && seen < 6; p++) {
      if (isDigit(b[p])) {
        first6 = first6 * 10 + (b[p] - '0');
        seen++;
      }
    }
    if (!knownIssuer(first6, length)) return false;
    int sum = 0;
    boolean twice = false;
    for (int p = to - 1; p >= from; p--) {
      byte x = b[p];
      if (!isDigit(x)) continue;
      int d = x - '0';
      if (twice) {
        d *= 2;
        if (d > 9) d -= 9;
      }
      sum += d;
      twice = !twice;
    }
    return sum % 10 == 0;
  }

  /** Whether the first six digits and the length fit a card network's published ranges. */
  static boolean knownIssuer(int first6, int length) {
    int d1 = first6 / 100000, d2 = first6 / 10000, d3 = first6 / 1000, d4 = first6 / 100;
    if (d1 == 4) return length == 13 || length == 16 || length == 19; // Visa
    if (d2 >= 51 && d2 <= 55) return length == 16; // Mastercard
    if (d4 >= 2221 && d4 <= 2720) return length == 16; // Mastercard 2-series
    if (d2 == 34 || d2 == 37) return length == 15; // American Express
    if (d4 == 6011 || (d3 >= 644 && d3 <= 649) || d2 == 65 || d2 == 62) return length >= 16; // Discover, UnionPay
    if ((d3 >= 300 && d3 <= 305) || d2 == 36 || d2 == 38 || d2 == 39) return length >= 14; // Diners Club
    if (d4 >= 3528 && d4 <= 3589) return length >= 16; // JCB
    if (d2 == 50 || (d2 >= 56 && d2 <= 58) || d2 == 63 || d2 == 67) return true; // Maestro
    return false;
  }

  /** Whether an integer (as a binary integer column holds it) is a card number. */
  static boolean isCardNumber(long value) {
    if (value < 1_000_000_000_000L) return false; // fewer than 13 digits
    int length = 0;
    long v = value;
    int sum = 0;
    boolean twice = false;
    while (v > 0) {
      int d = (int) (v % 10);
      v /= 10;
      length++;
      if (twice) {
        d *= 2;
        if (d > 9) d -= 9;
      }
      sum += d;
      twice = !twice;
    }
    long first6 = value;
    for (int n = length; n > 6; n--) first6 /= 10;
    return length <= 19 && sum % 10 == 0 && knownIssuer((int) first6, length);
  }

  private static long iban(byte[] b, int i, int end) {
    if (end - i < 15) return NONE;
    byte c0 = b[i], c1 = b[i + 1];
    if (c1 < 'A' || c1 > 'Z' || !isDigit(b[i + 2]) || !isDigit(b[i + 3])) return NONE;
    int length = IBAN_LENGTH[(c0 - 'A') * 26 + (c1 - 'A')];
    if (length == 0) return NONE;
    int p = i + 4, count = 4, rem = 0;
    while (count < length && p < end) {
      byte x = b[p];
      if (isDigit(x)) {
        rem = (rem * 10 + (x - '0')) % 97;
      } else if (x >= 'A' && x <= 'Z') {
        rem = (rem * 100 + (x - 'A' + 10)) % 97;
      } else if (x == ' ' && p + 1 < end && isWord(b[p + 1]) && isWord(b[p - 1])) {
        p++;
        continue;
      } else {
        return NONE;
      }
      count++;
      p++;
    }
    if (count < length || (p < end && isWord(b[p]))) return NONE;
    rem = (rem * 100 + (c0 - 'A' + 10)) % 97;
    rem = (rem * 100 + (c1 - 'A' + 10)) % 97;
    rem = (rem * 10 + (b[i + 2] - '0')) % 97;
    rem = (rem * 10 + (b[i + 3] - '0')) % 97;
    return rem == 1 ? pack(Detector.IBAN, i, p) : NONE;
  }

  private static long ipv6(byte[] b, int i, int lo, int end) {
    if (i > lo && (b[i - 1] == ':' || b[i - 1] == '.' || isWord(b[i - 1]))) return NONE;
    int p = i, groups = 0, lastEnd = i;
    boolean compressed = false;
    if (b[p] == ':') {
      if (p + 1 >= end || b[p + 1] != ':') return NONE;
      compressed = true;
      p += 2;
      lastEnd = p;
    }
    while (p < end && groups < 8) {
      int start = p;
      p = run(b, p, Math.min(end, p + 5), C_HEX);
      int n = p - start;
      if (n == 0) break;
      if (n > 4) return NONE;
      if (p < end && b[p] == '.') {
        // An IPv4 tail counts as two groups.
        long v4 = ipv4(b, start, end);
        if (v4 == NONE || groups > 6) return NONE;
        groups += 2;
        lastEnd = (int) (v4 & MASK30);
        break;
      }
      groups++;
      lastEnd = p;
      if (p + 1 < end && b[p] == ':') {
        if (b[p + 1] == ':') {
          if (compressed) break;
          compressed = true;
          p += 2;
          lastEnd = p;
        } else {
          p++;
        }
        continue;
      }
      break;
    }
    if (compressed ? (groups < 2 || groups > 7) : groups != 8) return NONE;
    if (lastEnd < end && (isWord(b[lastEnd]) || b[lastEnd] == ':')) return NONE;
    return pack(Detector.IP, i, lastEnd);
  }

  // ---- addresses -------------------------------------------------------------------------

  private static long email(byte[] b, int at, int lo, int end) {
    int s = at;
    while (s > lo && at - s < 64 && is(b[s - 1], C_LOCAL)) s--;
    while (s < at && b[s] == '.') s++;
    if (s == at || b[at - 1] == '.') return NONE;
    int q = at + 1, labels = 0, domainEnd = -1, tldStart = -1;
    while (q < end && q - at <= 254) {
      int labelStart = q;
      while (q < end && (isWord(b[q]) || b[q] == '-')) q++;
      int n = q - labelStart;
      if (n == 0 || n > 63 || b[labelStart] == '-' || b[q - 1] == '-') break;
      labels++;
      domainEnd = q;
      tldStart = labelStart;
      if (q + 1 < end && b[q] == '.' && isWord(b[q + 1])) {
        q++;
        continue;
      }
      break;
    }
    if (labels < 2 || domainEnd - tldStart < 2) return NONE;
    for (int p = tldStart; p < domainEnd; p++) if ((CHAR[b[p] & 0xff] & (C_UPPER | C_LOWER)) == 0) return NONE;
    return pack(Detector.EMAIL, s, domainEnd);
  }

  // ---- secrets ---------------------------------------------------------------------------

  private static final String[] AWS_PREFIXES = {"AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA", "ABIA", "ACCA"};
  private static final String[] GITHUB_PREFIXES = {"ghp_", "gho_", "ghu_", "ghs_", "ghr_"};

  private static long cloudKey(byte[] b, int i, int end, int c) {
    switch (c) {
      case 'A' -> {
        for (String prefix : AWS_PREFIXES) {
          if (at(b, i, end, prefix)) {
            int p = run(b, i + 4, end, (byte) (C_UPPER | C_DIGIT));
            if (p - i == 20 && tokenEnds(b, p, end)) return pack(Detector.CLOUD_KEY, i, p);
            return NONE;
          }
        }
        if (at(b, i, end, "AIza")) return token(b, i, 4, end, C_B64URL, 35, 35);
      }
      case 'g' -> {
        for (String prefix : GITHUB_PREFIXES) if (at(b, i, end, prefix)) return token(b, i, 4, end, (byte) (C_UPPER | C_LOWER | C_DIGIT), 36, 251);
        if (at(b, i, end, "github_pat_")) return token(b, i, 11, end, (byte) (C_UPPER | C_LOWER | C_DIGIT | C_B64URL), 22, 244);
        if (at(b, i, end, "glpat-")) return token(b, i, 6, end, C_B64URL, 20, 250);
      }
      case 'x' -> {
        if (end - i > 5 && at(b, i, end, "xox") && "abposre".indexOf(b[i + 3]) >= 0 && b[i + 4] == '-') {
          return token(b, i, 5, end, (byte) (C_UPPER | C_LOWER | C_DIGIT | C_B64URL), 10, 250);
        }
      }
      case 's', 'r' -> {
        if (at(b, i + 1, end, "k_live_")) return token(b, i, 8, end, (byte) (C_UPPER | C_LOWER | C_DIGIT), 16, 250);
      }
      default -> { }
    }
    return NONE;
  }

  /** A token of {@code min..max} bytes of class {@code cls} after a {@code prefixLength}-byte prefix; the whole is the match. */
  private static long token(byte[] b, int i, int prefixLength, int end, byte cls, int min, int max) {
    int p = run(b, i + prefixLength, end, cls);
    int n = p - i - prefixLength;
    if (n < min || n > max || !tokenEnds(b, p, end)) return NONE;
    return pack(Detector.CLOUD_KEY, i, p);
  }

  /** A token ends at {@code p} when no letter, digit, dash or underscore follows. */
  private static boolean tokenEnds(byte[] b, int p, int end) {
    return p == end || !is(b[p], C_B64URL);
  }

  /** Key names whose value is a secret, and what finds it; each has an underscore, the trigger. */
  private static final String[] SECRET_KEYS = {"access_token", "refresh_token", "id_token", "client_secret", "api_key", "private_key_id"};

  /** At an underscore: is it inside one of {@link #SECRET_KEYS}, followed by an assigned value? */
  private long keyValue(byte[] b, int i, int lo, int end) {
    for (String key : SECRET_KEYS) {
      int start = i - key.indexOf('_');
      if (start < lo || !at(b, start, end, key) || (start > lo && isWord(b[start - 1]))) continue;
      boolean keyId = key.equals("private_key_id");
      if (keyId ? !cloud : !bearer) return NONE;
      return keyId
          ? assigned(b, start + key.length(), end, Detector.CLOUD_KEY, C_HEX, 40)
          : assigned(b, start + key.length(), end, Detector.BEARER_TOKEN, C_TOKEN, 8);
    }
    return NONE;
  }

  /** At a colon: the start of {@code ::…}, or the end of an IPv6 address's first group of 1–4 hex digits. */
  private static long ipv6FromColon(byte[] b, int i, int lo, int end) {
    int start = i;
    while (start > lo && i - start < 4 && is(b[start - 1], C_HEX)) start--;
    if (start == i && (i + 1 >= end || b[i + 1] != ':')) return NONE;
    return ipv6(b, start, lo, end);
  }

  private static long bearerToken(byte[] b, int i, int end, int c) {
    if (c == 'B' || c == 'b') {
      if (!atIgnoreCase(b, i, end, "bearer")) return NONE;
      int p = i + 6, spaces = 0;
      while (p < end && b[p] == ' ' && spaces < 4) {
        p++;
        spaces++;
      }
      if (spaces == 0) return NONE;
      int q = run(b, p, end, C_TOKEN);
      return q - p >= 16 ? pack(Detector.BEARER_TOKEN, p, q) : NONE;
    }
    return NONE;
  }

  /** After a key name: optional quote, {@code =} or {@code :}, optional quote, then a value of at least {@code min} bytes. */
  private static long assigned(byte[] b, int p, int end, Detector d, byte cls, int min) {
    if (p < end && (b[p] == '"' || b[p] == '\'')) p++;
    while (p < end && b[p] == ' ') p++;
    if (p >= end || (b[p] != '=' && b[p] != ':')) return NONE;
    p++;
    while (p < end && b[p] == ' ') p++;
    if (p < end && (b[p] == '"' || b[p] == '\'')) p++;
    int q = run(b, p, end, cls);
    return q - p >= min ? pack(d, p, q) : NONE;
  }

  private static long jwt(byte[] b, int i, int end) {
    if (!at(b, i, end, "eyJ")) return NONE;
    int p = run(b, i, end, C_B64URL);
    if (p - i < 10 || p >= end || b[p] != '.') return NONE;
    int q = run(b, p + 1, end, C_B64URL);
    if (q - p - 1 < 4 || q >= end || b[q] != '.') return NONE;
    int r = run(b, q + 1, end, C_B64URL);
    return pack(Detector.JWT, i, r);
  }

  /** {@code -----BEGIN <label with PRIVATE KEY>-----} through the matching END line, or to the value's end. */
  private long pem(byte[] b, int i, int end) {
    if (!pem || !at(b, i, end, "-----BEGIN ")) return NONE;
    int p = i + 11, labelEnd = -1;
    for (int q = p; q < end && q - p < 64; q++) {
      byte x = b[q];
      if (x == '-') {
        if (at(b, q, end, "-----")) labelEnd = q;
        break;
      }
      if (!(is(x, (byte) (C_UPPER | C_DIGIT)) || x == ' ')) break;
    }
    if (labelEnd < 0 || !contains(b, p, labelEnd, "PRIVATE KEY")) return NONE;
    int q = labelEnd + 5;
    while (q < end) {
      byte x = b[q];
      if (x == '"') break; // never run past the end of a JSON string
      if (x == '-' && at(b, q, end, "-----END ")) {
        int r = q + 9;
        while (r < end && r - q < 80 && b[r] != '-' && b[r] != '"') r++;
        if (at(b, r, end, "-----")) return pack(Detector.PRIVATE_KEY, i, r + 5);
        q = r;
        continue;
      }
      q++;
    }
    return pack(Detector.PRIVATE_KEY, i, q);
  }

  private static boolean contains(byte[] b, int from, int to, String s) {
    for (int p = from; p + s.length() <= to; p++) if (at(b, p, to, s)) return true;
    return false;
  }

  @Override
  public String toString() {
    return "Detectors" + enabled;
  }
}
