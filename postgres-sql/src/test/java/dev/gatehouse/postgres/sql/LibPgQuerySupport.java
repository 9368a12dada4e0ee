package dev.gatehouse.postgres.sql;

import static org.junit.jupiter.api.Assertions.fail;

import org.junit.jupiter.api.Assumptions;

/**
 * Gives tests the libpg_query classifier. Fails (never skips) when the environment variable CI is
 * set or when a library file is installed but does not load; skips, saying why, only when the
 * library is truly absent on a developer machine.
 */
final class LibPgQuerySupport {
  private LibPgQuerySupport() {}

  static LibPgQueryClassifier classifier() {
    try {
      return LibPgQueryClassifier.create();
    } catch (ClassifierException e) {
      if (System.getenv("CI") != null) {
        fail("CI is set and libpg_query could not be loaded (install libpg-query-dev): " + e.getMessage());
      }
      if (LibPgQueryClassifier.libraryFilePresent()) {
        fail("libpg_query is installed but could not be loaded: " + e.getMessage());
      }
      Assumptions.abort("libpg_query is not installed here (Debian: apt-get install libpg-query-dev); "
          + "libpg_query tests skipped. They run in CI.");
      throw new AssertionError("unreachable");
    }
  }
}
