package dev.gatehouse.policy;

import dev.cel.runtime.CelEvaluationException;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The body of a rule or of an {@code unless}: static matchers (subjects, resources, commands),
 * then conditions (time windows, grant, CEL), checked in that order so CEL runs only when
 * everything cheaper already matched. Conditions that cannot be evaluated resolve by {@link
 * Polarity}. Immutable, thread-safe.
 *
 * @param commands absent: any command, and the connection itself; present: only commands, so it
 *     never matches when a session is being opened
 */
record Matcher(
    SubjectMatcher subjects,
    ResourceMatcher resources,
    Optional<CommandMatcher> commands,
    List<TimeWindow> windows,
    boolean grantRequired,
    Optional<CelCondition> cel) {

  private static final Logger LOG = LoggerFactory.getLogger(Matcher.class);

  boolean matchesResource(Facts f, Polarity polarity) {
    return resources.matches(f.resource, polarity);
  }

  boolean matches(Facts f, Polarity polarity, String rule, GrantLookup grants) {
    return matches(f, polarity, rule, grants, false);
  }

  /** @param resourceChecked the caller already knows the resource matcher matches */
  boolean matches(Facts f, Polarity polarity, String rule, GrantLookup grants, boolean resourceChecked) {
    if (!subjects.matches(f.principal)) return false;
    if (!resourceChecked && !resources.matches(f.resource, polarity)) return false;
    if (commands.isPresent()) {
      if (f.command.isEmpty() || !commands.get().matches(f.command.get(), polarity)) return false;
    }
    if (!windows.isEmpty() && windows.stream().noneMatch(w -> w.contains(f.now))) return false;
    if (grantRequired && !grant(f, polarity, rule, grants)) return false;
    return cel.isEmpty() || cel(f, polarity, rule);
  }

  private static boolean grant(Facts f, Polarity polarity, String rule, GrantLookup grants) {
    try {
      return grants.hasActiveGrant(f.principal, f.resource, f.now);
    } catch (RuntimeException e) {
      LOG.warn("rule {}: grant lookup failed ({}); treating the grant condition as {} (fail closed)",
          rule, e.toString(), polarity.restrictive());
      return polarity.restrictive();
    }
  }

  private boolean cel(Facts f, Polarity polarity, String rule) {
    try {
      return cel.get().evaluate(f.celVariables());
    } catch (CelEvaluationException | RuntimeException e) {
      LOG.warn("rule {}: CEL condition failed to evaluate ({}); treating it as {} (fail closed)",
          rule, e.getMessage(), polarity.restrictive());
      return polarity.restrictive();
    }
  }

  boolean hasCommandMatcher() {
    return commands.isPresent();
  }
}
