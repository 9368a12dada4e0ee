package dev.gatehouse.postgres.sql;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A bounded least-recently-used cache in front of another classifier, keyed by the exact query
 * text. Bounded twice: by entry count, and by an estimate of the characters it holds; texts longer
 * than {@code maxTextChars} are never cached (they are rare and would evict many useful entries).
 *
 * <p>Thread-safe. The lock is held only for map operations, never while classifying, so two
 * threads may classify the same new text at once; both results are equal and the last one wins.
 */
public final class CachingClassifier implements SqlClassifier {
  /** Default number of entries. */
  public static final int DEFAULT_MAX_ENTRIES = 10_000;
  /** Default longest text cached, in chars (64 KiB). */
  public static final int DEFAULT_MAX_TEXT_CHARS = 64 * 1024;
  /** Default bound on the characters held by all entries together (32 Mi chars, about 64 MiB). */
  public static final long DEFAULT_MAX_TOTAL_CHARS = 32L * 1024 * 1024;

  private final SqlClassifier delegate;
  private final int maxEntries;
  private final int maxTextChars;
  private final long maxTotalChars;
  private final ReentrantLock lock = new ReentrantLock();
  private final LinkedHashMap<String, Analysis> entries = new LinkedHashMap<>(256, 0.75f, true);
  private long totalChars;

  public CachingClassifier(SqlClassifier delegate) {
    this(delegate, DEFAULT_MAX_ENTRIES, DEFAULT_MAX_TEXT_CHARS, DEFAULT_MAX_TOTAL_CHARS);
  }

  public CachingClassifier(SqlClassifier delegate, int maxEntries) {
    this(delegate, maxEntries, DEFAULT_MAX_TEXT_CHARS, DEFAULT_MAX_TOTAL_CHARS);
  }

  public CachingClassifier(SqlClassifier delegate, int maxEntries, int maxTextChars, long maxTotalChars) {
    this.delegate = Objects.requireNonNull(delegate, "delegate == null");
    if (maxEntries < 0) throw new IllegalArgumentException("maxEntries < 0");
    if (maxTextChars < 0) throw new IllegalArgumentException("maxTextChars < 0");
    if (maxTotalChars < 0) throw new IllegalArgumentException("maxTotalChars < 0");
    this.maxEntries = maxEntries;
    this.maxTextChars = maxTextChars;
    this.maxTotalChars = maxTotalChars;
  }

  @Override
  public Analysis analyze(String sql) {
    Objects.requireNonNull(sql, "sql == null");
    if (sql.length() > maxTextChars || maxEntries == 0) {
      return delegate.analyze(sql);
    }
    lock.lock();
    try {
      Analysis hit = entries.get(sql);
      if (hit != null) return hit;
    } finally {
      lock.unlock();
    }
    Analysis fresh = delegate.analyze(sql);
    long weight = weight(sql, fresh);
    if (weight > maxTotalChars) return fresh;
    lock.lock();
    try {
      Analysis previous = entries.put(sql, fresh);
      if (previous != null) totalChars -= weight(sql, previous);
      totalChars += weight;
      Iterator<Map.Entry<String, Analysis>> eldest = entries.entrySet().iterator();
      while ((entries.size() > maxEntries || totalChars > maxTotalChars) && eldest.hasNext()) {
        Map.Entry<String, Analysis> e = eldest.next();
        totalChars -= weight(e.getKey(), e.getValue());
        eldest.remove();
      }
    } finally {
      lock.unlock();
    }
    return fresh;
  }

  /** Number of cached texts (for metrics and tests). */
  public int size() {
    lock.lock();
    try {
      return entries.size();
    } finally {
      lock.unlock();
    }
  }

  @Override
  public String name() {
    return delegate.name();
  }

  // The key plus every statement's text and redacted text; the classification itself is small.
  private static long weight(String sql, Analysis analysis) {
    long w = sql.length() + 64;
    for (ClassifiedStatement s : analysis.statements()) {
      w += s.text().length() + s.redactedText().length() + 64;
    }
    return w;
  }

  @Override
  public String toString() {
    return "CachingClassifier[" + delegate.name() + ", maxEntries=" + maxEntries + "]";
  }
}
