package dev.gatehouse.postgres.sql;

import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Splits PostgreSQL query text into statements and classifies each one (kinds, objects touched,
 * functions called, flags), the way the server's own grammar reads it.
 *
 * <p>Contract: {@link #analyze(String)} never throws for bad input. Text that does not parse yields
 * exactly one statement (the whole text) flagged {@code UNCLASSIFIED}; empty, whitespace-only or
 * comment-only text yields no statement. Implementations are thread-safe and keep no per-call
 * state; native calls are short, but they pin a virtual thread's carrier while they run.
 *
 * <p>The statement-kind scheme, flags and the list of known-harmless functions are documented in
 * {@code postgres-sql/CLASSIFICATION.md}.
 */
public interface SqlClassifier {

  /** The longest text (in UTF-8) classified; longer ones are {@code UNCLASSIFIED}: 2 MiB. */
  int MAX_STATEMENT_BYTES = 2 * 1024 * 1024;

  /** Splits and classifies {@code sql}; never throws for bad input (see the type's contract). */
  Analysis analyze(String sql);

  /** Which engine classifies: {@code "libpg_query"} or {@code "fallback"}. */
  String name();

  /**
   * The best classifier this machine offers: libpg_query (PostgreSQL's grammar, through JNA) when
   * the native library loads, else the strict {@link FallbackClassifier}. Logs the choice once per
   * JVM. The result is not cached; wrap it in a {@link CachingClassifier} for the data path.
   */
  static SqlClassifier load() {
    SqlClassifier chosen;
    String reason;
    try {
      chosen = LibPgQueryClassifier.create();
      reason = "native library loaded";
    } catch (ClassifierException e) {
      chosen = fallback();
      reason = e.getMessage();
    }
    if (Loaded.LOGGED.compareAndSet(false, true)) {
      Logger log = LoggerFactory.getLogger(SqlClassifier.class);
      if (chosen instanceof FallbackClassifier) {
        log.warn("SQL classifier: fallback (only a fixed list of statement shapes is classified, the rest is unclassified): {}", reason);
      } else {
        log.info("SQL classifier: {} ({})", chosen.name(), reason);
      }
    }
    return chosen;
  }

  /**
   * Forces the strict fallback classifier, for tests and for operators who do not want the native
   * library in the process.
   */
  static SqlClassifier fallback() {
    return new FallbackClassifier();
  }

  /**
   * Whether {@code name} is a built-in function of {@code pg_catalog} that classification counts
   * as harmless (pure or read-only, reads no table it is not given): a call of any other function
   * is opaque code.
   */
  static boolean harmlessBuiltin(String name) {
    return Functions.HARMLESS.contains(name);
  }

  /**
   * {@code text} with every string literal replaced by {@code '***'} (from an unterminated one to the
   * end): what an audit may keep of SQL that was not classified.
   */
  static String redactAllStrings(String text) {
    return Redaction.allStrings(text);
  }

  /** Holder of the log-once latch; not part of the API. */
  final class Loaded {
    private static final AtomicBoolean LOGGED = new AtomicBoolean();

    private Loaded() {}
  }
}
