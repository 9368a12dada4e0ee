package dev.gatehouse.core;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * How an executed (or refused) command ended.
 *
 * @param rows rows returned or affected, -1 when unknown
 * @param errorCode the target's native error code (SQLSTATE, MySQL code, exit status), if any
 * @param duration from forwarding to completion
 * @param notes what else the audit should say of it, by name: which rule of the gateway's own
 *     refused it and why ({@code rule}, {@code reason}), or withheld its rows ({@code withheld_by},
 *     {@code reason}); empty for most
 */
public record Outcome(Status status, long rows, Optional<String> errorCode, Duration duration, java.util.Map<String, String> notes) {
  public enum Status {
    /** The target completed it. */
    OK,
    /** The target reported an error. */
    ERROR,
    /** Gatehouse refused it; the target never saw it. */
    REFUSED,
    /**
     * It did not take effect, and Gatehouse knows it: it was never forwarded (its session ended
     * first), the target answered its message without running it, the target ended the session
     * with an error (its transaction rolled back) before completing it, or it was a commit that the
     * target answered by rolling back (the transaction had failed).
     */
    ABORTED,
    /**
     * Decided (at Bind, where PostgreSQL plans it) but never executed: its portal ended first (its
     * transaction ended, it was closed or replaced, or the session ended), so it returned and changed
     * nothing.
     */
    UNEXECUTED,
    /**
     * Forwarded, but the session ended before the target answered (the client left, the session
     * expired or was revoked, the gateway stopped, the connection to the target broke): Gatehouse
     * cancelled it at the target and closed the connection, so an open transaction was rolled back,
     * but it may have taken effect (a statement that completed, or committed, before the cancel).
     */
    UNKNOWN
  }

  public Outcome {
    Objects.requireNonNull(status, "status == null");
    Objects.requireNonNull(errorCode, "errorCode == null");
    Objects.requireNonNull(duration, "duration == null");
    notes = java.util.Map.copyOf(notes);
  }

  public Outcome(Status status, long rows, Optional<String> errorCode, Duration duration) {
    this(status, rows, errorCode, duration, java.util.Map.of());
  }

  public static Outcome ok(long rows, Duration duration) {
    return new Outcome(Status.OK, rows, Optional.empty(), duration);
  }

  public static Outcome error(String code, Duration duration) {
    return new Outcome(Status.ERROR, -1, Optional.of(code), duration);
  }
}
