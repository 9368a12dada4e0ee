package dev.gatehouse.core;

import java.util.Map;
import java.util.Objects;

/**
 * A registered target, as policy sees it. How to reach it and with which credentials is the
 * protocol module's configuration; here only what rules match on.
 *
 * @param name unique name, what clients select (the database name for PostgreSQL)
 * @param type the protocol family
 * @param address host:port of the target, for audit and display
 * @param tags free-form labels rules can match ({@code env: prod})
 */
public record Resource(String name, ResourceType type, String address, Map<String, String> tags) {
  public Resource {
    Objects.requireNonNull(name, "name == null");
    Objects.requireNonNull(type, "type == null");
    Objects.requireNonNull(address, "address == null");
    tags = Map.copyOf(tags);
    if (name.isBlank()) throw new IllegalArgumentException("name is blank");
  }
}
