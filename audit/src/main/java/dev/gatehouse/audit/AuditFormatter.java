package dev.gatehouse.audit;

import java.time.format.DateTimeFormatter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Shows audit events to people ({@code gatehouse audit tail}) and to scripts ({@code --json}).
 *
 * <p>Events hold raw, untrusted text: user names, application names and SQL chosen by whoever
 * connected. {@link #line} therefore puts every such value in double quotes and escapes anything
 * that could forge a line or act on a terminal: the quote and backslash themselves, newlines and all
 * other C0 controls, DEL, C1 controls (the 8-bit CSI among them), Unicode format characters (bidi
 * overrides and isolates, zero-width characters), line and paragraph separators, unpaired
 * surrogates and unassigned code points. So one event is always exactly one line, and what is shown
 * is what is stored, escaped. Stateless and thread-safe.
 */
public final class AuditFormatter {
  private static final DateTimeFormatter TIME = DateTimeFormatter.ISO_INSTANT;

  private AuditFormatter() {}

  /** What a line starts with when the event's contents do not match its hash: it was altered. */
  static final String ALTERED = "ALTERED (fails its hash; run gatehouse audit verify) ";

  /**
   * One line, no trailing newline, safe to print to a terminal. An event whose contents do not
   * match its hash starts with {@link #ALTERED}, so an altered row is not quoted as genuine (review
   * round 44: only verify showed it).
   */
  public static String line(AuditEvent e) {
    EventBody b = e.body();
    StringBuilder s = new StringBuilder(160);
    if (!e.hashMatches()) s.append(ALTERED);
    s.append(TIME.format(b.time())).append(' ').append(b.type().name()).append(' ').append(escape(e.id()));
    b.sessionId().ifPresent(v -> field(s, "session", v));
    b.principal().ifPresent(p -> {
      field(s, "principal", p.displayName());
      field(s, "subject", p.subject());
      field(s, "issuer", p.issuer());
    });
    b.resource().ifPresent(v -> field(s, "resource", v));
    b.client().ifPresent(c -> {
      field(s, "client", c.address());
      field(s, "user", c.claimedUser());
      field(s, "app", c.application());
    });
    b.decision().ifPresent(d -> {
      s.append(" decision=").append(d.effect().name());
      field(s, "rule", d.rule());
      d.reason().ifPresent(r -> field(s, "reason", r));
    });
    b.outcome().ifPresent(o -> {
      s.append(" outcome=").append(escape(o.status())).append(" rows=").append(o.rows())
          .append(" ms=").append(o.durationMillis());
      o.errorCode().ifPresent(c -> field(s, "error", c));
    });
    b.ref().ifPresent(v -> field(s, "ref", v));
    b.command().ifPresent(c -> {
      if (!c.kinds().isEmpty()) field(s, "kinds", String.join(",", c.kinds()));
      if (!c.flags().isEmpty()) field(s, "flags", String.join(",", c.flags()));
      // Why an ordinary-looking statement counts as opaque code (docs/policy.md).
      String why = c.details().get("opaque_code");
      if (why != null) field(s, "opaque_code", why);
      field(s, c.protocol(), c.text());
    });
    b.attributes().forEach((k, v) -> field(s, k, v));
    return s.toString();
  }

  /**
   * The event as nested maps and lists in a stable field order, for a JSON encoder. Values are raw
   * (the encoder escapes them); absent fields are left out.
   */
  public static Map<String, Object> toMap(AuditEvent e) {
    EventBody b = e.body();
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("id", e.id());
    m.put("chain", e.chainId());
    m.put("seq", e.seq());
    m.put("time", TIME.format(b.time()));
    m.put("type", b.type().name());
    b.sessionId().ifPresent(v -> m.put("session", v));
    b.principal().ifPresent(p -> m.put("principal", ordered(
        "subject", p.subject(), "issuer", p.issuer(), "name", p.displayName(), "kind", p.kind(), "groups", p.groups())));
    b.resource().ifPresent(v -> m.put("resource", v));
    b.client().ifPresent(c -> m.put("client", ordered(
        "address", c.address(), "user", c.claimedUser(), "application", c.application())));
    b.command().ifPresent(c -> m.put("command", ordered(
        "protocol", c.protocol(), "text", c.text(), "kinds", c.kinds(), "objects", c.objects(),
        "functions", c.functions(), "flags", c.flags(), "details", new LinkedHashMap<>(c.details()))));
    b.decision().ifPresent(d -> {
      Map<String, Object> dm = ordered("effect", d.effect().name(), "rule", d.rule());
      d.reason().ifPresent(r -> dm.put("reason", r));
      m.put("decision", dm);
    });
    b.outcome().ifPresent(o -> {
      Map<String, Object> om = ordered("status", o.status(), "rows", o.rows());
      o.errorCode().ifPresent(c -> om.put("error_code", c));
      om.put("duration_ms", o.durationMillis());
      m.put("outcome", om);
    });
    b.ref().ifPresent(v -> m.put("ref", v));
    if (!b.attributes().isEmpty()) m.put("attributes", new LinkedHashMap<>(b.attributes()));
    m.put("prev_hash", e.prevHash());
    m.put("hash", e.hash());
    if (!e.hashMatches()) m.put("altered", true); // its contents do not match its hash
    return m;
  }

  /**
   * Escapes untrusted text for a terminal line: {@code \\}, {@code \"}, {@code \n}, {@code \r},
   * {@code \t}, {@code \xHH} for other controls below U+00A0, <code>&#92;u{HHHH}</code> for format, separator,
   * surrogate and unassigned code points. Everything else is kept as is.
   */
  public static String escape(String text) {
    StringBuilder s = new StringBuilder(text.length() + 8);
    for (int i = 0; i < text.length(); ) {
      int cp = text.codePointAt(i);
      i += Character.charCount(cp);
      switch (cp) {
        case '\\' -> s.append("\\\\");
        case '"' -> s.append("\\\"");
        case '\n' -> s.append("\\n");
        case '\r' -> s.append("\\r");
        case '\t' -> s.append("\\t");
        default -> {
          if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0)) {
            s.append(String.format("\\x%02x", cp));
          } else if (unsafe(cp)) {
            s.append(String.format("\\u{%04x}", cp));
          } else {
            s.appendCodePoint(cp);
          }
        }
      }
    }
    return s.toString();
  }

  private static boolean unsafe(int cp) {
    return switch (Character.getType(cp)) {
      case Character.FORMAT, Character.LINE_SEPARATOR, Character.PARAGRAPH_SEPARATOR, Character.SURROGATE,
          Character.UNASSIGNED, Character.CONTROL -> true;
      default -> false;
    };
  }

  private static void field(StringBuilder s, String key, String value) {
    s.append(' ').append(escape(key)).append("=\"").append(escape(value)).append('"');
  }

  private static Map<String, Object> ordered(Object... kv) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      Object v = kv[i + 1];
      m.put((String) kv[i], v instanceof List<?> l ? List.copyOf(l) : v instanceof Optional<?> o ? o.orElse(null) : v);
    }
    return m;
  }
}
