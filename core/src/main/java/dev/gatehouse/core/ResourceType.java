package dev.gatehouse.core;

/** The kinds of target Gatehouse fronts. */
public enum ResourceType {
  POSTGRES,
  MYSQL,
  SSH,
  HTTP,
  KUBERNETES
}
