package dev.gatehouse.policy;

import dev.gatehouse.core.Principal;
import java.util.Collection;
import java.util.Map;
import java.util.Set;

/**
 * Who a rule is about. Each list is an OR of exact values, the lists are ANDed, an empty list does
 * not constrain. Identity values are compared exactly and never as patterns: a wildcard over
 * subjects or claims is how CI-token policies end up trusting forks.
 */
record SubjectMatcher(
    Set<String> users,
    Set<String> groups,
    Set<String> issuers,
    Set<Principal.Kind> kinds,
    Map<String, Set<String>> claims) {

  static final SubjectMatcher ANY = new SubjectMatcher(Set.of(), Set.of(), Set.of(), Set.of(), Map.of());

  boolean matches(Principal p) {
    if (!users.isEmpty() && !users.contains(p.subject()) && !users.contains(p.displayName())) return false;
    if (!groups.isEmpty() && !anyGroup(p)) return false;
    if (!issuers.isEmpty() && !issuers.contains(p.issuer())) return false;
    if (!kinds.isEmpty() && !kinds.contains(p.kind())) return false;
    for (Map.Entry<String, Set<String>> claim : claims.entrySet()) {
      if (!claimMatches(p.claims().get(claim.getKey()), claim.getValue())) return false;
    }
    return true;
  }

  private boolean anyGroup(Principal p) {
    // Loops, not streams: this runs for every rule on every statement.
    if (p.groups().size() < groups.size()) {
      for (String g : p.groups()) if (groups.contains(g)) return true;
    } else {
      for (String g : groups) if (p.groups().contains(g)) return true;
    }
    return false;
  }

  /** A list-valued claim (such as {@code amr}) matches when any element is one of the values. */
  private static boolean claimMatches(Object value, Set<String> accepted) {
    if (value == null) return false;
    if (value instanceof Collection<?> many) {
      for (Object v : many) if (v != null && accepted.contains(String.valueOf(v))) return true;
      return false;
    }
    return accepted.contains(String.valueOf(value));
  }
}
