package dev.gatehouse.policy;

import java.util.Comparator;
import java.util.HashSet;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The SQL statement kinds a rule may name: PostgreSQL's command tags (src/include/tcop/cmdtaglist.h,
 * the names psql prints after a statement), plus a few MySQL kinds. A rule may also name a leading
 * word or words of a kind ({@code DROP}, {@code ALTER TEXT SEARCH}), which then matches every kind
 * that starts so. Anything else is a typo, reported at load time, since a misspelt kind in a deny
 * rule would silently block nothing.
 */
final class StatementKinds {
  private StatementKinds() {}

  private static final String[] OBJECTS = {
      "ACCESS METHOD", "AGGREGATE", "CAST", "COLLATION", "CONVERSION", "DATABASE", "DOMAIN",
      "EVENT TRIGGER", "EXTENSION", "FOREIGN DATA WRAPPER", "FOREIGN TABLE", "FUNCTION", "INDEX",
      "LANGUAGE", "MATERIALIZED VIEW", "OPERATOR", "OPERATOR CLASS", "OPERATOR FAMILY", "POLICY",
      "PROCEDURE", "PUBLICATION", "ROLE", "ROUTINE", "RULE", "SCHEMA", "SEQUENCE", "SERVER",
      "STATISTICS", "SUBSCRIPTION", "TABLE", "TABLESPACE", "TEXT SEARCH CONFIGURATION",
      "TEXT SEARCH DICTIONARY", "TEXT SEARCH PARSER", "TEXT SEARCH TEMPLATE", "TRANSFORM", "TRIGGER",
      "TYPE", "USER", "USER MAPPING", "VIEW", "CONSTRAINT"};

  private static final String[] OTHERS = {
      "ALTER DEFAULT PRIVILEGES", "ALTER LARGE OBJECT", "ALTER SYSTEM", "CREATE TABLE AS", "DROP OWNED",
      "ANALYZE", "BEGIN", "CALL", "CHECKPOINT", "CLOSE", "CLOSE CURSOR", "CLOSE CURSOR ALL", "CLUSTER",
      "COMMENT", "COMMIT", "COMMIT PREPARED", "COPY", "COPY FROM", "COPY TO", "DEALLOCATE",
      "DEALLOCATE ALL", "DECLARE CURSOR", "DELETE", "DISCARD", "DISCARD ALL", "DISCARD PLANS",
      "DISCARD SEQUENCES", "DISCARD TEMP", "DO", "EXECUTE", "EXPLAIN", "FETCH", "GRANT", "GRANT ROLE",
      "IMPORT FOREIGN SCHEMA", "INSERT", "LISTEN", "LOAD", "LOCK", "LOCK TABLE", "MERGE", "MOVE",
      "NOTIFY", "PREPARE", "PREPARE TRANSACTION", "REASSIGN OWNED", "REFRESH MATERIALIZED VIEW",
      "REINDEX", "RELEASE", "RESET", "REVOKE", "REVOKE ROLE", "ROLLBACK", "ROLLBACK PREPARED",
      "SAVEPOINT", "SECURITY LABEL", "SELECT", "SELECT INTO", "SET", "SET CONSTRAINTS", "SET ROLE",
      "SET SESSION AUTHORIZATION", "SET TRANSACTION", "SHOW", "START TRANSACTION", "TRUNCATE",
      "TRUNCATE TABLE", "UNLISTEN", "UPDATE", "VACUUM", "VALUES", "FUNCTION CALL",
      // MySQL kinds that have no PostgreSQL tag.
      "REPLACE", "USE", "HANDLER", "LOAD DATA", "RENAME TABLE", "OPTIMIZE TABLE", "FLUSH", "KILL"};

  /** Every full kind. */
  static final Set<String> KNOWN = known();

  /** Every full kind and every leading run of its words. */
  private static final Set<String> PREFIXES = prefixes();

  private static Set<String> known() {
    Set<String> s = new HashSet<>(Set.of(OTHERS));
    for (String verb : new String[] {"CREATE", "ALTER", "DROP"}) for (String o : OBJECTS) s.add(verb + " " + o);
    return Set.copyOf(s);
  }

  private static Set<String> prefixes() {
    Set<String> s = new HashSet<>();
    for (String k : KNOWN) {
      String[] words = k.split(" ");
      StringBuilder b = new StringBuilder();
      for (String w : words) {
        if (b.length() > 0) b.append(' ');
        b.append(w);
        s.add(b.toString());
      }
    }
    return Set.copyOf(s);
  }

  static boolean valid(String kind) {
    return PREFIXES.contains(CommandMatcher.KindPattern.normalise(kind));
  }

  /** The closest valid kind, for "did you mean" in errors. */
  static Optional<String> suggest(String kind) {
    String k = CommandMatcher.KindPattern.normalise(kind).toUpperCase(Locale.ROOT);
    return Stream.of(PREFIXES.toArray(String[]::new))
        .filter(p -> Math.abs(p.length() - k.length()) <= 2)
        .min(Comparator.comparingInt((String p) -> distance(p, k)).thenComparing(Comparator.naturalOrder()))
        .filter(p -> distance(p, k) <= 2);
  }

  private static int distance(String a, String b) {
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) prev[j] = j;
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
        cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }
}
