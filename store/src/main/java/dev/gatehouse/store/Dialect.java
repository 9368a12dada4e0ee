package dev.gatehouse.store;

/** The databases the store runs on; each has its own migration directory next to the common one. */
public enum Dialect {
  /** The embedded default: one file, WAL mode. */
  SQLITE("sqlite"),
  /** Production and clusters. */
  POSTGRESQL("postgresql");

  final String migrations;

  Dialect(String migrations) {
    this.migrations = migrations;
  }
}
