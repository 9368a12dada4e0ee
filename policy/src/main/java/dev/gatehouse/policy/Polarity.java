package dev.gatehouse.policy;

/**
 * Which way a match leans, and so how doubt is resolved. A match that makes the outcome stricter (a
 * deny or require_approval rule, or the {@code unless} of an allow) is RESTRICTIVE: one matching
 * part of the command is enough, names compare case-insensitively, and a condition that cannot be
 * evaluated counts as true. A match that makes the outcome more lenient (an allow rule, or the
 * {@code unless} of a deny) is PERMISSIVE: every part of the command must be covered, names compare
 * exactly, an unqualified statement name is not covered by a schema-qualified pattern, and a
 * condition that cannot be evaluated counts as false. Either way doubt ends in the stricter outcome.
 */
enum Polarity {
  RESTRICTIVE,
  PERMISSIVE;

  Polarity inverse() {
    return this == RESTRICTIVE ? PERMISSIVE : RESTRICTIVE;
  }

  boolean restrictive() {
    return this == RESTRICTIVE;
  }
}
