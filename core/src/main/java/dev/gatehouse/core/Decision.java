package dev.gatehouse.core;

import java.util.List;
import java.util.Objects;

/** What policy decided about an admission or a command. Every decision names the rule that made it. */
public sealed interface Decision {
  String rule();

  record Allow(String rule, Obligations obligations) implements Decision {
    public Allow {
      Objects.requireNonNull(rule, "rule == null");
      Objects.requireNonNull(obligations, "obligations == null");
    }
  }

  /** @param reason shown to the user; names what was refused, never a secret */
  record Deny(String rule, String reason) implements Decision {
    public Deny {
      Objects.requireNonNull(rule, "rule == null");
      Objects.requireNonNull(reason, "reason == null");
    }
  }

  record RequireApproval(String rule, List<String> reviewers, String reason) implements Decision {
    public RequireApproval {
      Objects.requireNonNull(rule, "rule == null");
      reviewers = List.copyOf(reviewers);
      Objects.requireNonNull(reason, "reason == null");
    }
  }

  /** The rule name used when nothing matched: default deny. */
  String NO_MATCH = "default-deny";
}
