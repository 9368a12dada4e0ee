package dev.gatehouse.postgres;

import dev.gatehouse.masking.MaskPlan;
import dev.gatehouse.masking.Refusal;
import dev.gatehouse.postgres.wire.BackendCodec;
import dev.gatehouse.postgres.wire.CommandComplete;
import dev.gatehouse.postgres.wire.CopyOutResponse;
import dev.gatehouse.postgres.wire.DataRow;
import dev.gatehouse.postgres.wire.DiagnosticMessage;
import dev.gatehouse.postgres.wire.ErrorField;
import dev.gatehouse.postgres.wire.ErrorResponse;
import dev.gatehouse.postgres.wire.Frame;
import dev.gatehouse.postgres.wire.NoticeResponse;
import dev.gatehouse.postgres.wire.NotificationResponse;
import dev.gatehouse.postgres.wire.ParameterStatus;
import dev.gatehouse.postgres.wire.ProtocolException;
import dev.gatehouse.postgres.wire.ReadyForQuery;
import dev.gatehouse.postgres.wire.RowDescription;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The target→client direction of a session: relays every message, decoding only the few that
 * carry what Gatehouse must know (CommandComplete, ErrorResponse, ReadyForQuery, ParameterStatus);
 * rows and COPY data are streamed through in chunks. Each answer is matched, in order, with what
 * {@link FrontendRelay} queued, to complete audit outcomes, confirm statement names, and replace
 * the error a denied statement's stand-in provoked by the denial.
 *
 * <p>Masking (when the statement's execution carries a {@link StatementMasking}): a RowDescription
 * of a simple query is turned into a {@link MaskPlan} before it is relayed (an extended-protocol
 * Execute brings its plan along, built before it was sent), and each DataRow and COPY row is
 * rewritten by it; a result the plan refuses is withheld and its CommandComplete replaced by the
 * refusal. Notices and errors of a statement that reads masked columns lose their text; parameter
 * values it changes are masked; notifications, and the texts of other statements' messages, go
 * through the session's detectors. A result no rule can touch is relayed without decoding.
 *
 * <p>Rows move in runs ({@link #rows}): the DataRows that lie whole in the {@link BackendInput}
 * buffer are checked by their headers only and handed to the client as one slice of that buffer
 * (masked in place first when the plan scans them), with one count per run for the audit outcome,
 * no object per row and no lock. Writes to the client are gathered in a {@link ClientBatch} and
 * sent before each read of the target that may block and at every ReadyForQuery. The only writer
 * of the client socket after startup.
 *
 * <p>Longer than 400 lines because each backend message's bookkeeping against the expectation
 * queue and its masking are one step of the same loop: split, they would share every field.
 */
final class BackendRelay {
  private static final Logger log = LoggerFactory.getLogger(BackendRelay.class);

  /** CommandComplete bodies up to this long are read in place (a tag is short: "SELECT 1", "INSERT 0 5"). */
  private static final int IN_PLACE = 256;

  private final ProxySession s;
  private final ClientBatch client;
  /** The target's bytes; set when the relay starts. */
  private BackendInput input;
  /** The target already told the client why it ends (a FATAL ErrorResponse). */
  private boolean fatalRelayed;
  /** A frame is partly written to the client: nothing else may be written after it. */
  private boolean midFrame;
  /** The SQLSTATE that made the target skip to Sync, for the executions it skipped. */
  private String skipCause = "";
  private final RowRewriter rewriter = new RowRewriter();
  /** {@link #skipped}, made once: ReadyForQuery hands it to the state for every transaction. */
  private final java.util.function.Consumer<Expected> onSkipped = this::skipped;
  /** The plan of the simple-query result (or COPY) being relayed; null when none applies. */
  private MaskPlan current;
  /** The result being relayed is withheld: its rows are dropped, its completion becomes this refusal. */
  private Refusal withholding;
  /** The COPY whose rows {@link #current} masks writes CSV; its next row is its header. */
  private boolean copyCsv, copyHeader;
  /** A DDL statement completed inside a transaction: column origins are stale once it ends. */
  private boolean schemaChanged;
  /**
   * The execution and plan of the rows being relayed, resolved at the first DataRow of a result and
   * kept while only DataRows follow (the expectation queue's head cannot change between them), so
   * a row costs no lock.
   */
  private boolean rowsResolved;
  private Optional<Execution> rowExecution = Optional.empty();
  private MaskPlan rowPlan;
  /** The last plan whose {@link MaskPlan#notice()} the client was told. */
  private MaskPlan noticed;

  BackendRelay(ProxySession session) {
    this.s = session;
    this.client = new ClientBatch(session.clientOutput);
  }

  /** Thread mode: relays until the session ends, then tells the client why and closes it. */
  void run() {
    try {
      start();
      drain();
    } catch (IOException | RuntimeException | VirtualMachineError e) {
      // VirtualMachineError: one session running the heap or stack out must end that session (its
      // memory goes with it), not leave it open with its thread gone.
      stopped(e);
    } finally {
      tellClientAndClose();
    }
  }

  /** Takes over the target's bytes; before the first {@link #ready} (event-loop mode) or by {@link #run}. */
  void start() throws IOException {
    // What startup wrote is sent already; from here on this relay writes through its own batch.
    s.clientWriter.flush();
    input = s.backend.relayInput(this::beforeRead);
  }

  /**
   * Event-loop mode: relays every message the target has sent so far and returns when the next
   * one is not whole yet; when this direction is over (the session ended, the target left), tells
   * the client why and closes it.
   *
   * @param in the target channel's stream under {@link #input}
   * @return false when this direction of the session is over
   */
  boolean ready(ChannelStreams.Input in) {
    try {
      if (s.ending().isPresent()) {
        tellClientAndClose();
        return false;
      }
      for (int reads = 0; reads < RelayLoop.READS_PER_RUN; reads++) {
        int read = in.now(input::readAvailable);
        if (read < 0) {
          drain(); // at the end of the stream: what is buffered, then the end (no read waits any more)
          tellClientAndClose();
          return false;
        }
        boolean full = input.full();
        while (input.frameReady()) {
          if (endedByGatehouse()) break; // ended meanwhile: below, the client hears why
          input.next();
          handle(input.type());
        }
        if (endedByGatehouse()) {
          tellClientAndClose();
          return false;
        }
        if (read == 0 || !full) break;
      }
      beforeRead();
      return true;
    } catch (IOException | RuntimeException | VirtualMachineError e) {
      // VirtualMachineError: one session running the heap or stack out must end that session (its
      // memory goes with it), not leave it open with its thread gone.
      stopped(e);
      tellClientAndClose();
      return false;
    }
  }

  /**
   * Whether Gatehouse ended the session with a message for the client (expiry, policy, shutdown):
   * what the target still says then (its cancel of the running statement: round 24) is not
   * relayed; the client hears why the session ended and nothing after, and what the target had not
   * answered is recorded UNKNOWN, as the session ended first. After the client's own Terminate the
   * target's last answers are still read, for their outcomes.
   */
  private boolean endedByGatehouse() {
    Optional<ProxySession.Ending> ending = s.ending();
    return ending.isPresent() && ending.get().toClient().isPresent();
  }

  /** Relays messages until the target's stream ends; every read may wait. */
  private void drain() throws IOException {
    while (true) {
      if (endedByGatehouse()) return;
      if (!input.next()) {
        String resource = s.session.resource().name();
        s.end(fatalRelayed ? "resource ended the session" : "connection to resource lost",
            fatalRelayed ? Optional.empty() : Optional.of(Replies.resourceLost(resource)));
        return;
      }
      handle(input.type());
    }
  }

  /** Ends the session for the failure that stopped this direction. */
  private void stopped(Throwable failure) {
    switch (failure) {
      case ProtocolException e -> s.end("protocol violation by the resource: " + e.getMessage(),
          Optional.of(Replies.protocolViolation(
              "resource \"" + s.session.resource().name() + "\" sent an invalid message; the session was ended")));
      case PostgresGatewayException e ->
          s.end(e.getMessage(), Optional.of(Replies.fatal(e.sqlstate(), e.getMessage())));
      case IOException e -> {
        if (s.clientOutput.failed()) {
          s.end(ProxySession.clientLost(e), Optional.empty());
        } else {
          s.end(e.getMessage() == null ? "connection to resource lost" : "connection to resource lost: " + e.getMessage(), fatalRelayed
              ? Optional.empty() : Optional.of(Replies.resourceLost(s.session.resource().name())));
        }
      }
      default -> {
        log.error("internal error relaying resource messages", failure);
        s.end("internal error: " + failure, Optional.of(Replies.fatal("XX000", "internal error in Gatehouse; the session was ended")));
      }
    }
  }

  /** Sends the client what was gathered: the relay is about to wait for the target. */
  private void beforeRead() throws IOException {
    if (client.buffered() > 0) client.flush();
  }

  private void handle(byte type) throws IOException {
    if (type != 'D') rowsResolved = false;
    // Only the kinds of answer the probe gets: an error (error() knows the probe), a notice, a
    // notification (delivered as the backend reads the probe outside a transaction) and a
    // ReadyForQuery (a probe the target skipped after an earlier error is drained there, as
    // everything skipped is: red-team round 35) go their usual way.
    if (s.state.probing() && (type == '1' || type == '2' || type == '3' || type == 'D' || type == 'C')
        && s.state.first() instanceof Expected.SettingsProbe probe) {
      probeAnswer(type, probe);
      return;
    }
    switch (type) {
      case 'D' -> rows();
      case 'd', 'c' -> {
        if (withholding != null) skip();
        else if (type == 'd' && current != null) copyRow();
        else relay();
      }
      case 'H' -> {
        if (s.masking.configured()) copyOut(read());
        else relay();
      }
      case 'A' -> {
        // Rare (LISTEN): decoded to give the client its own process id back (asTheClientSees).
        Frame frame = read();
        NotificationResponse n = (NotificationResponse) BackendCodec.decode(frame);
        NotificationResponse seen = s.asTheClientSees(n);
        Frame relayed = seen == n ? frame : BackendCodec.encode(seen);
        if (s.masking.configured()) sideChannel(relayed);
        else write(relayed);
      }
      case 'N' -> {
        if (s.masking.configured()) sideChannel(read());
        else relay();
      }
      case 'G' -> {
        // CopyInResponse: the target reads COPY data now, and ignores Sync until it has it all.
        if (!s.state.copyInStarted()) {
          throw new PostgresGatewayException("08P01", "Gatehouse lost track of the protocol state (CopyInResponse to a"
              + " message that held no COPY statement); the session was ended");
        }
        relay();
      }
      case 'W' -> throw new PostgresGatewayException("08P01",
          "the resource started COPY BOTH (replication), which Gatehouse does not relay; the session was ended");
      case 't' -> relay();
      case '1' -> {
        Expected.ParseDone parse = head(Expected.ParseDone.class, "ParseComplete");
        s.state.confirm(parse.entry());
        s.state.answered();
        relay();
      }
      case '2' -> {
        expectedHead(s.state.answerIf(Expected.BindDone.class), Expected.BindDone.class, "BindComplete");
        relay();
      }
      case '3' -> {
        Expected.CloseDone close = head(Expected.CloseDone.class, "CloseComplete");
        close.tombstone().ifPresent(s.state::confirm);
        s.state.answered();
        relay();
      }
      case 'T' -> {
        if (s.masking.configured()) {
          rowDescription();
        } else {
          s.state.answerIf(Expected.DescribeDone.class);
          relay();
        }
      }
      case 'n' -> {
        Expected.DescribeDone describe = head(Expected.DescribeDone.class, "NoData");
        s.state.described(describe, new SessionState.Shape(Optional.empty(), describe.portal().isPresent()));
        s.state.answered();
        if (describe.own()) skip();
        else relay();
      }
      case 's' -> {
        head(Expected.ExecuteDone.class, "PortalSuspended").execution().ifPresent(e -> e.suspendedAnswered(s.checkpoint));
        s.state.answered();
        relay();
      }
      case 'I' -> {
        s.state.answerIf(Expected.ExecuteDone.class);
        relay();
      }
      case 'V' -> {
        if (s.state.first() instanceof Expected.FunctionCallDone call) {
          call.execution().ifPresent(e -> e.completeOk(s.checkpoint, Optional.empty()));
        }
        relay();
      }
      case 'C' -> {
        // Read in place (no frame, no decoded tag) unless the tag is one the codec must judge.
        long rows = CommandComplete.DECODE;
        if (input.bodyLength() <= IN_PLACE) {
          input.whole(s.config.maxMessageLength());
          rows = CommandComplete.rowsInPlace(input.array(), input.position() + 5, input.bodyLength());
        }
        if (rows != CommandComplete.DECODE) {
          commandComplete(rows, rows == CommandComplete.NO_COUNT
              && CommandComplete.rollbackInPlace(input.array(), input.position() + 5, input.bodyLength()), null);
        } else {
          Frame frame = read();
          CommandComplete complete = (CommandComplete) BackendCodec.decode(frame);
          OptionalLong counted = complete.rows();
          commandComplete(counted.isPresent() ? counted.getAsLong() : CommandComplete.NO_COUNT,
              complete.tag().equals(CommandComplete.ROLLBACK), frame);
        }
      }
      case 'E' -> error(read());
      case 'Z' -> {
        byte status = 0;
        if (input.bodyLength() == 1) {
          input.whole(s.config.maxMessageLength());
          status = input.array()[input.position() + 5];
        }
        if (status == ReadyForQuery.IDLE || status == ReadyForQuery.IN_TRANSACTION || status == ReadyForQuery.FAILED_TRANSACTION) {
          readyForQuery(status, null);
        } else {
          Frame frame = read();
          readyForQuery(((ReadyForQuery) BackendCodec.decode(frame)).status(), frame);
        }
      }
      case 'S' -> parameterStatus(read());
      default -> throw ProtocolException.violation(
          "unexpected message type 0x" + Integer.toHexString(type & 0xff) + " from the resource after startup");
    }
  }

  /** One answer to Gatehouse's own settings probe: read, never relayed. */
  private void probeAnswer(byte type, Expected.SettingsProbe probe) throws IOException {
    if (type != probe.expected()) {
      throw new PostgresGatewayException("08P01", "Gatehouse lost track of the protocol state (message type 0x"
          + Integer.toHexString(type & 0xff) + " in answer to its settings probe); the session was ended");
    }
    String value = null;
    if (type == 'D') {
      DataRow row = (DataRow) BackendCodec.decode(read());
      value = row.columnCount() == 1 ? row.text(0).orElse("") : "";
    } else {
      skip();
    }
    if (probe.answered(value)) s.state.answered();
  }

  /**
   * Whether the server reading SQL with {@code value} for setting {@code name} (lower case) would
   * read it otherwise than Gatehouse's classifier does: it reads UTF-8 with standard strings.
   * PostgreSQL keeps the spelling "UNICODE" (exactly so) for UTF8 instead of its canonical name, for
   * pre-9.1 pgjdbc: SET client_encoding = 'UNICODE' reports it.
   */
  static boolean readsSqlOtherwise(String name, String value) {
    return (name.equals("client_encoding") && !value.equalsIgnoreCase("UTF8") && !value.equals("UNICODE"))
        || (name.equals("standard_conforming_strings") && !value.equalsIgnoreCase("on"));
  }

  /**
   * CommandComplete, with the row count its tag carries ({@link CommandComplete#NO_COUNT} when none);
   * {@code frame} is null when the message is read in place, and relayed from there.
   */
  private void commandComplete(long rows, boolean rolledBack, Frame frame) throws IOException {
    Optional<Long> tagRows = rows >= 0 ? Optional.of(rows) : Optional.empty();
    Expected head = s.state.first();
    Optional<Execution> completed = executionOf(head);
    if (completed.isPresent() && completed.get().schemaChange()) {
      s.masking.schemaChanged();
      schemaChanged = true;
    }
    Refusal withheld = withholding;
    switch (head) {
      case Expected.ExecuteDone x -> {
        if (completed.isPresent()) complete(completed.get(), tagRows, rolledBack, withheld); // no lambda per statement
        s.state.answered();
      }
      case Expected.QueryDone q -> {
        if (completed.isPresent()) complete(completed.get(), tagRows, rolledBack, withheld);
        q.advance();
      }
      case null, default -> { }
    }
    current = null;
    if (withheld != null) {
      // The rows were withheld: the client learns why instead of how many.
      Refusal refusal = withheld;
      withholding = null;
      if (frame == null) skip();
      client.write(Replies.maskingRefused(refusal));
      return;
    }
    relayOrWrite(frame);
  }

  /** {@code withheld}: the refusal its rows were withheld for (the client gets it instead), or null. */
  private void complete(Execution execution, Optional<Long> tagRows, boolean rolledBack, Refusal withheld) {
    if (rolledBack) execution.completeRolledBack(s.checkpoint, tagRows);
    else if (withheld != null) {
      execution.completeWithheld(s.checkpoint, tagRows, FrontendRelay.maskingRule(withheld), withheld.reason());
    } else execution.completeOk(s.checkpoint, tagRows);
  }

  private void error(Frame frame) throws IOException {
    ErrorResponse error = (ErrorResponse) BackendCodec.decode(frame);
    String severity = error.severity();
    Expected at = s.state.first();
    current = null;
    withholding = null;
    if (s.masking.configured()) {
      ErrorResponse masked = new ErrorResponse(maskDiagnostic(error.fields(), at));
      if (!masked.equals(error)) frame = BackendCodec.encode(masked);
      if (at instanceof Expected.DescribeDone d) s.state.describeSettled(d);
    }
    if (severity.equals("FATAL") || severity.equals("PANIC")) {
      // The target ends the session and says why; the client hears it in the target's words.
      write(frame);
      client.flush();
      fatalRelayed = true;
      s.targetEnded();
      return;
    }
    String code = error.sqlstate().isEmpty() ? "XX000" : error.sqlstate();
    Optional<ErrorResponse> replacement = Optional.empty();
    boolean skips = true;
    switch (s.state.first()) {
      case Expected.QueryDone q -> {
        skips = false;
        replacement = q.denial();
        q.remaining().forEach(e -> e.completeError(s.checkpoint, code));
        q.skipRest();
      }
      case Expected.FunctionCallDone call -> {
        skips = false;
        replacement = call.denial();
        call.execution().ifPresent(e -> e.completeError(s.checkpoint, code));
      }
      case Expected.ExecuteDone x -> {
        replacement = x.denial();
        x.execution().ifPresent(e -> e.completeError(s.checkpoint, code));
        s.state.answered();
      }
      case Expected.ParseDone parse -> {
        replacement = parse.denial();
        s.state.reject(parse.entry());
        s.state.answered();
      }
      case Expected.CloseDone close -> {
        close.tombstone().ifPresent(s.state::reject);
        s.state.answered();
      }
      case Expected.BindDone bind -> {
        replacement = bind.denial();
        bind.portal().ifPresent(s.state::bindFailed);
        bind.decided().ifPresent(e -> e.completeError(s.checkpoint, code));
        s.state.answered();
      }
      case Expected.DescribeDone describe -> s.state.answered();
      case Expected.SettingsProbe probe -> {
        // The client hears of it in place of the statement text the probe held back (which the
        // target now skips, with the rest of the batch).
        probe.failed(error);
        replacement = Optional.of(Replies.settingsUnknown(error));
        s.state.answered();
      }
      case null, default -> skips = false; // e.g. COMMIT failing at Sync: no skipping follows
    }
    if (skips) {
      // PostgreSQL now ignores every message up to Sync (protocol docs, "Extended Query"). What it
      // skips failed for the error the client saw: a refusal's, not its stand-in's (round 24).
      skipCause = replacement.map(ErrorResponse::sqlstate).filter(c -> !c.isEmpty()).orElse(code);
      s.state.startSkipping(skipCause);
      s.state.drainSkipped(onSkipped);
    }
    if (replacement.isPresent()) {
      client.write(replacement.get());
    } else {
      write(frame);
    }
  }

  /** ReadyForQuery with its status; {@code frame} is null when the message is read in place, and relayed from there. */
  private void readyForQuery(byte status, Frame frame) throws IOException {
    s.state.drainSkipped(onSkipped);
    Expected head = s.state.first();
    if (!(head instanceof Expected.SyncPoint point)) {
      throw new PostgresGatewayException("08P01",
          "Gatehouse lost track of the protocol state (ReadyForQuery without a pending Sync or Query); the session was ended");
    }
    switch (point) {
      case Expected.QueryDone q -> q.remaining().forEach(e -> e.completeAborted(s.checkpoint));
      case Expected.FunctionCallDone call -> call.execution().ifPresent(e -> e.completeAborted(s.checkpoint));
      case Expected.SyncDone sync -> { }
    }
    s.state.readyForQuery(point.number(), status);
    if (status == ReadyForQuery.IDLE && s.masking.touchedInTransaction()) s.masking.transactionEnded(point.number());
    s.state.answered();
    current = null;
    withholding = null;
    if (schemaChanged && status == ReadyForQuery.IDLE) {
      // DDL inside a transaction becomes visible to the catalog connection only now.
      schemaChanged = false;
      s.masking.schemaChanged();
    }
    relayOrWrite(frame);
    // The client waits for this answer: send it, unless more of the target's answers are here
    // already (a pipeline), which go in the same write: any read that may wait sends first.
    if (input.buffered() == 0) client.flush();
    // A quiet moment: a buffer grown by a large result goes back to its small size.
    input.shrink();
    client.shrink();
  }

  private void parameterStatus(Frame frame) throws IOException {
    ParameterStatus status = (ParameterStatus) BackendCodec.decode(frame);
    String name = status.name().toLowerCase(Locale.ROOT);
    String value = status.value();
    if (readsSqlOtherwise(name, value)) {
      // The classifier reads SQL as UTF-8 with standard strings; once the server reads it
      // differently, a statement could mean one thing to Gatehouse and another to the target.
      throw new PostgresGatewayException("08P01", "resource \"" + s.session.resource().name() + "\" changed "
          + status.name() + " to \"" + StartupParameters.sanitizeName(value)
          + "\"; Gatehouse requires client_encoding UTF8 and standard_conforming_strings on, so the session was ended");
    }
    if (s.masking.masked()) {
      // set_config('application_name', email, false) echoes a value; masked statements lose it whole.
      boolean touching = executionOf(s.state.first())
          .flatMap(Execution::masking).map(StatementMasking::touchesMasked).orElse(false);
      String masked = touching && !value.isEmpty() ? "****" : s.masking.scan(value);
      if (!masked.equals(value)) {
        write(BackendCodec.encode(new ParameterStatus(status.name(), masked)));
        return;
      }
    }
    write(frame);
  }

  /** An expectation the target will never answer: it skipped the message after an error. */
  private void skipped(Expected expected) {
    switch (expected) {
      case Expected.DescribeDone describe -> s.state.describeSettled(describe);
      case Expected.ParseDone parse -> s.state.reject(parse.entry());
      case Expected.CloseDone close -> close.tombstone().ifPresent(s.state::reject);
      case Expected.ExecuteDone x -> x.execution().ifPresent(e -> e.completeError(s.checkpoint, skipCause));
      case Expected.BindDone bind -> {
        bind.portal().ifPresent(s.state::bindFailed);
        bind.decided().ifPresent(e -> e.completeError(s.checkpoint, skipCause));
      }
      case Expected.QueryDone q -> q.remaining().forEach(e -> e.completeError(s.checkpoint, skipCause));
      case Expected.FunctionCallDone call -> call.execution().ifPresent(e -> e.completeError(s.checkpoint, skipCause));
      default -> { }
    }
  }

  // ---- masking -------------------------------------------------------------------------------

  /**
   * A DataRow and the DataRows after it that are already buffered: counted, then relayed,
   * masked or withheld, as one run.
   */
  private void rows() throws IOException {
    if (!rowsResolved) {
      rowPlan = null;
      rowExecution = Optional.empty();
      switch (s.state.first()) {
        case Expected.ExecuteDone x -> {
          rowExecution = x.execution();
          rowPlan = x.plan().orElse(null);
        }
        case Expected.QueryDone q -> {
          rowExecution = q.current();
          rowPlan = current;
        }
        case null, default -> { }
      }
      rowsResolved = true;
    }
    MaskPlan plan = rowPlan;
    if (plan == null && rowExecution.isPresent() && rowExecution.get().masking().isPresent()) {
      // Masking applies and no plan exists for these rows: never relay a row before its plan.
      throw new PostgresGatewayException("08P01",
          "Gatehouse received rows it has no mask plan for; the session was ended rather than relay them");
    }
    boolean drop = withholding != null;
    if (!drop && plan != null && plan != noticed && plan.notice().isPresent()) tellNulled(plan);
    MaskPlan masking = drop || plan == null || !plan.needsDecoding() ? null : plan;
    if (input.buffered() < 5L + input.bodyLength()) {
      // The row is not whole in the buffer. One that is relayed untouched and larger than a read
      // streams through in slices; one to mask is held whole, up to the message length limit.
      if (masking == null && input.bodyLength() >= BackendInput.MAX_READ) {
        rowExecution.ifPresent(e -> e.rowsSeen(1));
        if (drop) skip();
        else relay();
        return;
      }
      input.whole(masking == null ? Integer.MAX_VALUE : s.config.maxMessageLength());
    }
    byte[] b = input.array();
    int p = input.position();
    int limit = input.limit();
    int from = p;
    long count = 0;
    // Only whole frames are written here: a failure leaves no frame half-sent.
    while (limit - p >= 5 && b[p] == 'D') {
      int length = BackendInput.int32(b, p + 1);
      if (length < 4) throw ProtocolException.violation("invalid length of message 'D': " + length + " < 4");
      if (length > limit - p - 1) break; // not whole in the buffer: the next run starts with it
      if (masking != null) {
        if (length - 4 > s.config.maxMessageLength()) {
          throw new ProtocolException(ProtocolException.PROGRAM_LIMIT_EXCEEDED, "message 'D' of " + length
              + " bytes from the resource exceeds the maximum " + s.config.maxMessageLength());
        }
        int rewritten = rewriter.dataRow(masking, b, p + 5, length - 4);
        if (rewritten >= 0) {
          client.bytes(b, from, p - from);
          client.header((byte) 'D', rewritten);
          client.bytes(rewriter.row(), 0, rewritten);
          from = p + 1 + length;
        }
      }
      p += 1 + length;
      count++;
    }
    if (!drop) client.bytes(b, from, p - from);
    input.consume(p);
    long seen = count;
    rowExecution.ifPresent(e -> e.rowsSeen(seen));
  }

  /** RowDescription while masking is configured: remembered for a Describe, planned for a simple query. */
  private void rowDescription() throws IOException {
    Expected head = s.state.first();
    if (head instanceof Expected.DescribeDone describe) {
      if (!describe.own() && shapeUnused(describe)) {
        s.state.answered();
        relay();
        return;
      }
      Frame frame = read();
      RowDescription rows = (RowDescription) BackendCodec.decode(frame);
      s.state.described(describe, new SessionState.Shape(Optional.of(rows), describe.portal().isPresent()));
      s.state.answered();
      if (!describe.own()) write(frame);
      return;
    }
    Optional<StatementMasking> masking = executionOf(head).flatMap(Execution::masking);
    if (masking.isEmpty()) {
      current = null;
      relay();
      return;
    }
    Frame frame = read();
    MaskPlan plan = masking.get().plan((RowDescription) BackendCodec.decode(frame), new short[0]);
    current = plan;
    if (plan.refusal().isPresent()) {
      withholding = plan.refusal().get();
      return;
    }
    if (plan.notice().isPresent()) tellNulled(plan);
    write(frame);
  }

  /** Tells the client, once per plan and before its rows, which columns strict mode returns as NULL. */
  private void tellNulled(MaskPlan plan) throws IOException {
    noticed = plan;
    write(BackendCodec.encode(NoticeResponse.of("NOTICE", "00000", plan.notice().get())));
  }

  /**
   * Whether nobody will ask for the shape a client's Describe of a portal returns: the portal's
   * execution was decided at its Bind and masks nothing (or the Bind was refused), and the shape
   * serves masking only. Its RowDescription (libpq describes the portal of every prepared
   * execution) is then relayed as it is, without decoding its fields. The portal's fields were set
   * before its Bind's expectation was queued, so the queue's lock makes them visible here.
   */
  private static boolean shapeUnused(Expected.DescribeDone describe) {
    if (describe.portal().isEmpty()) return false;
    SessionState.Portal p = describe.portal().get();
    return p.denied || (p.decided != null && p.decided.masking().isEmpty());
  }

  /** CopyOutResponse: COPY TO STDOUT rows follow; plan them like a result. */
  private void copyOut(Frame frame) throws IOException {
    Optional<StatementMasking> masking = executionOf(s.state.first()).flatMap(Execution::masking);
    current = null;
    if (masking.isPresent()) {
      CopyOutResponse copy = (CopyOutResponse) BackendCodec.decode(frame);
      boolean binary = copy.format() != 0;
      MaskPlan plan = masking.get().copyPlan(copy.columnFormats().length, masking.get().copyColumns(), binary);
      if (plan.refusal().isPresent()) {
        withholding = plan.refusal().get();
        return;
      }
      if (plan.needsDecoding()) {
        StatementMasking.CopyOutput output = masking.get().copyOutput();
        if (binary || output.layout() == StatementMasking.CopyLayout.OTHER) {
          // Its rows must be read to be masked or scanned, and cannot be: withheld whole, with an
          // error the client can act on (round 12: a CSV export ended the session with FATAL 08P01).
          withholding = new Refusal(masking.get().planner().rules().get(0), FrontendRelay.COPY_LAYOUTS);
          return;
        }
        current = plan;
        copyCsv = output.layout() == StatementMasking.CopyLayout.CSV;
        copyHeader = output.header();
      }
      if (plan.notice().isPresent() && plan.refusal().isEmpty()) {
        write(BackendCodec.encode(NoticeResponse.of("NOTICE", "00000", plan.notice().get())));
      }
    }
    write(frame);
  }

  private void copyRow() throws IOException {
    Frame frame = read();
    if (copyHeader) {
      copyHeader = false; // the column names, not data
      write(frame);
      return;
    }
    write(new Frame(frame.type(), copyCsv ? rewriter.copyCsvRow(current, frame.body()) : rewriter.copyTextRow(current, frame.body())));
  }

  /** NoticeResponse or NotificationResponse while masking is configured. */
  private void sideChannel(Frame frame) throws IOException {
    if (!s.masking.masked()) {
      write(frame);
      return;
    }
    switch (BackendCodec.decode(frame)) {
      case NoticeResponse notice -> {
        NoticeResponse masked = new NoticeResponse(maskDiagnostic(notice.fields(), s.state.first()));
        write(masked.equals(notice) ? frame : BackendCodec.encode(masked));
      }
      case NotificationResponse n -> {
        NotificationResponse masked = new NotificationResponse(n.processId(), s.masking.scan(n.channel()),
            s.masking.scan(n.payload()));
        write(masked.equals(n) ? frame : BackendCodec.encode(masked));
      }
      default -> write(frame);
    }
  }

  /**
   * The fields of a notice or error as the client may see them: for a statement that reads masked
   * columns, or raised at a commit PostgreSQL makes on its own in a session under masking rules,
   * severity, SQLSTATE, source location and object names only, with a generic message; otherwise
   * every text field through the session's detectors.
   */
  private List<ErrorField> maskDiagnostic(List<ErrorField> fields, Expected at) {
    boolean touching = executionOf(at).flatMap(Execution::masking).map(StatementMasking::touchesMasked).orElse(false)
        // Raised where PostgreSQL may commit on its own (at Sync; in a query's last statement, whose
        // CommandComplete follows the commit) after a statement touched masked columns in the same
        // transaction: a WITH HOLD cursor's query runs there, reading what it read.
        || (s.masking.touchedInTransaction() && (at instanceof Expected.SyncDone
            || (at instanceof Expected.QueryDone q && q.remaining().size() <= 1)));
    if (!touching && !s.masking.masked()) return fields;
    String sqlstate = "XX000";
    for (ErrorField f : fields) if (f.code() == ErrorField.SQLSTATE) sqlstate = f.value();
    List<ErrorField> out = new ArrayList<>(fields.size());
    for (ErrorField f : fields) {
      switch (f.code()) {
        case ErrorField.SEVERITY, ErrorField.SEVERITY_NONLOCALIZED, ErrorField.SQLSTATE, ErrorField.FILE,
            ErrorField.LINE, ErrorField.ROUTINE, ErrorField.SCHEMA, ErrorField.TABLE, ErrorField.COLUMN,
            ErrorField.DATA_TYPE, ErrorField.CONSTRAINT -> out.add(f);
        case ErrorField.MESSAGE -> out.add(touching ? new ErrorField(f.code(), Replies.withheldText(sqlstate))
            : new ErrorField(f.code(), s.masking.scan(f.value())));
        default -> {
          // detail, hint, context, internal query and anything unknown may quote values
          if (!touching) out.add(new ErrorField(f.code(), s.masking.scan(f.value())));
        }
      }
    }
    return out;
  }

  private static Optional<Execution> executionOf(Expected head) {
    return switch (head) {
      case Expected.ExecuteDone x -> x.execution();
      case Expected.QueryDone q -> q.current();
      case Expected.FunctionCallDone f -> f.execution();
      case null, default -> Optional.empty();
    };
  }

  private void skip() throws IOException {
    input.skip();
  }

  /** The oldest expectation, which must be of {@code type} for {@code answer} to make sense. */
  private <T extends Expected> T head(Class<T> type, String answer) {
    return expectedHead(s.state.first(), type, answer);
  }

  /** {@code head}, which must be of {@code type} for {@code answer} to make sense. */
  private static <T extends Expected> T expectedHead(Expected head, Class<T> type, String answer) {
    if (!type.isInstance(head)) {
      // Statement names are tracked from this order; if it is lost, fail closed.
      throw new PostgresGatewayException("08P01", "Gatehouse lost track of the protocol state (" + answer
          + " while expecting " + (head == null ? "nothing" : head.getClass().getSimpleName())
          + "); the session was ended");
    }
    return type.cast(head);
  }

  private Frame read() throws IOException {
    return input.frame(s.config.maxMessageLength());
  }

  private void relay() throws IOException {
    midFrame = true;
    input.relay(client);
    midFrame = false;
  }

  /** The current frame as it came (null: read in place) or {@code frame}, which replaces it. */
  private void relayOrWrite(Frame frame) throws IOException {
    if (frame == null) relay();
    else write(frame);
  }

  private void write(Frame frame) throws IOException {
    midFrame = true;
    client.write(frame);
    midFrame = false;
  }

  /** Tells the client why the session ends (when it deserves to hear it), then closes its socket. */
  private void tellClientAndClose() {
    Optional<ProxySession.Ending> ending = s.ending();
    if (ending.isPresent() && ending.get().toClient().isPresent() && !fatalRelayed && !midFrame
        && !s.clientOutput.failed()) {
      try {
        client.write(ending.get().toClient().get());
        client.flush();
      } catch (IOException | RuntimeException e) {
        // the client is gone too
      }
    } else {
      try {
        client.flush();
      } catch (IOException | RuntimeException e) {
        // nothing more can reach the client
      }
    }
    s.closeClient();
  }
}
