package dev.gatehouse.policy;

import java.util.List;
import java.util.stream.Collectors;

/**
 * The unchecked exception of the policy module: a policy (or a test-case file) that cannot be read,
 * validated or compiled. It carries every error found, each with its file, line, column and key
 * path, so a user can fix them all in one pass. Messages never contain secrets: policy files hold
 * none, and values are quoted only from the file being reported on.
 */
public class PolicyException extends RuntimeException {
  private final List<PolicyError> errors;

  public PolicyException(List<PolicyError> errors) {
    super(summary(errors));
    this.errors = List.copyOf(errors);
  }

  public PolicyException(String message) {
    this(List.of(PolicyError.general(message)));
  }

  /** Every error found, in file order; never empty. */
  public List<PolicyError> errors() {
    return errors;
  }

  private static String summary(List<PolicyError> errors) {
    if (errors.isEmpty()) throw new IllegalArgumentException("errors is empty");
    if (errors.size() == 1) return errors.get(0).toString();
    return errors.size() + " policy errors:\n"
        + errors.stream().map(e -> "  " + e).collect(Collectors.joining("\n"));
  }
}
