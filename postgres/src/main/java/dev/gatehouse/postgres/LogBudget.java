package dev.gatehouse.postgres;

/**
 * A number of log lines per second, for what clients that have not signed in can make Gatehouse
 * log (refused connections, broken startups, cancel requests): a flood of them must not become a
 * flood of log lines that fills the disk. Lines over the budget are counted, and the next line
 * logged says how many were left out.
 *
 * <p>Thread-safe.
 */
final class LogBudget {
  private final int perSecond;
  private final java.util.function.LongSupplier nanoTime;
  private long windowStart;
  private int used;
  private long leftOut;

  LogBudget(int perSecond) {
    this(perSecond, System::nanoTime);
  }

  /** As above, on another clock (tests). */
  LogBudget(int perSecond, java.util.function.LongSupplier nanoTime) {
    if (perSecond < 1) throw new IllegalArgumentException("perSecond < 1");
    this.perSecond = perSecond;
    this.nanoTime = nanoTime;
    this.windowStart = nanoTime.getAsLong();
  }

  /**
   * Whether a line may be logged now: null when it may not (it is counted), else what to append to
   * it: empty, or how many lines were left out since the last one logged.
   */
  synchronized String admit() {
    long now = nanoTime.getAsLong();
    if (now - windowStart >= 1_000_000_000L) {
      windowStart = now;
      used = 0;
    }
    if (used >= perSecond) {
      leftOut++;
      return null;
    }
    used++;
    if (leftOut == 0) return "";
    String note = " (" + leftOut + " similar lines left out of the log)";
    leftOut = 0;
    return note;
  }
}
