package dev.gatehouse.postgres;

import dev.gatehouse.core.Checkpoint;
import dev.gatehouse.core.Outcome;
import dev.gatehouse.core.Verdict;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * One allowed execution forwarded to the target: a statement of a simple Query, an Execute of a
 * portal (with its continuations after PortalSuspended), or a FunctionCall. Holds the verdicts it
 * was forwarded under (normally one) and completes them exactly once, whichever thread and path
 * gets there first: the result, an error, the pipeline being skipped, or the connection ending.
 *
 * <p>Thread-safe: created by the client→backend thread, completed by either thread.
 */
final class Execution {
  private final List<Verdict> verdicts;
  private final Optional<StatementMasking> masking;
  private final boolean schemaChange;
  private final long startNanos = System.nanoTime();
  /** Completed (set once, by compare-and-set); fields with VarHandles rather than two atomic objects per execution. */
  private volatile boolean done;
  /** DataRows counted so far. */
  private volatile long rows;
  /** Suspended at a row limit, no further Execute forwarded since ({@link #suspendedAnswered}). */
  private volatile boolean suspended;
  /** Its portal left the session's state while it ran ({@link #portalGone()}). */
  private volatile boolean portalGone;
  /**
   * Executes of it forwarded and not answered yet: a PortalSuspended answers one, and only the
   * last one's says it waits for another Execute (review round 25: a second Execute in the same
   * batch failed with 22012, and the first one's PortalSuspended had recorded it OK).
   */
  private final java.util.concurrent.atomic.AtomicInteger unanswered = new java.util.concurrent.atomic.AtomicInteger();
  /** Run when the target completes it without error (a DECLARE's cursor is then known); null for none. */
  private volatile Runnable onOk;

  private static final VarHandle DONE;
  private static final VarHandle ROWS;

  static {
    try {
      MethodHandles.Lookup lookup = MethodHandles.lookup();
      DONE = lookup.findVarHandle(Execution.class, "done", boolean.class);
      ROWS = lookup.findVarHandle(Execution.class, "rows", long.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  Execution(List<Verdict> verdicts) {
    this(verdicts, Optional.empty(), false);
  }

  /**
   * @param masking how its results are masked; empty: relayed untouched
   * @param schemaChange whether it may change the schema (DDL): column origins must be looked up again
   */
  Execution(List<Verdict> verdicts, Optional<StatementMasking> masking, boolean schemaChange) {
    this.verdicts = List.copyOf(verdicts);
    this.masking = masking;
    this.schemaChange = schemaChange;
  }

  /** The chars of statement text its verdicts hold. */
  long chars() {
    long n = 0;
    for (Verdict v : verdicts) n += v.command().text().length();
    return n;
  }

  Optional<StatementMasking> masking() {
    return masking;
  }

  boolean schemaChange() {
    return schemaChange;
  }

  List<Verdict> verdicts() {
    return verdicts;
  }

  /** Runs {@code action} if and when the target completes this execution without error. Before forwarding. */
  void whenOk(Runnable action) {
    onOk = action;
  }

  boolean done() {
    return done;
  }

  /** DataRows of this execution passed by; counted so batches fetched across PortalSuspended add up. */
  void rowsSeen(long count) {
    ROWS.getAndAdd(this, count);
  }

  /** The target completed it; {@code tagRows} from the CommandComplete tag, when it has a count. */
  void completeOk(Checkpoint checkpoint, Optional<Long> tagRows) {
    if (!finish(checkpoint, Outcome.Status.OK, reportedRows(tagRows), Optional.empty())) return;
    Runnable action = onOk;
    if (action != null) action.run();
  }

  /**
   * The target completed it with the tag ROLLBACK: what a ROLLBACK is answered with, and also a
   * COMMIT (END) or PREPARE TRANSACTION of a transaction that had already failed, which then
   * committed nothing: such a one is ABORTED, anything else OK.
   */
  void completeRolledBack(Checkpoint checkpoint, Optional<Long> tagRows) {
    for (Verdict v : verdicts) {
      List<String> kinds = v.command().classification().kinds();
      if (kinds.contains("COMMIT") || kinds.contains("PREPARE TRANSACTION")) {
        finish(checkpoint, Outcome.Status.ABORTED, -1, Optional.empty());
        return;
      }
    }
    completeOk(checkpoint, tagRows);
  }

  /** The target reported an error, or skipped it because an earlier message of its batch failed. */
  void completeError(Checkpoint checkpoint, String sqlstate) {
    finish(checkpoint, Outcome.Status.ERROR, -1, Optional.of(sqlstate));
  }

  /** Gatehouse did not forward it after all (another statement of its query was denied). */
  void completeRefused(Checkpoint checkpoint) {
    finish(checkpoint, Outcome.Status.REFUSED, -1, Optional.empty());
  }

  /**
   * Gatehouse did not forward it after all, refused by a rule of its own that only the result's
   * shape could decide (masking's, once a Describe told the columns): the client got {@code 42501},
   * and the audit names the rule and why (review round 45: an outcome REFUSED named neither).
   */
  void completeRefused(Checkpoint checkpoint, String rule, String reason) {
    finish(checkpoint, Outcome.Status.REFUSED, -1, Optional.of(Replies.INSUFFICIENT_PRIVILEGE),
        java.util.Map.of("rule", rule, "reason", reason));
  }

  /**
   * The target completed it, and Gatehouse withheld its rows from the client, who got {@code 42501}
   * instead (a column masking refuses showed in the result): OK with the target's count, and the
   * masking rule and why (review round 45).
   */
  void completeWithheld(Checkpoint checkpoint, Optional<Long> tagRows, String rule, String reason) {
    finish(checkpoint, Outcome.Status.OK, reportedRows(tagRows), Optional.empty(), java.util.Map.of("withheld_by", rule, "reason", reason));
  }

  /** The rows of a completed execution: its CommandComplete tag's count, or the DataRows counted when more or without one. */
  private long reportedRows(Optional<Long> tagRows) {
    long counted = rows;
    return tagRows.isPresent() ? Math.max(tagRows.get(), counted) : counted > 0 ? counted : -1L;
  }

  /** Bound but never executed: its portal ended first. */
  void completeUnexecuted(Checkpoint checkpoint) {
    finish(checkpoint, Outcome.Status.UNEXECUTED, 0, Optional.empty());
  }

  /**
   * Its portal ended (its transaction ended, it was closed, the session ended) without the target
   * completing it: never executed, or suspended by an Execute's row limit and not fetched to the
   * end. That one ran, so it is OK (red-team round 18b: such a portal had no outcome at all), with
   * {@link #endedRows the rows the client received}.
   */
  void portalEnded(Checkpoint checkpoint) {
    if (suspended) finish(checkpoint, Outcome.Status.OK, endedRows(), Optional.empty());
    else completeUnexecuted(checkpoint);
  }

  /**
   * The row count of a portal that ended before the target completed it: the rows it sent the client
   * (review round 45: a reader who stopped one row short of the end had the rows it read recorded
   * as -1, unknown); -1 for a write with RETURNING, which wrote all its rows at its first Execute,
   * however many the client fetched.
   */
  private long endedRows() {
    for (Verdict v : verdicts) {
      if (v.command().classification().has(dev.gatehouse.core.CommandFlag.DATA_MODIFYING)) return -1;
    }
    return rows;
  }

  /**
   * The target suspended it at an Execute's row limit (backend→client thread). If its portal has
   * left the session's state already (closed, or replaced by a Bind of its name, in the same batch
   * as the Execute, before this answer came), no one will fetch it again nor see it end: it is
   * settled here, as {@link #portalEnded}.
   */
  void suspendedAnswered(Checkpoint checkpoint) {
    if (unanswered.decrementAndGet() > 0) return; // a later Execute of it is still running
    suspended = true;
    if (portalGone) finish(checkpoint, Outcome.Status.OK, endedRows(), Optional.empty());
  }

  /** An Execute of it is forwarded (client→target thread): it runs until the target answers that. */
  void executeForwarded() {
    unanswered.incrementAndGet();
    suspended = false;
  }

  /**
   * Its portal left the session's state (under the state's lock): closed, replaced by a Bind of its
   * name, its transaction or the session ended. Returns whether it is suspended now, and so must be
   * settled by the caller ({@link #portalEnded}); otherwise the target's answer to its Execute,
   * still to come, settles it ({@link #suspendedAnswered}, or a result or an error). Red-team round
   * 24: a Close in the same batch as the Execute dropped the execution before its PortalSuspended
   * came, and it never got an outcome. One of the two sides sees the other's write (both volatile),
   * and {@link #finish} completes it once.
   */
  boolean portalGone() {
    portalGone = true;
    return suspended;
  }

  boolean suspended() {
    return suspended;
  }

  /**
   * It did not take effect: never forwarded, answered by the target without being run, or the
   * target ended the session with an error (rolling its transaction back) before completing it.
   */
  void completeAborted(Checkpoint checkpoint) {
    finish(checkpoint, Outcome.Status.ABORTED, -1, Optional.empty());
  }

  /**
   * Forwarded, and the session ended before the target answered: Gatehouse cancelled it and closed
   * the connection, but cannot know whether it (or its commit) completed first.
   */
  void completeUnknown(Checkpoint checkpoint) {
    finish(checkpoint, Outcome.Status.UNKNOWN, -1, Optional.empty());
  }

  /** Completes it once; false when it was completed already. */
  private boolean finish(Checkpoint checkpoint, Outcome.Status status, long rowCount, Optional<String> code) {
    return finish(checkpoint, status, rowCount, code, java.util.Map.of());
  }

  private boolean finish(Checkpoint checkpoint, Outcome.Status status, long rowCount, Optional<String> code,
      java.util.Map<String, String> notes) {
    if (!DONE.compareAndSet(this, false, true)) return false;
    Outcome outcome = new Outcome(status, rowCount, code, Duration.ofNanos(System.nanoTime() - startNanos), notes);
    for (Verdict verdict : verdicts) {
      try {
        checkpoint.complete(verdict, outcome);
      } catch (RuntimeException e) {
        // The outcome event is best effort (its decision event is already durable); the data path goes on.
      }
    }
    return true;
  }
}
