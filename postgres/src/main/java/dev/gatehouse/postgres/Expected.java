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

  /**
   * Gatehouse's own question to the target inside an extended-protocol batch that no Sync has
   * closed: what {@code standard_conforming_strings} and {@code client_encoding} are now, before
   * statement text is forwarded behind statements that may have run code (PostgreSQL reports a
   * changed setting only with its next ReadyForQuery). Each setting is asked with {@code SHOW}
   * through a statement and portal of Gatehouse's own, closed again at once: Parse, Bind, Execute,
   * Close of the portal, Close of the statement. {@code SHOW} takes no snapshot and runs no code,
   * and the text reads the same whatever those settings are. Its answers are not relayed.
   * Answered by the backend→client thread, read by the client→backend thread once settled (both
   * under SessionState's lock).
   */
  final class SettingsProbe implements Expected {
    /** The name of the statement and the portal the probe makes and closes. */
    static final String NAME = "gatehouse_settings_probe";
    /** The settings asked, in order. */
    static final List<String> SETTINGS = List.of("standard_conforming_strings", "client_encoding");
    /** The answers each setting's messages bring, in order. */
    private static final String ANSWERS_PER_SETTING = "12DC33";

    private int next;
    private final String[] values = new String[SETTINGS.size()];
    private ErrorResponse failure;
    private boolean settled;

    /** The answer the target owes next (backend→client thread). */
    byte expected() {
      return (byte) ANSWERS_PER_SETTING.charAt(next % ANSWERS_PER_SETTING.length());
    }

    /**
     * The expected answer came, with {@code value} for a DataRow (null otherwise); true when it
     * was the last one (backend→client thread).
     */
    boolean answered(String value) {
      if (value != null) values[next / ANSWERS_PER_SETTING.length()] = value;
      next++;
      settled = next == ANSWERS_PER_SETTING.length() * SETTINGS.size();
      return settled;
    }

    /** One of the probe's messages failed: the target now skips to the client's Sync. */
    void failed(ErrorResponse error) {
      failure = error;
      settled = true;
    }

    /** Whether the target answered it all, or failed one of its messages. */
    boolean settled() {
      return settled;
    }

    /** The target's error for one of its messages, if one failed. */
    Optional<ErrorResponse> failure() {
      return Optional.ofNullable(failure);
    }

    /** The value of setting {@code i} of {@link #SETTINGS}, null when no row brought one. */
    String value(int i) {
      return values[i];
    }
  }

  /** FunctionCallResponse (or an error), then ReadyForQuery. */
  record FunctionCallDone(long number, Optional<Execution> execution, Optional<ErrorResponse> denial)
      implements SyncPoint {}
}
