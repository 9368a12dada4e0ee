package dev.gatehouse.postgres;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * The startup parameters a client sent, checked against an explicit allow-list (THREATS.md item 8).
 *
 * <p>{@code database} selects the resource and {@code user} is only audited; neither ever reaches
 * the backend. Of the rest only these pass, with these values:
 *
 * <ul>
 *   <li>{@code application_name}: cut to 63 bytes and non-printable characters replaced by {@code
 *       ?}, as PostgreSQL itself does;
 *   <li>{@code client_encoding}: UTF8 (any spelling PostgreSQL accepts for it) or SQL_ASCII, which
 *       converts nothing and so reads UTF-8 exactly as sent (psql asks for it under the C locale);
 *       the backend always runs with UTF8 and the client is told so by ParameterStatus;
 *   <li>{@code DateStyle}: ISO output with any field order (pgjdbc requires ISO);
 *   <li>{@code TimeZone}: a zone name or offset (letters, digits, {@code / _ + - : .});
 *   <li>{@code extra_float_digits}: an integer from -15 to 3.
 * </ul>
 *
 * <p>Everything else is refused with an error naming the parameter: {@code options} (arbitrary
 * server settings, including {@code client_encoding}), {@code replication}, {@code search_path},
 * and anything unknown. {@code _pq_.} protocol options are not parameters: they are answered by
 * NegotiateProtocolVersion and ignored. The backend is always started with {@code
 * client_encoding=UTF8}, {@code standard_conforming_strings=on} and an ISO {@code DateStyle}, the
 * settings the SQL classifier reads text with.
 *
 * @param database the resource name the client asked for
 * @param user the user name the client claimed (informational)
 * @param application the sanitized application name, empty when none was sent
 * @param backend the parameters to start the backend with
 * @param protocolOptions the {@code _pq_.} options the client asked for, to report as unrecognized
 */
record StartupParameters(
    String database, String user, String application, Map<String, String> backend, List<String> protocolOptions) {

  /** What the client sent was not acceptable; {@code sqlstate} is what PostgreSQL would report. */
  static final class Refused extends PostgresGatewayException {
    Refused(String sqlstate, String message) {
      super(sqlstate, message);
    }
  }

  static final Set<String> ALLOWED =
      Set.of("user", "database", "application_name", "client_encoding", "DateStyle", "TimeZone", "extra_float_digits");
  private static final Set<String> DATE_ORDERS = Set.of("MDY", "DMY", "YMD", "US", "EUROPEAN", "NONEUROPEAN", "EURO", "NONEURO");
  private static final int MAX_NAME_BYTES = 63;

  StartupParameters {
    Objects.requireNonNull(database, "database == null");
    Objects.requireNonNull(user, "user == null");
    Objects.requireNonNull(application, "application == null");
    backend = Map.copyOf(backend);
    protocolOptions = List.copyOf(protocolOptions);
  }

  /**
   * Checks the parameters of a StartupMessage.
   *
   * @throws Refused with SQLSTATE 28000 for a missing or empty user or database, 42704 for an
   *     unknown parameter, 08P01 for a forbidden one, 22023 for a value outside what is allowed
   */
  static StartupParameters check(Map<String, String> sent) {
    String database = null;
    String user = null;
    String application = "";
    List<String> protocolOptions = new ArrayList<>();
    Map<String, String> backend = new LinkedHashMap<>();
    backend.put("client_encoding", "UTF8");
    backend.put("standard_conforming_strings", "on");
    backend.put("DateStyle", "ISO");
    for (Map.Entry<String, String> e : sent.entrySet()) {
      String name = e.getKey();
      String value = e.getValue();
      if (name.startsWith("_pq_.")) {
        protocolOptions.add(name);
        continue;
      }
      // PostgreSQL matches setting names case-insensitively, and so does the allow-list; "user" and
      // "database" are not settings, and only their exact names mean them ("USER" is an unknown setting).
      String canonical = ALLOWED.stream().filter(a -> a.equalsIgnoreCase(name)).findFirst().orElse(null);
      if (canonical == null || ((canonical.equals("user") || canonical.equals("database")) && !canonical.equals(name))) {
        throw refusedName(name);
      }
      switch (canonical) {
        case "user" -> user = value;
        case "database" -> database = value;
        case "application_name" -> {
          application = sanitizeName(value);
          backend.put("application_name", application);
        }
        case "client_encoding" -> checkEncoding(value);
        case "DateStyle" -> backend.put("DateStyle", checkDateStyle(value));
        case "TimeZone" -> backend.put("TimeZone", checkTimeZone(value));
        case "extra_float_digits" -> backend.put("extra_float_digits", checkExtraFloatDigits(value));
        default -> throw new IllegalStateException("allow-list entry without a check: " + canonical);
      }
    }
    if (user == null || user.isEmpty()) {
      throw new Refused("28000", "no user name specified in startup packet");
    }
    if (database == null || database.isEmpty()) {
      throw new Refused("28000", "no database specified in startup packet: the database name selects the Gatehouse resource");
    }
    return new StartupParameters(database, user, application, backend, protocolOptions);
  }

  private static Refused refusedName(String name) {
    String shown = sanitizeName(name);
    return switch (name.toLowerCase(Locale.ROOT)) {
      case "options" -> new Refused("08P01",
          "startup parameter \"options\" is not allowed through Gatehouse: server settings cannot be passed at connection time");
      case "replication" -> new Refused("08P01",
          "startup parameter \"replication\" is not allowed through Gatehouse: replication connections are not supported");
      default -> new Refused("42704",
          "startup parameter \"" + shown + "\" is not allowed through Gatehouse (allowed: application_name, client_encoding,"
              + " DateStyle, TimeZone, extra_float_digits)");
    };
  }

  private static void checkEncoding(String value) {
    // pg_char_to_encoding ignores case and punctuation: "utf-8", "UTF8", "Unicode" are one encoding.
    StringBuilder key = new StringBuilder();
    for (char c : value.toCharArray()) {
      if (Character.isLetterOrDigit(c)) key.append(Character.toLowerCase(c));
    }
    String k = key.toString();
    if (!k.equals("utf8") && !k.equals("unicode") && !k.equals("sqlascii")) {
      throw new Refused("22023", "client_encoding \"" + sanitizeName(value)
          + "\" is not allowed through Gatehouse: only UTF8 is supported");
    }
  }

  private static String checkDateStyle(String value) {
    boolean iso = false;
    List<String> out = new ArrayList<>();
    for (String token : value.split("[,\\s]+")) {
      if (token.isEmpty()) continue;
      String t = token.toUpperCase(Locale.ROOT);
      if (t.equals("ISO")) {
        iso = true;
      } else if (!DATE_ORDERS.contains(t)) {
        iso = false;
        break;
      }
      out.add(t);
    }
    if (!iso || out.size() > 2) {
      throw new Refused("22023", "DateStyle \"" + sanitizeName(value)
          + "\" is not allowed through Gatehouse: only ISO output (e.g. \"ISO, MDY\") is supported");
    }
    return String.join(", ", out);
  }

  private static String checkTimeZone(String value) {
    boolean ok = !value.isEmpty() && value.length() <= 64;
    for (int i = 0; ok && i < value.length(); i++) {
      char c = value.charAt(i);
      ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || "/_+-:.".indexOf(c) >= 0;
    }
    if (!ok) {
      throw new Refused("22023", "TimeZone \"" + sanitizeName(value) + "\" is not allowed through Gatehouse:"
          + " use a zone name or an offset");
    }
    return value;
  }

  private static String checkExtraFloatDigits(String value) {
    try {
      int digits = Integer.parseInt(value.strip());
      if (digits >= -15 && digits <= 3) return Integer.toString(digits);
    } catch (NumberFormatException e) {
      // refused below
    }
    throw new Refused("22023", "extra_float_digits \"" + sanitizeName(value) + "\" is not allowed: use an integer from -15 to 3");
  }

  /**
   * What PostgreSQL does to application_name (pg_clean_ascii, then NAMEDATALEN): printable ASCII
   * only, at most 63 bytes. Also used to quote untrusted names in error messages.
   */
  static String sanitizeName(String value) {
    StringBuilder out = new StringBuilder(Math.min(value.length(), MAX_NAME_BYTES));
    for (int i = 0; i < value.length() && out.length() < MAX_NAME_BYTES; i++) {
      char c = value.charAt(i);
      out.append(c >= 32 && c < 127 ? c : '?');
    }
    return out.toString();
  }
}
