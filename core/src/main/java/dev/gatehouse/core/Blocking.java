package dev.gatehouse.core;

/**
 * Tells the thread that runs a piece of code that the code is about to wait: for a lock held
 * elsewhere, a slow disk, a store's commit, a peer's bytes. A protocol relay that serves many
 * sessions on a few event-loop threads implements {@link Aware} on those threads and, told that
 * one of them is about to wait, hands its loop to another thread first, so the wait stalls one
 * session instead of every session of the loop.
 *
 * <p>Call {@link #aboutToBlock()} right before a wait that may last longer than a few
 * microseconds and that is not certain to end without other sessions making progress. On any
 * other thread it does nothing. Calling it when no wait follows costs a hand-over, never
 * correctness.
 */
public final class Blocking {
  private Blocking() {}

  /** A thread that wants to hear when the code it runs is about to wait. */
  public interface Aware {
    /** Called on this thread, by the code it runs, right before that code waits. */
    void aboutToBlock();
  }

  /** Tells the current thread, if it listens, that the code it runs is about to wait. */
  public static void aboutToBlock() {
    if (Thread.currentThread() instanceof Aware aware) aware.aboutToBlock();
  }
}
