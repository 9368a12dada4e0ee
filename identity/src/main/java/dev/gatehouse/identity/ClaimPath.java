package dev.gatehouse.identity;

import java.util.Collection;
import java.util.Map;
import java.util.Optional;

/**
 * Finds claims by name: the literal name first (namespaced claims such as {@code
 * https://example.com/groups} contain dots), then, if absent, the name as a dotted path into nested
 * objects ({@code realm_access.roles}, Keycloak's role claim).
 */
final class ClaimPath {
  private ClaimPath() {}

  static Optional<Object> find(Map<String, Object> claims, String name) {
    Object direct = claims.get(name);
    if (direct != null) return Optional.of(direct);
    if (!name.contains(".")) return Optional.empty();
    Object current = claims;
    for (String part : name.split("\\.", -1)) {
      if (!(current instanceof Map<?, ?> map)) return Optional.empty();
      current = map.get(part);
      if (current == null) return Optional.empty();
    }
    return Optional.of(current);
  }

  /** A string, number or boolean claim rendered as text; lists and objects are not scalars. */
  static Optional<String> scalar(Map<String, Object> claims, String name) {
    return find(claims, name).flatMap(value -> switch (value) {
      case String s -> Optional.of(s);
      case Number n -> Optional.of(n.toString());
      case Boolean b -> Optional.of(b.toString());
      default -> Optional.empty();
    });
  }

  /** Whether the claim equals {@code expected} (scalars) or contains it (lists). */
  static boolean hasValue(Map<String, Object> claims, String name, String expected) {
    Optional<Object> value = find(claims, name);
    if (value.isEmpty()) return false;
    if (value.get() instanceof Collection<?> list) {
      return list.stream().anyMatch(element -> element != null && expected.equals(element.toString())
          && !(element instanceof Map<?, ?>) && !(element instanceof Collection<?>));
    }
    return scalar(claims, name).map(expected::equals).orElse(false);
  }
}
