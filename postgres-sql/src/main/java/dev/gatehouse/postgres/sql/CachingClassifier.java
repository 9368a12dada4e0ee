package dev.gatehouse.postgres.sql;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A bounded least-recently-used cache in front of another classifier. Bounded twice: by entry
 * count, and by an estimate of the characters it holds; texts longer than {@code maxTextChars} are
 * never cached (they are rare and would evict many useful entries).
 *
 * <p>Two kinds of entry share the bounds. A text is first looked up as is. When the delegate is
 * {@link LibPgQueryClassifier}, a text that holds numeric literals is also looked up by its
 * {@link Template} (the text with each number replaced by a placeholder), so that statements sent
 * with their values inline ({@code ... WHERE aid = 48213}, new numbers every time, as in pgbench's
 * simple protocol) are parsed twice per shape: the first text of a shape is parsed as any other
 * (most shapes never come back, and proving a template costs a walk of the tree), the second one
 * with what proving a template takes. A template is stored only when that parse proves that no
 * number can change the classification ({@link TemplateShape} states the rule); the
 * {@link Analysis} a template gives is the one a full parse of the current text would give, its
 * statement texts cut from the current text. The text of a full parse is cached as is too; a text
 * answered from a template is not (a flood of them evicts nothing).
 *
 * <p>Thread-safe. The lock is held only for map operations, never while lexing or classifying, so
 * two threads may classify the same new text at once; both results are equal and the last one wins.
 */
public final class CachingClassifier implements SqlClassifier {
  /** Default number of entries. */
  public static final int DEFAULT_MAX_ENTRIES = 10_000;
  /** Default longest text cached, in chars (64 KiB). */
  public static final int DEFAULT_MAX_TEXT_CHARS = 64 * 1024;
  /** Default bound on the characters held by all entries together (32 Mi chars, about 64 MiB). */
  public static final long DEFAULT_MAX_TOTAL_CHARS = 32L * 1024 * 1024;

  private final SqlClassifier delegate;
  /** The delegate when templates apply to it, else null. */
  private final LibPgQueryClassifier templating;
  private final int maxEntries;
  private final int maxTextChars;
  private final long maxTotalChars;
  private final ReentrantLock lock = new ReentrantLock();
  /** Keys: a {@code String} (exact text, value {@link Analysis}) or a {@link TemplateKey} (value {@link TemplateShape} or {@link Mark}). */
  private final LinkedHashMap<Object, Entry> entries = new LinkedHashMap<>(256, 0.75f, true);
  private long totalChars;
  private final LongAdder templateHits = new LongAdder();

  /** What a template key holds until (or instead of) a {@link TemplateShape}. */
  private enum Mark {
    /** One text of this shape was parsed. */
    SEEN_ONCE,
    /** The second text's parse proved no template: texts of this shape are parsed in full. */
    NO_TEMPLATE
  }

  /** A template's key, a type apart from exact texts so that the two can never be confused. */
  private record TemplateKey(String key) {}

  private record Entry(Object value, long weight) {}

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
    this.templating = delegate instanceof LibPgQueryClassifier l ? l : null;
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
    Entry hit = get(sql);
    if (hit != null) return (Analysis) hit.value();
    // Every text of a template must stay under the parser's size limit, as the first one was.
    boolean templated = templating != null && (long) sql.length() * 3 <= LibPgQueryClassifier.MAX_BYTES;
    Template template = templated ? Template.of(sql).orElse(null) : null;
    if (template == null) {
      Analysis fresh = delegate.analyze(sql);
      put(sql, fresh, weight(sql, fresh));
      return fresh;
    }
    TemplateKey key = new TemplateKey(template.key());
    Entry shaped = get(key);
    Object state = shaped == null ? null : shaped.value();
    if (state instanceof TemplateShape shape) {
      templateHits.increment();
      return shape.apply(sql, template);
    }
    if (state != Mark.SEEN_ONCE) {
      // The first text of its shape (most shapes never come back), or a shape proved to have no
      // template: a plain parse, and a mark so that a second text of the shape tries to prove one.
      Analysis fresh = delegate.analyze(sql);
      put(sql, fresh, weight(sql, fresh));
      if (state == null) put(key, Mark.SEEN_ONCE, key.key().length() + 64L);
      return fresh;
    }
    LibPgQueryClassifier.Parsed parsed = templating.parse(sql, true);
    Optional<TemplateShape> shape = TemplateShape.of(sql, template, parsed);
    if (shape.isPresent()) {
      put(key, shape.get(), shape.get().weight());
    } else {
      put(key, Mark.NO_TEMPLATE, key.key().length() + 64L);
    }
    // The text itself is kept too, so that repeating it costs a lookup; texts answered from the
    // template later are not, so a flood of them cannot evict anything.
    put(sql, parsed.analysis(), weight(sql, parsed.analysis()));
    return parsed.analysis();
  }

  private Entry get(Object key) {
    lock.lock();
    try {
      return entries.get(key);
    } finally {
      lock.unlock();
    }
  }

  private void put(Object key, Object value, long weight) {
    if (weight > maxTotalChars) return;
    lock.lock();
    try {
      Entry previous = entries.put(key, new Entry(value, weight));
      if (previous != null) totalChars -= previous.weight();
      totalChars += weight;
      Iterator<Map.Entry<Object, Entry>> eldest = entries.entrySet().iterator();
      while ((entries.size() > maxEntries || totalChars > maxTotalChars) && eldest.hasNext()) {
        Map.Entry<Object, Entry> e = eldest.next();
        totalChars -= e.getValue().weight();
        eldest.remove();
      }
    } finally {
      lock.unlock();
    }
  }

  /** Number of cached texts and templates (for metrics and tests). */
  public int size() {
    lock.lock();
    try {
      return entries.size();
    } finally {
      lock.unlock();
    }
  }

  /** Number of texts answered from a template (for metrics and tests). */
  public long templateHits() {
    return templateHits.sum();
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
