package dev.gatehouse.policy;

import dev.gatehouse.core.Command;
import dev.gatehouse.core.Decision;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The outcome of one {@link PolicyTestCase}.
 *
 * @param decision the decision (for several commands, the strictest one, the first among equals)
 * @param commands what the classifier made of the SQL (empty for a connection case), so the CLI can
 *     show the classification behind the decision
 * @param failure why the case failed: the mismatch between expectation and decision, or a
 *     classifier error; empty when it passed
 */
public record PolicyTestResult(PolicyTestCase testCase, Decision decision, List<Command> commands, Optional<String> failure) {
  public PolicyTestResult {
    Objects.requireNonNull(testCase, "testCase == null");
    Objects.requireNonNull(decision, "decision == null");
    commands = List.copyOf(commands);
    Objects.requireNonNull(failure, "failure == null");
  }

  public boolean passed() {
    return failure.isEmpty();
  }

  public Effect effect() {
    return Effect.of(decision);
  }
}
