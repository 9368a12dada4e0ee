package dev.gatehouse.postgres;

import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Limits how long a startup may wait for a peer without a socket timeout. A timed read (or connect)
 * makes the JDK switch the socket to non-blocking mode for good, so every later read of the
 * relayed session would cost a failed {@code read}, a {@code poll} and a second {@code read}
 * (bench/README.md: {@code poll} was 9% of the gateway's CPU samples under pgbench, and blocking
 * sockets cut the relay's CPU per row of a large result by 16-22%). Instead, a
 * {@link Watch} runs an action at the deadline on one shared daemon thread (shutting the socket's
 * input, or closing it), which ends the blocked call; the caller then asks {@link Watch#fired()}
 * to tell a timeout from any other failure.
 *
 * <p>Thread-safe.
 */
final class Deadlines {
  private static final ScheduledThreadPoolExecutor TIMER = timer();

  private Deadlines() {}

  /** Runs {@code onExpiry} after {@code delay} unless the watch is disarmed first (at once when not positive). */
  static Watch after(Duration delay, Runnable onExpiry) {
    Watch watch = new Watch(onExpiry);
    long nanos = Math.max(0, delay.toNanos());
    watch.future = TIMER.schedule(watch::fire, nanos, TimeUnit.NANOSECONDS);
    return watch;
  }

  /** A deadline being watched, until {@link #disarm()}. */
  static final class Watch {
    private final Runnable onExpiry;
    private final AtomicBoolean done = new AtomicBoolean();
    private volatile boolean fired;
    private volatile ScheduledFuture<?> future;

    private Watch(Runnable onExpiry) {
      this.onExpiry = onExpiry;
    }

    private void fire() {
      if (!done.compareAndSet(false, true)) return;
      fired = true;
      onExpiry.run();
    }

    /** Whether the deadline passed and the action ran (or is running). */
    boolean fired() {
      return fired;
    }

    /**
     * Disarms the watch. Returns true when it was disarmed in time, false when the deadline had
     * already fired (the action ran: the socket is no longer usable).
     */
    boolean disarm() {
      if (!done.compareAndSet(false, true)) return !fired;
      ScheduledFuture<?> f = future;
      if (f != null) f.cancel(false);
      return true;
    }
  }

  private static ScheduledThreadPoolExecutor timer() {
    ScheduledThreadPoolExecutor t = new ScheduledThreadPoolExecutor(1,
        Thread.ofPlatform().daemon().name("pg-deadlines").factory());
    t.setRemoveOnCancelPolicy(true); // a disarmed watch leaves nothing behind
    return t;
  }
}
