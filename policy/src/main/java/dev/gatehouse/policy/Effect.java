package dev.gatehouse.policy;

import dev.gatehouse.core.Decision;
import java.util.Locale;
import java.util.Optional;

/**
 * A rule's effect, ordered by strictness: when several rules match, the strictest wins (deny over
 * require_approval over allow). Written in policy and test-case files in lower case. {@link #MASK}
 * decides nothing: it adds masking obligations to whatever the other rules allow.
 */
public enum Effect {
  /** Obligations only: a matching rule's masks apply to a command another rule allows. */
  MASK(-1),
  ALLOW(0),
  REQUIRE_APPROVAL(1),
  DENY(2);

  private final int rank;

  Effect(int rank) {
    this.rank = rank;
  }

  boolean stricterThan(Effect other) {
    return rank > other.rank;
  }

  /** The name used in YAML: {@code allow}, {@code deny}, {@code require_approval}, {@code mask}. */
  public String yamlName() {
    return name().toLowerCase(Locale.ROOT);
  }

  public static Optional<Effect> parse(String yamlName) {
    for (Effect e : values()) if (e.yamlName().equals(yamlName)) return Optional.of(e);
    return Optional.empty();
  }

  /** The effect a decision carries out. */
  public static Effect of(Decision decision) {
    return switch (decision) {
      case Decision.Allow a -> ALLOW;
      case Decision.Deny d -> DENY;
      case Decision.RequireApproval r -> REQUIRE_APPROVAL;
    };
  }
}
