package dev.gatehouse.policy;

import java.util.List;

/** The results of a case file, in case order. {@code gatehouse policy test} exits non-zero unless {@link #passed()}. */
public record PolicyTestReport(List<PolicyTestResult> results) {
  public PolicyTestReport {
    results = List.copyOf(results);
  }

  public boolean passed() {
    return results.stream().allMatch(PolicyTestResult::passed);
  }

  public List<PolicyTestResult> failures() {
    return results.stream().filter(r -> !r.passed()).toList();
  }
}
