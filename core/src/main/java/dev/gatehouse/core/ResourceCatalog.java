package dev.gatehouse.core;

import java.util.Optional;

/** Port: the registered resources, by the name clients use to select them. */
public interface ResourceCatalog {
  Optional<Resource> find(String name);
}
