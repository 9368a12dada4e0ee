package dev.gatehouse.policy;

import dev.gatehouse.core.CommandFlag;
import java.util.List;
import java.util.Optional;

/**
 * One rule, ready to evaluate. {@code origin} ({@code file:line}) is for logs and explanations.
 * Immutable, thread-safe.
 */
record CompiledRule(
    String name,
    Effect effect,
    Optional<String> message,
    List<String> reviewers,
    List<String> masks,
    boolean connect,
    boolean commands,
    Matcher match,
    Optional<Matcher> unless,
    String origin) {

  /**
   * A match on an allow rule lets something through, so it must cover the whole command; deny,
   * require_approval and mask rules guard, so they match whatever the command may touch.
   */
  Polarity polarity() {
    return effect == Effect.ALLOW ? Polarity.PERMISSIVE : Polarity.RESTRICTIVE;
  }

  boolean matches(Facts f, GrantLookup grants) {
    return matches(f, grants, false);
  }

  /** @param resourceChecked the rule was picked for this resource already (see PolicyEngine) */
  boolean matches(Facts f, GrantLookup grants, boolean resourceChecked) {
    if (effect == Effect.ALLOW && f.command.isPresent()) {
      var flags = f.command.get().classification().flags();
      if (!flags.isEmpty()) {
        for (CommandFlag opt : CommandMatcher.OPT_IN) {
          if (flags.contains(opt) && !explicitlyAllows(opt)) return false;
        }
      }
    }
    Polarity polarity = polarity();
    if (!match.matches(f, polarity, name, grants, resourceChecked)) return false;
    return unless.isEmpty() || !unless.get().matches(f, polarity.inverse(), name, grants);
  }

  /** Whether the rule's commands matcher lists {@code flag}. */
  boolean names(CommandFlag flag) {
    return explicitlyAllows(flag);
  }

  private boolean explicitlyAllows(CommandFlag flag) {
    return match.commands().map(c -> c.flags().contains(flag)).orElse(false);
  }
}
