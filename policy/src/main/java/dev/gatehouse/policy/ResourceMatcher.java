package dev.gatehouse.policy;

import dev.gatehouse.core.Resource;
import dev.gatehouse.core.ResourceType;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Which resources a rule is about: names (globs), types, and tags (each listed tag must be present
 * with a value matching one of its globs). Lists are ORs, kinds of matcher are ANDed, empty does
 * not constrain.
 */
record ResourceMatcher(List<Glob> names, Set<ResourceType> types, Map<String, List<Glob>> tags) {
  static final ResourceMatcher ANY = new ResourceMatcher(List.of(), Set.of(), Map.of());

  boolean matches(Resource r, Polarity polarity) {
    boolean ignoreCase = polarity.restrictive();
    if (!names.isEmpty() && !any(names, r.name(), ignoreCase)) return false;
    if (!types.isEmpty() && !types.contains(r.type())) return false;
    for (Map.Entry<String, List<Glob>> tag : tags.entrySet()) {
      String value = r.tags().get(tag.getKey());
      if (value == null || !any(tag.getValue(), value, ignoreCase)) return false;
    }
    return true;
  }

  private static boolean any(List<Glob> globs, String text, boolean ignoreCase) {
    for (Glob g : globs) if (g.matches(text, ignoreCase)) return true;
    return false;
  }
}
