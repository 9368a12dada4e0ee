package dev.gatehouse.policy;

import java.util.List;
import java.util.Map;

/**
 * One policy file as written, bound by Jackson (snake_case keys, unknown keys rejected, no
 * polymorphic typing). Values are kept as the user wrote them (strings): {@link PolicyCompiler}
 * validates them and reports errors with their location, which Jackson's own enum and type errors
 * would word less helpfully. Absent keys bind to {@code null} here and nowhere else.
 */
record PolicyDocument(Integer version, List<Rule> rules, Builtins builtins) {

  record Rule(
      String name,
      String description,
      String effect,
      String message,
      List<String> reviewers,
      List<String> mask,
      List<String> appliesTo,
      Subjects subjects,
      Resources resources,
      Commands commands,
      When when,
      Match unless) {}

  /** The matchers an {@code unless} block (and the built-in's exemption) may use. */
  record Match(Subjects subjects, Resources resources, Commands commands, When when) {}

  record Subjects(
      List<String> users,
      List<String> groups,
      List<String> issuers,
      List<String> kinds,
      Map<String, List<String>> claims) {}

  record Resources(List<String> names, List<String> types, Map<String, List<String>> tags) {}

  /** Protocol-neutral flags, plus one section per protocol (only {@code sql} so far). */
  record Commands(Sql sql, List<String> flags) {}

  record Sql(List<String> kinds, List<String> objects, List<String> functions) {}

  record When(List<TimeWindow> time, String grant, String cel) {}

  record TimeWindow(List<String> days, String from, String to, String zone) {}

  record Builtins(NamedObjectDdl namedObjectDdl) {}

  record NamedObjectDdl(String effect, List<String> reviewers, String message, Match unless) {}
}
