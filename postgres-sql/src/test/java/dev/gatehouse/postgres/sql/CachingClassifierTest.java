package dev.gatehouse.postgres.sql;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class CachingClassifierTest {
  /** A real classifier that counts how often it is asked. */
  private static final class Counting implements SqlClassifier {
    final AtomicInteger calls = new AtomicInteger();
    final SqlClassifier inner = new FallbackClassifier();

    @Override
    public Analysis analyze(String sql) {
      calls.incrementAndGet();
      return inner.analyze(sql);
    }

    @Override
    public String name() {
      return inner.name();
    }
  }

  @Test
  void aRepeatedTextIsClassifiedOnce() {
    Counting counting = new Counting();
    CachingClassifier cache = new CachingClassifier(counting);
    Analysis first = cache.analyze("SELECT a FROM t WHERE id = $1");
    Analysis second = cache.analyze("SELECT a FROM t WHERE id = $1");
    assertThat(second).isSameAs(first);
    assertThat(counting.calls).hasValue(1);
    assertThat(cache.name()).isEqualTo("fallback");
  }

  @Test
  void theLeastRecentlyUsedEntryIsEvictedBeyondTheEntryLimit() {
    Counting counting = new Counting();
    CachingClassifier cache = new CachingClassifier(counting, 2);
    cache.analyze("SELECT 1");
    cache.analyze("SELECT 2");
    cache.analyze("SELECT 1"); // 1 is now more recent than 2
    cache.analyze("SELECT 3"); // evicts 2
    assertThat(cache.size()).isEqualTo(2);
    cache.analyze("SELECT 1");
    assertThat(counting.calls).hasValue(3);
    cache.analyze("SELECT 2");
    assertThat(counting.calls).hasValue(4);
  }

  @Test
  void textsOverTheSizeLimitAreNeverCached() {
    Counting counting = new Counting();
    CachingClassifier cache = new CachingClassifier(counting, 100, 16, 1 << 20);
    String big = "SELECT a FROM some_long_table_name";
    cache.analyze(big);
    cache.analyze(big);
    assertThat(counting.calls).hasValue(2);
    assertThat(cache.size()).isZero();
  }

  @Test
  void theTotalSizeBoundEvictsOldEntries() {
    Counting counting = new Counting();
    CachingClassifier cache = new CachingClassifier(counting, 1000, 1000, 1200);
    for (int i = 0; i < 50; i++) cache.analyze("SELECT a FROM t WHERE id = " + i);
    assertThat(cache.size()).isLessThan(50).isGreaterThan(0);
  }
}
