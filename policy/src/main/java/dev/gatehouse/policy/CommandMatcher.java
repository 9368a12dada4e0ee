package dev.gatehouse.policy;

import dev.gatehouse.core.Command;
import dev.gatehouse.core.CommandFlag;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * What a command must look like: protocol-neutral flags, plus a section per protocol (only
 * {@code sql} so far; SSH and HTTP add theirs beside it). A command of a protocol the matcher has no
 * section for does not match, unless the matcher has flags only.
 *
 * <p>A command can hold several statements, so each list is judged by {@link Polarity}: for a
 * RESTRICTIVE match one kind, object, function or flag in the list is enough; for a PERMISSIVE match
 * every kind, object, function and flag of the command must be covered by the list (and a command
 * with no kinds is never covered by a kinds list).
 */
record CommandMatcher(Optional<Sql> sql, Set<CommandFlag> flags) {

  /** Flags an allow rule must name explicitly before it can let such a command through. */
  static final Set<CommandFlag> OPT_IN = Set.of(CommandFlag.UNCLASSIFIED, CommandFlag.FUNCTION_CALL);

  record Sql(List<KindPattern> kinds, List<NamePattern> objects, List<NamePattern> functions) {
    boolean matches(Command c, Polarity polarity) {
      var cl = c.classification();
      if (!kinds.isEmpty()) {
        // Loops, not streams: this runs for every rule on every statement.
        if (polarity.restrictive()) {
          boolean any = false;
          for (String k : cl.kinds()) if (kind(k, polarity)) { any = true; break; }
          if (!any) return false;
        } else {
          if (cl.kinds().isEmpty()) return false;
          for (String k : cl.kinds()) if (!kind(k, polarity)) return false;
        }
      }
      return names(objects, cl.objects(), polarity) && names(functions, cl.functions(), polarity);
    }

    private boolean kind(String k, Polarity polarity) {
      for (KindPattern p : kinds) if (p.matches(k, polarity)) return true;
      return false;
    }

    private static boolean names(List<NamePattern> patterns, Collection<String> names, Polarity polarity) {
      if (patterns.isEmpty()) return true;
      if (polarity.restrictive()) {
        for (String n : names) for (NamePattern p : patterns) if (p.matches(n, polarity)) return true;
        return false;
      }
      for (String n : names) {
        boolean covered = false;
        for (NamePattern p : patterns) if (p.matches(n, polarity)) { covered = true; break; }
        if (!covered) return false;
      }
      return true;
    }

    /** Every object pattern, for the built-in rule on DDL against named objects. */
    List<NamePattern> objectPatterns() {
      return objects;
    }
  }

  boolean matches(Command c, Polarity polarity) {
    if (sql.isPresent()) {
      if (!"sql".equals(c.protocol()) || !sql.get().matches(c, polarity)) return false;
    }
    if (flags.isEmpty()) return true;
    Set<CommandFlag> present = c.classification().flags();
    if (polarity.restrictive()) {
      for (CommandFlag f : present) if (flags.contains(f)) return true;
      return false;
    }
    return flags.containsAll(present);
  }

  /**
   * A statement kind pattern, compared case-insensitively on whole words. A pattern that is only
   * the leading words of kinds ({@code DROP}, {@code ALTER}) matches every kind that starts so. A
   * pattern that is itself a full kind ({@code SELECT}, {@code SET}) matches the kinds it begins
   * only when the match is RESTRICTIVE: a deny on {@code SET} catches {@code SET ROLE}, but an allow
   * of {@code SELECT} does not let {@code SELECT INTO} (which creates a table) through.
   */
  record KindPattern(String kind, boolean full) {
    KindPattern(String kind) {
      this(normalise(kind), StatementKinds.KNOWN.contains(normalise(kind)));
    }

    static String normalise(String kind) {
      return String.join(" ", kind.strip().toUpperCase(Locale.ROOT).split("\\s+"));
    }

    boolean matches(String commandKind, Polarity polarity) {
      int n = kind.length();
      if (full && !polarity.restrictive()) return commandKind.equalsIgnoreCase(kind);
      return commandKind.regionMatches(true, 0, kind, 0, n)
          && (commandKind.length() == n || commandKind.charAt(n) == ' ');
    }
  }

  /**
   * An object or function name pattern, {@code [schema.]name} with globs in either part. An
   * unqualified pattern matches the name in every schema; an unqualified name in a statement (whose
   * schema the search path decides, and the search path cannot be known reliably) is matched by a
   * qualified pattern only when the match is RESTRICTIVE.
   */
  record NamePattern(String text, Optional<Glob> schema, Glob name) {
    static NamePattern compile(String text) {
      int dot = text.lastIndexOf('.');
      if (dot < 0) return new NamePattern(text, Optional.empty(), Glob.compile(text));
      return new NamePattern(text, Optional.of(Glob.compile(text.substring(0, dot))), Glob.compile(text.substring(dot + 1)));
    }

    boolean matches(String qualified, Polarity polarity) {
      boolean ignoreCase = polarity.restrictive();
      int dot = qualified.lastIndexOf('.');
      String n = dot < 0 ? qualified : qualified.substring(dot + 1);
      if (!name.matches(n, ignoreCase)) return false;
      if (schema.isEmpty()) return true;
      if (dot < 0) return polarity.restrictive();
      return schema.get().matches(qualified.substring(0, dot), ignoreCase);
    }

    /** True for patterns that name everything ({@code *}, {@code *.*}): they name no object in particular. */
    boolean matchesEverything() {
      return name.pattern().chars().allMatch(ch -> ch == '*')
          && schema.map(s -> s.pattern().chars().allMatch(ch -> ch == '*')).orElse(true);
    }
  }
}
