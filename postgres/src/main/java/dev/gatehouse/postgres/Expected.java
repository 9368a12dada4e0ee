package dev.gatehouse.postgres;

import dev.gatehouse.masking.MaskPlan;
import dev.gatehouse.postgres.wire.ErrorResponse;
import java.util.List;
import java.util.Optional;

/**
 * What one message forwarded to the target expects back, queued in forwarding order by the
 * client→backend thread and consumed by the backend→client thread as the answers arrive
 * (PostgreSQL answers strictly in order). This queue is how the two directions agree on which
 * statement an answer belongs to.
 */
sealed interface Expected {
  /** Answered by ReadyForQuery: Sync, a simple Query, a FunctionCall. */
  sealed interface SyncPoint extends Expected {
    /** The number of this sync point (1 for the first one of the session). */
    long number();
  }

  /**
   * ParseComplete, or an error.
   *
   * @param denial when present, the Parse was refused and replaced by a Parse of a text that fails
   *     in the server's parser: the error that comes back is replaced by this one
   */
  record ParseDone(SessionState.Statement entry, Optional<ErrorResponse> denial) implements Expected {
    ParseDone(SessionState.Statement entry) {
      this(entry, Optional.empty());
    }
  }

  /**
   * BindComplete, or an error. PostgreSQL plans a statement when it binds it (and planning can run
   * functions), so the execution is decided at Bind, not at Execute.
   *
   * @param decided the execution decided (allowed) at this Bind; the portal's Execute carries it out
   * @param denial when present, the Bind was denied and replaced by a message that fails without
   *     side effects: the error that comes back is replaced by this one
   * @param portal the portal entry the answer confirms (or, failing, leaves unknown)
   */
  record BindDone(Optional<Execution> decided, Optional<ErrorResponse> denial, Optional<SessionState.Portal> portal)
      implements Expected {
    BindDone() {
      this(Optional.empty(), Optional.empty(), Optional.empty());
    }
  }

  /**
   * ParameterDescription (for a statement), then RowDescription or NoData; or an error. The answer
   * is remembered on the statement or portal described, so a later Execute knows its result's
   * shape.
   *
   * @param own Gatehouse sent this Describe itself (to plan masking): its answer is not relayed
   */
  record DescribeDone(Optional<SessionState.Statement> statement, Optional<SessionState.Portal> portal, boolean own)
      implements Expected {
    DescribeDone() {
      this(Optional.empty(), Optional.empty(), false);
    }
  }

  /** CloseComplete, or an error. {@code tombstone} is the statement removal it confirms. */
  record CloseDone(Optional<SessionState.Statement> tombstone) implements Expected {}

  /**
   * The result of an Execute: rows, then CommandComplete, EmptyQueryResponse or PortalSuspended;
   * or an error.
   *
   * @param execution the execution it belongs to; empty for an empty statement (nothing decided)
   * @param plan how its rows are masked, when masking applies (built before the Execute was sent)
   * @param denial when present, the Execute was denied and replaced by a message that fails
   *     without side effects: the error that comes back is replaced by this one
   */
  record ExecuteDone(Optional<Execution> execution, Optional<ErrorResponse> denial, Optional<MaskPlan> plan)
      implements Expected {
    ExecuteDone(Optional<Execution> execution, Optional<ErrorResponse> denial) {
      this(execution, denial, Optional.empty());
    }
  }

  record SyncDone(long number) implements SyncPoint {}

  /**
   * A simple Query: one result per statement, then ReadyForQuery. Mutable cursor over its
   * executions, used by the backend→client thread only.
   */
  final class QueryDone implements SyncPoint {
    private final long number;
    private final List<Execution> executions;
    private final Optional<ErrorResponse> denial;
    private final long chars;
    private int next;

    QueryDone(long number, List<Execution> executions, Optional<ErrorResponse> denial) {
      this.number = number;
      this.executions = List.copyOf(executions);
      this.denial = denial;
      long n = 0;
      for (Execution e : this.executions) n += e.chars();
      this.chars = n;
    }

    /** The chars of statement text its executions hold (SessionState's budget). */
    long chars() {
      return chars;
    }

    @Override
    public long number() {
      return number;
    }

    Optional<ErrorResponse> denial() {
      return denial;
    }

    /** The execution the next result belongs to, if any statement is left. */
    Optional<Execution> current() {
      return next < executions.size() ? Optional.of(executions.get(next)) : Optional.empty();
    }

    /** The current statement's result is complete; move to the next statement. */
    void advance() {
      next++;
    }

    /** No further result belongs to this query (it failed, or ReadyForQuery came). */
    void skipRest() {
      next = executions.size();
    }

    /** Statements that have not produced a result (yet). */
    List<Execution> remaining() {
      return executions.subList(Math.min(next, executions.size()), executions.size());
    }
  }

  /** FunctionCallResponse (or an error), then ReadyForQuery. */
  record FunctionCallDone(long number, Optional<Execution> execution, Optional<ErrorResponse> denial)
      implements SyncPoint {}
}
