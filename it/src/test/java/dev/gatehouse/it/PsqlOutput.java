package dev.gatehouse.it;

import dev.gatehouse.testkit.Psql;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Reading what psql printed with {@code VERBOSITY=verbose}: the SQLSTATEs of its error messages. */
final class PsqlOutput {
  private static final Pattern SQLSTATE =
      Pattern.compile("(?:^|\\n|failed: )(?:psql:[^\\n]*?)?(?:ERROR|FATAL|PANIC):  ([0-9A-Z]{5}): ");

  private PsqlOutput() {}

  /** The SQLSTATE of the first error psql printed. */
  static Optional<String> sqlState(Psql.Result result) {
    List<String> all = sqlStates(result);
    return all.isEmpty() ? Optional.empty() : Optional.of(all.getFirst());
  }

  /** The SQLSTATEs of every error psql printed, in order. */
  static List<String> sqlStates(Psql.Result result) {
    List<String> states = new ArrayList<>();
    Matcher m = SQLSTATE.matcher(result.stderr());
    while (m.find()) states.add(m.group(1));
    return states;
  }

  /** For assertion messages: what psql said, both streams. */
  static String describe(Psql.Result result) {
    return "exit " + result.exitCode() + "\nstdout: " + result.stdout() + "\nstderr: " + result.stderr();
  }
}
