package dev.gatehouse.identity;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Adds {@code group} to a principal whose verified claims match every entry of {@code when}: a
 * string claim equal to the value, or a list claim containing it. Matching is exact (no patterns, so
 * no expression an attacker's claim could make slow, and no prefix that a fork named {@code
 * acme-evil} could satisfy for {@code acme}). A claim name may be a dotted path into nested objects
 * ({@code realm_access.roles}) when no claim has the literal name.
 *
 * <p>Example for CI tokens: {@code repository == "acme/api"} and {@code ref ==
 * "refs/heads/main"} → group {@code ci-api-deploy}.
 *
 * @param when claim name → required value; not empty
 * @param group the group granted when all match
 */
public record ClaimMapping(Map<String, String> when, String group) {
  public ClaimMapping {
    Objects.requireNonNull(when, "when == null");
    Objects.requireNonNull(group, "group == null");
    if (when.isEmpty()) throw new IdentityException("claim mapping for group '" + group + "' has no condition");
    if (group.isBlank()) throw new IdentityException("claim mapping " + when + " names a blank group");
    for (var entry : when.entrySet()) {
      if (entry.getKey() == null || entry.getKey().isBlank() || entry.getValue() == null) {
        throw new IdentityException("claim mapping for group '" + group + "' has a blank claim name or a missing value");
      }
    }
    when = Map.copyOf(when);
  }

  /** One condition: {@code claim == value} → {@code group}. */
  public static ClaimMapping of(String claim, String value, String group) {
    return new ClaimMapping(Map.of(claim, value), group);
  }

  /** Two conditions, both required. */
  public static ClaimMapping of(String claim, String value, String otherClaim, String otherValue, String group) {
    Map<String, String> when = new LinkedHashMap<>();
    when.put(claim, value);
    when.put(otherClaim, otherValue);
    return new ClaimMapping(when, group);
  }

  /** Whether every condition holds for {@code claims}. */
  boolean matches(Map<String, Object> claims) {
    for (var entry : when.entrySet()) {
      if (!ClaimPath.hasValue(claims, entry.getKey(), entry.getValue())) return false;
    }
    return true;
  }
}
