package dev.gatehouse.policy;

import java.nio.file.Path;
import java.util.List;

/**
 * {@code gatehouse policy check FILE…}: validates policy files and lists every error with its file,
 * line, column and key path ({@link PolicyError#toString()} prints them the way compilers do).
 */
public final class PolicyChecker {
  private PolicyChecker() {}

  /** Every error in these files, in file order; empty when they form a valid policy. */
  public static List<PolicyError> check(List<Path> files) {
    try {
      new PolicyLoader().load(files);
      return List.of();
    } catch (PolicyException e) {
      return e.errors();
    }
  }
}
