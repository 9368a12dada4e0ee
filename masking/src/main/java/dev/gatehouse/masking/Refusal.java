package dev.gatehouse.masking;

import java.util.Objects;

/**
 * Masking's reason to refuse a statement or a result: the protocol module turns it into its native
 * error (for PostgreSQL, SQLSTATE 42501 with {@code reason} as the message).
 *
 * @param rule the masking rule that refused
 * @param reason shown to the user: names the rule and the check, never a value
 */
public record Refusal(String rule, String reason) {
  public Refusal {
    Objects.requireNonNull(rule, "rule == null");
    Objects.requireNonNull(reason, "reason == null");
  }
}
