package dev.gatehouse.identity;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Makes verified claims safe to hand out in a {@link dev.gatehouse.core.Principal}: a deep,
 * unmodifiable copy without JSON nulls (immutable collections refuse them), with dates as {@link
 * java.time.Instant}s, so no holder of a principal can change what another one sees.
 */
final class ClaimValues {
  private ClaimValues() {}

  static Map<String, Object> freeze(Map<String, Object> claims) {
    Map<String, Object> copy = new LinkedHashMap<>();
    for (var entry : claims.entrySet()) {
      Object value = freezeValue(entry.getValue());
      if (entry.getKey() != null && value != null) copy.put(entry.getKey(), value);
    }
    return Map.copyOf(copy);
  }

  private static Object freezeValue(Object value) {
    return switch (value) {
      case null -> null;
      case Date date -> date.toInstant();
      case Map<?, ?> map -> {
        Map<String, Object> copy = new LinkedHashMap<>();
        for (var entry : map.entrySet()) {
          Object frozen = freezeValue(entry.getValue());
          if (entry.getKey() != null && frozen != null) copy.put(entry.getKey().toString(), frozen);
        }
        yield Map.copyOf(copy);
      }
      case Collection<?> list -> {
        List<Object> copy = new ArrayList<>();
        for (Object element : list) {
          Object frozen = freezeValue(element);
          if (frozen != null) copy.add(frozen);
        }
        yield List.copyOf(copy);
      }
      default -> value; // String, Number, Boolean: immutable
    };
  }
}
