package dev.gatehouse.postgres;

import dev.gatehouse.core.Checkpoint;
import dev.gatehouse.core.Classification;
import dev.gatehouse.core.Command;
import dev.gatehouse.core.CommandFlag;
import dev.gatehouse.core.Decision;
import dev.gatehouse.core.Verdict;
import dev.gatehouse.masking.MaskPlan;
import dev.gatehouse.masking.MaskingException;
import dev.gatehouse.masking.Refusal;
import dev.gatehouse.postgres.sql.Analysis;
import dev.gatehouse.postgres.sql.ClassifiedStatement;
import dev.gatehouse.postgres.sql.ColumnUse;
import dev.gatehouse.postgres.sql.SqlClassifier;
import dev.gatehouse.postgres.wire.Bind;
import dev.gatehouse.postgres.wire.Close;
import dev.gatehouse.postgres.wire.CopyData;
import dev.gatehouse.postgres.wire.CopyDone;
import dev.gatehouse.postgres.wire.CopyFail;
import dev.gatehouse.postgres.wire.Describe;
import dev.gatehouse.postgres.wire.ErrorResponse;
import dev.gatehouse.postgres.wire.Execute;
import dev.gatehouse.postgres.wire.Flush;
import dev.gatehouse.postgres.wire.Frame;
import dev.gatehouse.postgres.wire.FrameHeader;
import dev.gatehouse.postgres.wire.FrameReader;
import dev.gatehouse.postgres.wire.FrontendCodec;
import dev.gatehouse.postgres.wire.FrontendMessage;
import dev.gatehouse.postgres.wire.FunctionCall;
import dev.gatehouse.postgres.wire.InPlaceMessage;
import dev.gatehouse.postgres.wire.MessageWriter;
import dev.gatehouse.postgres.wire.Parse;
import dev.gatehouse.postgres.wire.ProtocolException;
import dev.gatehouse.postgres.wire.Query;
import dev.gatehouse.postgres.wire.Sync;
import dev.gatehouse.postgres.wire.Terminate;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The client→target direction of a session: reads each client message, classifies and decides
 * what would execute, and forwards it (the same bytes) or, for a denied one, a stand-in that fails
 * on the target without any side effect, so the target itself puts the session in the state a
 * refusal leaves: the transaction block aborted, the rest of an extended-protocol batch skipped to
 * Sync. The error coming back for the stand-in is replaced by the denial ({@link BackendRelay}).
 *
 * <ul>
 *   <li>Simple Query: one decision per statement, before anything is forwarded; any denial
 *       replaces the whole query by {@link #DENIED_QUERY}, a syntax error (nothing of it runs,
 *       not even the statements before the denied one). Text PostgreSQL 15's grammar rejects is
 *       answered with the parser's syntax error (42601) and likewise never forwarded; so is a Parse
 *       of such text, whose stand-in is a Parse that fails in the server's parser.
 *   <li>Extended protocol: Parse is classified (once per statement) and forwarded; Bind ties the
 *       portal to the statement's SQL; the first Execute of a portal is decided (continuations
 *       share that decision and its audit event); a denied Execute is replaced by {@link
 *       #DENIED_EXECUTE}, a Describe with an invalid subtype, which the server refuses with an
 *       ERROR before looking at any name.
 *   <li>FunctionCall: decided as a command flagged FUNCTION_CALL; denied, it is replaced by {@link
 *       #DENIED_QUERY} (the same ErrorResponse + ReadyForQuery shape).
 *   <li>COPY data, Describe, Close, Sync, Flush: relayed. CopyData is streamed, never held whole.
 * </ul>
 *
 * <p>The only writer of the target socket; never writes to the client.
 */
final class FrontendRelay {
  /** What refuses a statement that alters, renames or drops the role Gatehouse signs in as. */
  static final String RULE_GATEWAY_ROLE = "gateway-role";
  /** What refuses text PostgreSQL 15's grammar rejects (see {@link #refuseSyntaxError}). */
  static final String RULE_SYNTAX_ERROR = "syntax-error";
  /** Text of the stand-in for a refused Parse: fails in the server's raw parser, as DENIED_QUERY's does. */
  static final String DENIED_PARSE_TEXT = "GATEHOUSE_DENIED_THIS_STATEMENT";
  /** What refuses an Execute of a portal that code may have replaced since its Bind ({@link #refuseForgotten}). */
  static final String RULE_PORTAL_REPLACEABLE = "portal-replaceable";
  /** What refuses a statement that may change the settings Gatehouse reads text with. */
  static final String RULE_PARSING_SETTINGS = "parsing-settings";
  /** What refuses a statement whose result masking could not plan. */
  static final String RULE_MASKING_UNAVAILABLE = "masking-unavailable";
  /** How the rule of a masking refusal is named in the audit log: this, then the masking rule's name. */
  static final String MASKING_RULE = "masking:";

  /** The audit log's rule for {@code refusal}: {@link #MASKING_RULE} and the masking rule's name. */
  static String maskingRule(Refusal refusal) {
    return MASKING_RULE + refusal.rule();
  }
  /** What refuses a query message holding more than one COPY statement. */
  static final String RULE_ONE_COPY = "one-copy-per-query";
  /** Rule named when statement text follows, in the same batch, code that may have changed how the server reads SQL. */
  static final String RULE_PARSING_UNSETTLED = "parsing-unsettled";
  /** Why a session ends when its client sends Terminate (the audit's close reason). */
  private static final String TERMINATED = "client terminated the session";
  private static final Logger log = LoggerFactory.getLogger(FrontendRelay.class);

  /** Stand-in for a denied Query or FunctionCall: fails in the raw parser, before anything runs. */
  static final Frame DENIED_QUERY =
      FrontendCodec.encode(new Query("GATEHOUSE_DENIED_THIS_STATEMENT"));

  /**
   * Stand-in for a denied Execute: a Describe whose subtype is neither 'S' nor 'P'. PostgreSQL
   * answers it with ERROR 08P01 (not FATAL) before any lookup, which aborts the transaction and
   * starts skipping to Sync exactly as a failing Execute would. Unlike a name that "cannot
   * exist", no SQL (PREPARE, DECLARE) can make it succeed.
   */
  static final Frame DENIED_EXECUTE = new Frame(Describe.TYPE, new byte[] {'G', 0});

  private static final byte COPY_DATA = 'd';
  private static final Map<String, String> SIMPLE = Map.of("protocol", "simple");
  private static final Map<String, String> EXTENDED = Map.of("protocol", "extended");
  private static final Frame FLUSH = FrontendCodec.encode(Flush.INSTANCE);

  private final ProxySession s;
  private final MessageWriter target;
  /** The details of the last extended-protocol execution decided ({@link #details}); this direction's thread only. */
  private Map<String, String> lastDetails;
  /** Code Gatehouse cannot see into was allowed in this session ({@link #codeMayRun}); client thread only. */
  private boolean codeRan;
  /**
   * A message that may run code was forwarded since the target's settings were last known
   * ({@link #mayRunCode}): that code may have changed how the server reads SQL ({@code
   * set_config('standard_conforming_strings', 'off', false)} in a function, a trigger, a policy, a
   * domain's CHECK), which PostgreSQL reports only with its next ReadyForQuery, after it has read
   * whatever came behind. Client thread only; see {@link #awaitSettledParsing}.
   */
  private boolean settingsUnknown;
  /**
   * The sync point forwarded after the last message that may run code: once its ReadyForQuery has
   * come, with the settings it reports checked, they are known again ({@link #settle}); {@code
   * Long.MAX_VALUE} while no sync point followed. Client thread only.
   */
  private long settledBy = Long.MAX_VALUE;
  /**
   * An Execute was forwarded since the last sync point: it may have ended an aborted transaction
   * ({@link #aborted}), after which every message may run code again. Client thread only.
   */
  private boolean executedInBatch;
  /** The client's message being relayed in place ({@link #step}); this direction's thread only. */
  private final InPlaceMessage view = new InPlaceMessage();
  /** The portal and statement names the last messages read in place carried, reused while they repeat. */
  private String lastPortal;
  private String lastStatement;

  FrontendRelay(ProxySession session) {
    this.s = session;
    this.target = session.backend.writer();
    target.beforeHandOff(session.state::handingOff);
  }

  /** Thread mode: relays until the session ends. */
  void run() {
    try {
      while (step()) {
        // next message
      }
    } catch (IOException | RuntimeException | VirtualMachineError e) {
      // VirtualMachineError: one session running the heap or stack out must end that session (its
      // memory goes with it), not leave it open with its thread gone.
      stopped(e);
    }
  }

  /**
   * Event-loop mode: handles every message the client has sent so far and returns when the next
   * one is not whole yet (the loop calls again when more bytes arrive).
   *
   * @param in the client channel's stream under {@link ProxySession#clientReader}
   * @return false when this direction of the session is over
   */
  boolean ready(ChannelStreams.Input in) {
    if (s.ending().isPresent()) return false; // ended elsewhere: the target's direction tells the client
    try {
      for (int reads = 0; reads < RelayLoop.READS_PER_RUN; reads++) {
        int read = in.now(s.clientReader::readAvailable);
        boolean full = s.clientReader.room() == 0;
        while (read < 0 || s.clientReader.nextBuffered() || invalidTypeBuffered()) {
          if (!step()) return false;
        }
        if (read <= 0 || !full) break; // the socket had no more than the buffer took
      }
      target.flush();
      return true;
    } catch (IOException | RuntimeException | VirtualMachineError e) {
      // VirtualMachineError: one session running the heap or stack out must end that session (its
      // memory goes with it), not leave it open with its thread gone.
      stopped(e);
      return false;
    }
  }

  /**
   * Whether the next message's type byte, already buffered, is no message a session may send: it is
   * refused then, without waiting for the length and body it declares (review round 45: the
   * session waited, silent, for up to maxMessageBytes of a message it would refuse, and held them).
   */
  private boolean invalidTypeBuffered() {
    int type = s.clientReader.bufferedType();
    return type != -1 && !FrontendCodec.isSessionMessageType((byte) type);
  }

  private static void checkType(byte type) {
    if (!FrontendCodec.isSessionMessageType(type)) {
      throw ProtocolException.violation("invalid frontend message type " + typeName(type));
    }
  }

  /** Relays one client message; false when the session is over (the client left or said goodbye). */
  private boolean step() throws IOException {
    FrameReader reader = s.clientReader;
    // The type byte first (waited for in thread mode): one no session sends is refused before its
    // length and body arrive.
    int first = reader.buffered() > 0 ? reader.bufferedType() : reader.peek().orElse(-1);
    if (first == -1) {
      s.end("client disconnected", Optional.empty());
      return false;
    }
    checkType((byte) first);
    int whole = reader.wholeMessage(s.config.maxMessageLength());
    if (whole > 0 && view.read(reader.array(), reader.position(), whole)) {
      // A prepared statement's Bind, Describe, Execute or Sync, whole in the buffer: handled where
      // it lies and forwarded from there (null for the frame below), consumed afterwards.
      if (duringCopy(view.type())) inPlace(view);
      reader.consume(whole);
      if (reader.buffered() == 0) target.flush();
      return true;
    }
    Optional<FrameHeader> next = reader.readHeader(s.config.maxMessageLength());
    if (next.isEmpty()) {
      s.end("client disconnected", Optional.empty());
      return false;
    }
    FrameHeader header = next.get();
    if (header.type() == COPY_DATA) {
      // COPY FROM STDIN data: decided with its COPY statement, relayed in chunks; outside a COPY,
      // dropped (#copying).
      if (copying()) target.relay(header, s.clientReader);
      else s.clientReader.copyBody(header, java.io.OutputStream.nullOutputStream());
    } else if ((header.type() == Query.TYPE || header.type() == Parse.TYPE) && header.bodyLength() > MAX_STATEMENT_MESSAGE) {
      if (duringCopy(header.type())) refuseOversized(header);
    } else {
      long held = header.bodyLength() >= SessionState.HELD_MESSAGE_BYTES ? header.bodyLength() : 0;
      if (held > 0) s.state.holdMessage(held);
      try {
        Frame frame = s.clientReader.readBody(header);
        if (duringCopy(frame.type()) && !handle(frame)) return false;
      } finally {
        if (held > 0) s.state.releaseMessage(held);
      }
    }
    // Whole messages the client sent together are read together: forward them in one write.
    // (buffered() asks no system call, unlike hasBufferedBytes(), once per message batch.)
    if (s.clientReader.buffered() == 0) target.flush();
    return true;
  }

  /**
   * COPY FROM STDIN: while the target reads COPY data it ignores Sync (and Flush), and takes any
   * other message but CopyData, CopyDone and CopyFail as an error of the COPY, consuming it unread.
   * A Sync it ignores must not be expected to answer, and a message it consumes must not be taken
   * for what it says: either would put Gatehouse's idea of the session (which answer belongs to
   * which message, what a statement name holds) out of step with the target's. So when a COPY was
   * forwarded and the target has not yet said whether it reads data for it, a Sync or any other
   * such message waits for that answer; then, while the target reads COPY data, a Sync is dropped
   * (the target would ignore it) and any other message ends the session.
   *
   * @return whether the message is to be handled; false for a Sync the target would ignore
   */
  private boolean duringCopy(byte type) {
    if (type == CopyDone.TYPE || type == CopyFail.TYPE || type == Flush.TYPE || type == Terminate.TYPE) return true;
    if (s.state.copyIn(this::askForAnswers) != SessionState.CopyIn.ACTIVE) return true;
    if (type == Sync.TYPE) return false;
    throw ProtocolException.violation("unexpected message type " + typeName(type)
        + " during COPY FROM STDIN; end the COPY with CopyDone or CopyFail first");
  }

  /**
   * Whether the target reads COPY data now (waiting, when a COPY was forwarded, until it says).
   * CopyData, CopyDone and CopyFail outside a COPY are dropped: PostgreSQL ignores them there, as
   * the protocol says, but reads them as no part of an extended-protocol batch, so an error raised
   * as it reads one (a statement_timeout that ran out behind a Parse) is answered with a
   * ReadyForQuery no message asked for, and does not skip to the batch's Sync. That aborted the
   * batch's transaction behind Gatehouse's settings probe, and put the answers of the next queries
   * out of step with them: rows relayed under another query's masking (red-team round 38).
   */
  private boolean copying() {
    return s.state.copyIn(this::askForAnswers) == SessionState.CopyIn.ACTIVE;
  }

  /** Ends the session for the failure that stopped this direction. */
  private void stopped(Throwable failure) {
    switch (failure) {
      case ProtocolException e -> s.end("protocol violation by the client: " + e.getMessage(),
          Optional.of(Replies.fatal(e.sqlstate(), e.getMessage())));
      case PostgresGatewayException e ->
          s.end(e.getMessage(), Optional.of(Replies.fatal(e.sqlstate(), e.getMessage())));
      case SessionState.Closed e -> { } // ended elsewhere; the reason is recorded already
      case IOException e -> lost(e);
      case UncheckedIOException e -> lost(e.getCause());
      default -> {
        log.error("internal error relaying client messages", failure);
        s.end("internal error: " + failure, Optional.of(Replies.fatal("XX000", "internal error in Gatehouse; the session was ended")));
      }
    }
  }

  private void lost(IOException e) {
    if (s.clientInput.failed()) {
      s.end(ProxySession.clientLost(e), Optional.empty());
    } else {
      s.end("connection to resource lost while sending", Optional.of(Replies.resourceLost(s.session.resource().name())));
    }
  }

  /** Handles one client message; false when the client said goodbye. */
  private boolean handle(Frame frame) throws IOException {
    FrontendMessage message;
    try {
      message = FrontendCodec.decode(frame);
    } catch (ProtocolException e) {
      if (!ProtocolException.CHARACTER_NOT_IN_REPERTOIRE.equals(e.sqlstate()) || !UNREADABLE_REFUSED.containsKey(frame.type())) throw e;
      refuseUnreadable(frame);
      return true;
    }
    switch (message) {
      case Query q -> query(frame, q);
      case Parse p -> {
        Analysis analysis = s.classifier.analyze(p.query());
        if (p.parameterTypes().length > 0) analysis = withParameterTypes(analysis, p.parameterTypes());
        Optional<ErrorResponse> unsettled = awaitSettledParsing(analysis, EXTENDED);
        SessionState.Statement entry = s.state.parse(p.statement(), analysis);
        if (unsettled.isPresent()) {
          forward(new Expected.ParseDone(entry, unsettled), FrontendCodec.encode(new Parse(p.statement(), DENIED_PARSE_TEXT, new int[0])));
        } else if (analysis.syntaxError().isPresent()) {
          // As the server answers a Parse it cannot parse, and with the same effect on its state (a
          // failed Parse drops the unnamed statement; the rest of the batch is skipped to Sync).
          refuseSyntaxError(analysis, EXTENDED);
          forward(new Expected.ParseDone(entry, Optional.of(Replies.syntaxError(analysis.syntaxError().get()))),
              FrontendCodec.encode(new Parse(p.statement(), DENIED_PARSE_TEXT, new int[0])));
        } else {
          Optional<ErrorResponse> refused = refusedAtParse(p.statement(), analysis);
          if (refused.isPresent()) {
            forward(new Expected.ParseDone(entry, refused), FrontendCodec.encode(new Parse(p.statement(), DENIED_PARSE_TEXT, new int[0])));
          } else {
            forward(new Expected.ParseDone(entry), frame);
          }
        }
      }
      case Bind b -> {
        awaitSettledNames(b.portal(), b.statement());
        bind(frame, b.portal(), b.statement(), b.resultFormats(), b.parameters().size());
      }
      case Describe d -> {
        awaitSettledNames(d.name(), "");
        describe(frame, d.kind(), d.name());
      }
      case Execute e -> {
        awaitSettledNames(e.portal(), "");
        execute(frame, e.portal());
      }
      case Close c -> {
        awaitSettledNames(c.name(), "");
        if (c.kind() == Close.STATEMENT) {
          forward(new Expected.CloseDone(Optional.of(s.state.closeStatement(c.name()))), frame);
        } else {
          s.state.closePortal(c.name());
          if (!c.name().isEmpty() && s.masking.configured()) s.masking.cursorTouched(SessionState.serverName(c.name()));
          forward(new Expected.CloseDone(Optional.empty()), frame);
        }
      }
      case Sync sync -> sync(frame);
      case Flush flush -> {
        target.write(frame);
        target.flush();
      }
      case CopyData data -> {
        if (copying()) target.write(frame);
      }
      case CopyDone done -> {
        // Marked ended before it is written: until then the COPY cannot complete (SessionState.copyingIn).
        boolean copying = copying();
        s.state.copyEnded();
        if (copying) target.write(frame);
      }
      case CopyFail fail -> {
        boolean copying = copying();
        s.state.copyEnded();
        if (copying) target.write(frame);
      }
      case FunctionCall call -> functionCall(frame, call);
      case Terminate t -> {
        // The reason first: the target's side sees its connection close once Terminate is forwarded,
        // and would otherwise record "connection to resource lost" when it gets there first.
        s.claimEnding(TERMINATED, Optional.empty());
        s.backend.close(); // forwards Terminate, so the target ends its backend cleanly
        s.end(TERMINATED, Optional.empty());
        return false;
      }
      default -> throw ProtocolException.violation(
          "unexpected message type " + typeName(frame.type()) + " after startup");
    }
    return true;
  }

  /**
   * Handles a message {@link InPlaceMessage} read where it lies, as {@link #handle} handles the
   * same message decoded; its handlers get no frame (null), so {@link #forward} sends its bytes
   * from the read buffer.
   */
  private void inPlace(InPlaceMessage m) throws IOException {
    // Names read in place are printable ASCII (InPlaceMessage takes no other): no wait for the
    // settings (#awaitSettledNames) on this path, which every prepared execution takes.
    switch (m.type()) {
      case Bind.TYPE -> {
        lastPortal = m.name(lastPortal);
        lastStatement = m.statement(lastStatement);
        bind(null, lastPortal, lastStatement, m.resultFormats(), m.parameterCount());
      }
      case Describe.TYPE -> {
        if (m.kind() == Describe.STATEMENT) {
          lastStatement = m.name(lastStatement);
          describe(null, Describe.STATEMENT, lastStatement);
        } else {
          lastPortal = m.name(lastPortal);
          describe(null, Describe.PORTAL, lastPortal);
        }
      }
      case Execute.TYPE -> {
        lastPortal = m.name(lastPortal);
        execute(null, lastPortal);
      }
      case Sync.TYPE -> sync(null);
      default -> throw new IllegalStateException("not a message read in place: " + typeName(m.type()));
    }
  }

  private void describe(Frame frame, byte kind, String name) throws IOException {
    forward(kind == Describe.STATEMENT
        ? new Expected.DescribeDone(s.state.statementEntry(name), Optional.empty(), false)
        : new Expected.DescribeDone(Optional.empty(), s.state.portal(name), false), frame);
  }

  /** Rule of a statement message longer than Gatehouse classifies (see {@link #refuseOversized}). */
  static final String RULE_TOO_LONG = "statement-too-long";
  /** The longest query or Parse body read whole: a statement's text, a Parse's name and parameter types. */
  static final int MAX_STATEMENT_MESSAGE = SqlClassifier.MAX_STATEMENT_BYTES + 256 * 1024 + 1024;
  /** How much of an oversized statement message the audit keeps. */
  private static final int OVERSIZED_KEPT = 1024;
  /**
   * The messages whose text (SQL, statement or portal names) PostgreSQL reads in the client
   * encoding, answering bytes that are not valid there with ERROR 22021 while the session goes on
   * (a Bind's parameter values are bytes here: PostgreSQL checks text ones itself); a FunctionCall
   * or CopyFail that is not UTF-8 still ends the session. While the target skips to Sync after an
   * earlier error, such a message is skipped too, silently, as PostgreSQL skips it.
   */
  private static final Map<Byte, String> UNREADABLE_REFUSED = Map.of(Query.TYPE, "query", Parse.TYPE, "Parse message",
      Bind.TYPE, "Bind message", Describe.TYPE, "Describe message", Execute.TYPE, "Execute message", Close.TYPE, "Close message");

  /**
   * A query or Parse message longer than any statement text Gatehouse classifies ({@link
   * SqlClassifier#MAX_STATEMENT_BYTES}, plus room for a Parse's name and parameter types): refused
   * like an unclassifiable statement, but read in chunks rather than held whole, and recorded by its
   * beginning (string literals redacted), length and hash, so that a flood of them costs neither
   * memory nor disk in proportion to their size.
   */
  private void refuseOversized(FrameHeader header) throws IOException {
    boolean simple = header.type() == Query.TYPE;
    String what = simple ? "query" : "Parse message";
    Digest body = new Digest(OVERSIZED_KEPT);
    s.clientReader.copyBody(header, body);
    String text = "<" + what + " of " + header.bodyLength() + " bytes, longer than Gatehouse classifies; not forwarded;"
        + " SHA-256 " + body.hex() + "; it begins: " + SqlClassifier.redactAllStrings(body.start()) + ">";
    refuseUnread(simple, text, new Decision.Deny(RULE_TOO_LONG, "the statement is longer than "
        + SqlClassifier.MAX_STATEMENT_BYTES + " bytes, the most Gatehouse classifies"),
        ErrorResponse.of("ERROR", ProtocolException.PROGRAM_LIMIT_EXCEEDED, "the " + what + " of " + header.bodyLength()
            + " bytes is longer than the " + SqlClassifier.MAX_STATEMENT_BYTES + " bytes Gatehouse can check; it was not forwarded"));
  }

  /**
   * A query or Parse message refused without being read as SQL: recorded as {@code text} (no
   * statement of it), answered with {@code error} in the target's place (a Parse's stand-in makes the
   * target skip to Sync, as after any error).
   */
  private void refuseUnread(boolean simple, String text, Decision.Deny refusal, ErrorResponse error) throws IOException {
    s.checkpoint.refuse(s.session,
        new Command("sql", text, Classification.unclassified(), simple ? SIMPLE : EXTENDED), refusal);
    if (simple) {
      forward(new Expected.QueryDone(s.state.nextSyncPoint(), List.of(), Optional.of(error)), DENIED_QUERY);
    } else {
      forward(new Expected.ExecuteDone(Optional.empty(), Optional.of(error)), DENIED_EXECUTE);
    }
  }

  /** Keeps the first bytes written to it and hashes them all. */
  private static final class Digest extends java.io.OutputStream {
    private final java.security.MessageDigest sha256;
    private final byte[] start;
    private int kept;

    Digest(int keep) {
      try {
        sha256 = java.security.MessageDigest.getInstance("SHA-256");
      } catch (java.security.NoSuchAlgorithmException e) {
        throw new IllegalStateException("SHA-256 is missing from this JDK", e);
      }
      start = new byte[keep];
    }

    @Override
    public void write(int b) {
      write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) {
      sha256.update(b, off, len);
      int n = Math.min(len, start.length - kept);
      System.arraycopy(b, off, start, kept, n);
      kept += n;
    }

    String hex() {
      return java.util.HexFormat.of().formatHex(sha256.digest());
    }

    /** The first bytes as text: malformed UTF-8 (a cut character, a Parse's name) replaced, NULs shown as spaces. */
    String start() {
      return new String(start, 0, kept, java.nio.charset.StandardCharsets.UTF_8).replace('\0', ' ');
    }
  }

  /**
   * A whole message that is not valid UTF-8 (the session's client encoding): refused as PostgreSQL
   * refuses it, with ERROR 22021, and the session goes on. Nothing of it is forwarded: the
   * side-effect-free stand-in keeps the replies in order (a Query's ends its cycle; an extended
   * message's makes the target skip to the next Sync, as its own error would). The refusal is
   * audited; the text is not quoted, since an unreadable statement cannot have its secrets redacted.
   */
  private void refuseUnreadable(Frame frame) throws IOException {
    boolean simple = frame.type() == Query.TYPE;
    String what = UNREADABLE_REFUSED.get(frame.type());
    String text = "<" + what + " of " + frame.body().length + " bytes that are not valid UTF-8; not forwarded, not recorded>";
    refuseUnread(simple, text,
        new Decision.Deny(Checkpoint.RULE_UNREADABLE, "the message is not valid UTF-8, the session's client encoding"),
        Replies.invalidUtf8(what));
  }

  private void query(Frame frame, Query q) throws IOException {
    Analysis analysis = s.classifier.analyze(q.sql());
    Optional<ErrorResponse> unsettled = awaitSettledParsing(analysis, SIMPLE);
    commitsBatch();
    long number = s.state.nextSyncPoint();
    if (unsettled.isPresent()) {
      forward(new Expected.QueryDone(number, List.of(), unsettled), DENIED_QUERY);
      return;
    }
    if (analysis.syntaxError().isPresent()) {
      // PostgreSQL parses the whole query string before running any of it: nothing runs.
      refuseSyntaxError(analysis, SIMPLE);
      forward(new Expected.QueryDone(number, List.of(), Optional.of(Replies.syntaxError(analysis.syntaxError().get()))),
          DENIED_QUERY);
      return;
    }
    int copies = copies(analysis.statements());
    if (copies > 1) {
      // After the first COPY's data the target would run the next COPY and read data again, which
      // the client side could not tell from the end of the query: one COPY per query message.
      Decision.Deny refusal = new Decision.Deny(RULE_ONE_COPY,
          "a query message may hold one COPY statement; send each COPY as a query of its own");
      for (ClassifiedStatement statement : analysis.statements()) {
        s.checkpoint.refuse(s.session, new Command("sql", statement.redactedText(), statement.classification(), SIMPLE), refusal);
      }
      forward(new Expected.QueryDone(number, List.of(), Optional.of(Replies.denial(refusal))), DENIED_QUERY);
      return;
    }
    List<Execution> allowed = new ArrayList<>(analysis.statements().size());
    Optional<ErrorResponse> denial = decideAll(analysis.statements(), SIMPLE, allowed);
    if (denial.isPresent()) {
      allowed.forEach(e -> e.completeRefused(s.checkpoint));
      forward(new Expected.QueryDone(number, List.of(), denial), DENIED_QUERY);
      return;
    }
    if (touchesPortals(analysis.statements())) s.state.forgetPortals();
    if (makesPortals(analysis.statements())) s.state.portalsMayBeMade();
    for (int i = 0; i < allowed.size(); i++) {
      if (runsOpaqueCode(allowed.get(i)) || codeRan && resumesCode(allowed.get(i))) {
        codeMayRun(null);
        break;
      }
    }
    Expected.QueryDone done = new Expected.QueryDone(number, allowed, Optional.empty());
    if (copies == 1) s.state.copyMayStart(done);
    forward(done, frame);
    codeInBatch = false; // the query's own code ends with it (a later COMMIT resumes it: #resumesCode)
  }

  /** How many of the statements are COPY: each may make the target read COPY data from the client. */
  private static int copies(List<ClassifiedStatement> statements) {
    int n = 0;
    for (ClassifiedStatement statement : statements) if (statement.classification().kinds().contains("COPY")) n++;
    return n;
  }

  /**
   * Decides the portal's execution at its Bind: PostgreSQL plans the statement when it binds it, and
   * planning can already run functions (constant folding of immutable calls) and check privileges,
   * so a denied statement must not even be bound. A denied Bind is replaced by the side-effect-free
   * stand-in (the target then skips to Sync, as after a refusal of its own); an allowed one is
   * carried out by the portal's Execute, which shares its decision and audit event.
   */
  private void bind(Frame frame, String portalName, String statementName, short[] resultFormats, int values)
      throws IOException {
    // Never inert (#mayRunCode) when the statement has a name, which code may have given to other
    // SQL (#named), or when the Bind carries values: the server converts each to its parameter's
    // type, running a domain's CHECK, whatever the statement, an empty one too (red-team round 36:
    // a SHOW parsed with a parameter of a domain that had no CHECK yet).
    if ((!statementName.isEmpty() || values > 0) && !aborted()) unsettle();
    Optional<Analysis> analysis = s.state.statement(statementName, this::flushUnchecked);
    // Only sessions that ran opaque code pay the second look-up.
    boolean replaceable = codeRan && analysis.isPresent() && s.state.replaceableByCode(statementName);
    // A named portal shares its name with SQL cursors: a FETCH of it must not read as a DECLARE's.
    if (!portalName.isEmpty() && s.masking.configured()) s.masking.cursorTouched(SessionState.serverName(portalName));
    SessionState.Portal portal = s.state.bind(portalName, statementName, analysis, resultFormats);
    List<ClassifiedStatement> statements = analysis.isPresent()
        ? analysis.get().statements()
        : List.of(unknownStatement(portalName, Optional.of(portal)));
    if (statements.isEmpty()) {
      forward(new Expected.BindDone(Optional.empty(), Optional.empty(), Optional.of(portal)), frame); // an empty query: nothing to decide
      return;
    }
    PortalDecision decision;
    if (replaceable) {
      // What the target holds under this name may be what that code prepared: opaque code, decided
      // and masked as such, with the reason on record.
      Map<String, String> details = new java.util.TreeMap<>(details(portalName, Optional.of(statementName)));
      details.put("opaque_code", "prepared before code Gatehouse cannot see into ran in this session;"
          + " that code may have replaced it (DEALLOCATE and PREPARE run inside functions and DO blocks)");
      decision = decidePortal(statements.stream().map(ClassifiedStatement::opaque).toList(), details);
    } else {
      decision = decidePortal(statements, portalName, Optional.of(statementName));
    }
    if (decision.denial().isPresent()) {
      portal.denied = true;
      forward(new Expected.BindDone(Optional.empty(), decision.denial(), Optional.of(portal)), DENIED_EXECUTE);
      return;
    }
    portal.decided = decision.execution().orElseThrow();
    // Planning at the Bind already runs code: an immutable function's call on constants is folded
    // there, so what it changes (a setting, a prepared statement) is changed before the Execute.
    // So may a row-level security policy's call, added to the plan there.
    if (runsOpaqueCode(portal.decided)) codeMayRun(portalName);
    forward(new Expected.BindDone(decision.execution(), Optional.empty(), Optional.of(portal)), frame);
  }

  /** A portal's statements decided as one execution, or the refusal of one of them. */
  private record PortalDecision(Optional<Execution> execution, Optional<ErrorResponse> denial) {}

  private PortalDecision decidePortal(List<ClassifiedStatement> statements, String portalName, Optional<String> statementName)
      throws IOException {
    return decidePortal(statements, details(portalName, statementName));
  }

  private PortalDecision decidePortal(List<ClassifiedStatement> statements, Map<String, String> details) throws IOException {
    List<Execution> allowed = new ArrayList<>(statements.size());
    Optional<ErrorResponse> denial = decideAll(statements, details, allowed);
    if (denial.isPresent()) {
      allowed.forEach(x -> x.completeRefused(s.checkpoint));
      return new PortalDecision(Optional.empty(), denial);
    }
    // One execution, one audit outcome: in practice a prepared statement holds one statement.
    if (allowed.size() == 1) return new PortalDecision(Optional.of(allowed.getFirst()), Optional.empty());
    List<Verdict> verdicts = allowed.stream().flatMap(x -> x.verdicts().stream()).toList();
    Optional<StatementMasking> masking = allowed.stream().map(Execution::masking).flatMap(Optional::stream).findFirst();
    return new PortalDecision(
        Optional.of(new Execution(verdicts, masking, allowed.stream().anyMatch(Execution::schemaChange))),
        Optional.empty());
  }

  /**
   * Records the refusal of an Execute of a portal that code Gatehouse cannot see into may have
   * replaced since its Bind (review round 45: a job fetching a cursor in batches and calling a
   * function per row failed at its second fetch with 34000, and the log said nothing of it). Its
   * statements are what the portal was bound from; nothing ran.
   */
  private void refuseForgotten(String portalName, SessionState.Portal portal) {
    Decision.Deny refusal = new Decision.Deny(RULE_PORTAL_REPLACEABLE, "portal \"" + StartupParameters.sanitizeName(portalName)
        + "\" may have been closed, and another of its name opened, since its Bind (by SQL such as CLOSE or DECLARE, or"
        + " by code Gatehouse cannot see into, a DO block or a function); the Execute was not forwarded, and its answer is"
        + " 34000 (bind it again), unless an earlier error in its batch skips it to the Sync");
    List<ClassifiedStatement> statements = portal.analysis.isPresent() ? portal.analysis.get().statements()
        : List.of(unknownStatement(portalName, Optional.of(portal)));
    Map<String, String> details = details(portalName, Optional.of(portal.statement));
    for (ClassifiedStatement statement : statements) {
      s.checkpoint.refuse(s.session, new Command("sql", statement.redactedText(), statement.classification(), details), refusal);
    }
  }

  /**
   * An extended-protocol execution's details: the same immutable map as last time when the portal and
   * statement names are the same (a prepared statement executed again), so that neither the map nor
   * the audit record of the command is made again ({@code AuditLog} compares details first by identity).
   */
  private Map<String, String> details(String portalName, Optional<String> statementName) {
    Map<String, String> last = lastDetails;
    // No lambda here: this runs for every execution. A map without "statement" gets null from get().
    if (last != null && portalName.equals(last.get("portal")) && Objects.equals(statementName.orElse(null), last.get("statement"))) {
      return last;
    }
    Map<String, String> made = statementName.isPresent()
        ? Map.of("protocol", "extended", "portal", portalName, "statement", statementName.get())
        : Map.of("protocol", "extended", "portal", portalName);
    lastDetails = made;
    return made;
  }

  private void execute(Frame frame, String portalName) throws IOException {
    Optional<SessionState.Portal> portal = s.state.portalToExecute(portalName, this::flushUnchecked);
    if (portal.isPresent() && !SessionState.known(portal.get())) {
      // Its Bind was refused or failed (the target may hold an older portal of that name), or SQL
      // may have ended it and made another (CLOSE, DECLARE, COMMIT AND CHAIN, ROLLBACK TO): what
      // the target would run is unknown, so the stand-in goes instead and nothing runs.
      if (portal.get().forgotten && !portal.get().denied) refuseForgotten(portalName, portal.get());
      forward(new Expected.ExecuteDone(Optional.empty(), Optional.of(Replies.portalUnknown(portalName))), DENIED_EXECUTE);
      return;
    }
    if (portal.isPresent() && portal.get().execution != null) {
      // A later Execute of the same portal fetches more rows of the same execution (the server
      // never runs a portal twice), so it shares the decision, the audit event and the mask plan.
      // Its code goes on running as the rows are fetched.
      if (codeRan && runsOpaqueCode(portal.get().execution)) codeMayRun(portalName);
      portal.get().execution.executeForwarded(); // running again, until the target answers
      forward(new Expected.ExecuteDone(Optional.of(portal.get().execution), Optional.empty(),
          Optional.ofNullable(portal.get().plan)), frame);
      if (named(portalName, portal)) unsettle();
      return;
    }
    if (portal.isEmpty() && s.state.portalEnded(portalName)) {
      // Bound here and ended since (its transaction ended, or a Close closed it), and nothing since
      // can have made another of its name: the target would answer as PostgreSQL does, and nothing
      // runs. The stand-in fails there with the same effect (the batch is skipped to its Sync).
      forward(new Expected.ExecuteDone(Optional.empty(), Optional.of(Replies.portalDoesNotExist(portalName))), DENIED_EXECUTE);
      return;
    }
    // No Optional chain and no lambdas: this runs for every execution.
    List<ClassifiedStatement> statements = portal.isPresent() && portal.get().analysis.isPresent()
        ? portal.get().analysis.get().statements()
        : List.of(unknownStatement(portalName, portal));
    if (statements.isEmpty()) {
      forward(new Expected.ExecuteDone(Optional.empty(), Optional.empty()), frame); // empty query
      return;
    }
    Execution execution;
    if (portal.isPresent() && portal.get().decided != null) {
      execution = portal.get().decided; // decided at its Bind
    } else {
      // A portal Gatehouse did not see bound (a cursor from SQL DECLARE): decided here, as unknown.
      PortalDecision decision = decidePortal(statements, portalName, portal.map(p -> p.statement));
      if (decision.denial().isPresent()) {
        forward(new Expected.ExecuteDone(Optional.empty(), decision.denial()), DENIED_EXECUTE);
        return;
      }
      execution = decision.execution().orElseThrow();
    }
    Optional<StatementMasking> masking = execution.masking();
    Optional<MaskPlan> plan = Optional.empty();
    if (masking.isPresent()) {
      // Never relay a row before its plan exists: learn the result's shape before the Execute goes.
      Optional<Refusal> refused = Optional.empty();
      if (portal.isEmpty()) {
        refused = Optional.of(new Refusal(masking.get().planner().rules().get(0),
            "portal \"" + portalName + "\" was not bound through this connection, so the shape of its rows is unknown"));
      } else {
        Optional<SessionState.Shape> shape = s.state.shape(portal.get());
        if (shape.isEmpty()) {
          forward(new Expected.DescribeDone(Optional.empty(), portal, true), FrontendCodec.encode(Describe.portal(portalName)));
          // The server holds its answers until a Sync or Flush; the client's Sync is still behind the Execute.
          target.write(FLUSH);
          shape = s.state.awaitShape(portal.get(), this::flushUnchecked);
        }
        if (shape.isEmpty()) {
          refused = Optional.of(new Refusal(masking.get().planner().rules().get(0),
              "the shape of the rows of portal \"" + portalName + "\" could not be learnt, so they cannot be masked"));
        } else if (shape.get().rows().isPresent()) {
          MaskPlan p = masking.get().plan(shape.get().rows().get(),
              shape.get().formatsKnown() ? new short[0] : portal.get().resultFormats);
          refused = p.refusal();
          plan = Optional.of(p);
        }
      }
      if (refused.isPresent()) {
        // The target skips to the client's Sync after an earlier error in the batch, the Describe
        // with it: it skips this Execute as well, which is recorded as the statements it skips are
        // (review round 44: REFUSED, as if Gatehouse had refused what policy allowed).
        Optional<String> skippedFor = plan.isEmpty() ? s.state.skippedFor() : Optional.empty();
        if (skippedFor.isPresent()) execution.completeError(s.checkpoint, skippedFor.get());
        else execution.completeRefused(s.checkpoint, maskingRule(refused.get()), refused.get().reason());
        forward(new Expected.ExecuteDone(Optional.empty(), Optional.of(Replies.maskingRefused(refused.get()))), DENIED_EXECUTE);
        return;
      }
    }
    if (portal.isPresent()) {
      portal.get().execution = execution;
      portal.get().plan = plan.orElse(null);
    }
    for (ClassifiedStatement statement : statements) forgetStatementNames(statement);
    if (touchesPortals(statements)) s.state.forgetPortals();
    if (makesPortals(statements)) s.state.portalsMayBeMade();
    if (runsOpaqueCode(execution) || codeRan && resumesCode(execution)) codeMayRun(portalName);
    execution.executeForwarded();
    Expected.ExecuteDone done = new Expected.ExecuteDone(Optional.of(execution), Optional.empty(), plan);
    if (copies(statements) > 0) s.state.copyMayStart(done);
    forward(done, frame);
    if (named(portalName, portal)) unsettle();
  }

  /**
   * Whether the portal, or the statement it was bound from, has a name: code can replace what a
   * name holds (DEALLOCATE and PREPARE, CLOSE and DECLARE in a trigger or a policy's function, which
   * policy does not see as opaque code: red-team round 35), so its execution is never taken for
   * {@link #INERT}; the unnamed statement and portal cannot be replaced from SQL.
   */
  private static boolean named(String portalName, Optional<SessionState.Portal> portal) {
    return !portalName.isEmpty() || portal.isEmpty() || !portal.get().statement.isEmpty();
  }

  private void functionCall(Frame frame, FunctionCall call) throws IOException {
    commitsBatch();
    long number = s.state.nextSyncPoint();
    // The fast path names a function by OID and carries no SQL: nothing to classify, so it is
    // opaque code, and policy denies FUNCTION_CALL unless a rule allows it.
    Classification classification = new Classification(List.of("FUNCTION CALL"), Set.of(),
        Set.of("oid:" + Integer.toUnsignedString(call.functionOid())),
        Set.of(CommandFlag.FUNCTION_CALL, CommandFlag.OPAQUE_CODE));
    ClassifiedStatement statement = new ClassifiedStatement(
        "<fast-path function call of function oid " + Integer.toUnsignedString(call.functionOid()) + ">",
        "<fast-path function call of function oid " + Integer.toUnsignedString(call.functionOid()) + ">",
        classification, false);
    List<Execution> allowed = new ArrayList<>();
    Optional<ErrorResponse> denial = decideAll(List.of(statement), Map.of("protocol", "function-call"), allowed);
    if (denial.isPresent()) {
      forward(new Expected.FunctionCallDone(number, Optional.empty(), denial), DENIED_QUERY);
      return;
    }
    codeMayRun(null);
    forward(new Expected.FunctionCallDone(number, Optional.of(allowed.get(0)), Optional.empty()), frame);
    codeInBatch = false; // as after a query

  }

  /**
   * Whether an execution may go on running code an earlier statement started (once some ran in this
   * session): a FETCH or MOVE runs its cursor's query as it reads rows, and a commit (or SET
   * CONSTRAINTS … IMMEDIATE) runs deferred triggers and fills the WITH HOLD cursors (red-team round 12, noticed:
   * {@code DECLARE c CURSOR FOR SELECT f()} marked the names at the DECLARE, but f ran at the FETCH,
   * after a Parse that nothing then marked).
   */
  private static boolean resumesCode(Execution execution) {
    List<Verdict> verdicts = execution.verdicts();
    for (int i = 0; i < verdicts.size(); i++) {
      for (String kind : verdicts.get(i).command().classification().kinds()) {
        if (RESUMES_CODE.contains(kind)) return true;
      }
    }
    return false;
  }

  private static final Set<String> RESUMES_CODE =
      Set.of("FETCH", "MOVE", "COMMIT", "END", "PREPARE TRANSACTION", "COMMIT PREPARED", "SET CONSTRAINTS");

  /**
   * Statement kinds PostgreSQL parse-analyses at a {@code Parse} (the others are utility statements,
   * analysed when they run): analysis opens the relations named, taking the locks the statement will
   * need ({@code RowExclusiveLock} for an {@code UPDATE}, held until the transaction ends), and runs
   * the input functions of the literals it types (a domain's {@code CHECK}).
   */
  private static final Set<String> ANALYSED_AT_PARSE = Set.of("SELECT", "INSERT", "UPDATE", "DELETE", "MERGE",
      "DECLARE CURSOR", "EXPLAIN", "CREATE TABLE AS", "CREATE MATERIALIZED VIEW", "CALL");
  /** How long a Parse of the same statement, allowed ahead, is not looked at again (pgbench's extended mode parses every transaction). */
  private static final long PARSE_MEMO_NANOS = 1_000_000_000L;
  /** The statement whose Parse was last looked at and not refused, and when; client thread only. */
  private Analysis parseAllowed;
  private long parseAllowedAt;

  /**
   * A {@code Parse} of a statement that policy refuses is refused itself, before PostgreSQL analyses
   * it (red-team round 5, noticed since: a read-only user's {@code Parse} of a refused {@code DELETE}
   * inside a transaction held {@code RowExclusiveLock} on the table, which holds back {@code CREATE
   * INDEX}, until the transaction ended). The refusal is audited with the statement's name; the
   * execution of an allowed statement is still decided at its Bind, which may refuse it too.
   * Statements PostgreSQL does not analyse at a Parse are left to their Bind.
   */
  private Optional<ErrorResponse> refusedAtParse(String name, Analysis analysis) {
    List<ClassifiedStatement> statements = analysis.statements();
    long now = System.nanoTime();
    if (statements.isEmpty() || analysis == parseAllowed && now - parseAllowedAt < PARSE_MEMO_NANOS) return Optional.empty();
    Map<String, String> details = null;
    for (int i = 0; i < statements.size(); i++) {
      List<String> kinds = statements.get(i).classification().kinds();
      // A statement Gatehouse could not classify (its parse tree over the classifier's bound) is
      // valid SQL the server would analyse, taking its tables' locks (red-team round 41): decided
      // here like the kinds below. One that does not parse goes on: PostgreSQL's own parser
      // refuses it, before any analysis.
      boolean unread = statements.get(i).classification().has(CommandFlag.UNCLASSIFIED) && analysis.syntaxError().isEmpty();
      if (!unread && (kinds.isEmpty() || !ANALYSED_AT_PARSE.contains(kinds.getFirst()))) continue;
      if (details == null) details = Map.of("protocol", "extended", "statement", name, "decided_at", "parse");
      Command command = seen(statements.get(i), details).command();
      Optional<Decision> denial = s.checkpoint.policyDenial(s.session, command);
      if (denial.isPresent()) {
        // An approval nobody has given yet refuses it too (round 19: bob's Parse of CREATE TABLE AS
        // WITH d AS (DELETE …), which needs approval, held RowExclusiveLock on the table).
        Decision.Deny recorded = switch (denial.get()) {
          case Decision.Deny d -> d;
          case Decision.RequireApproval a -> new Decision.Deny(a.rule(), "this statement requires approval: " + a.reason());
          case Decision.Allow a -> throw new IllegalStateException("an allow is no denial");
        };
        s.checkpoint.refuse(s.session, command, recorded);
        return Optional.of(Replies.denial(denial.get()));
      }
    }
    parseAllowed = analysis;
    parseAllowedAt = now;
    return Optional.empty();
  }

  /**
   * A Parse's statements as their parameter types make them: the server converts each of a Bind's
   * values to its type, and converting to a domain whose CHECK calls a function someone made runs
   * that function (at the Bind, for a statement as plain as {@code SELECT $1}), as a cast to it
   * would. Such statements are opaque code: policy decides them as such at the Bind.
   */
  private Analysis withParameterTypes(Analysis analysis, int[] parameterTypes) {
    Optional<String> coded = s.masking.codedParameter(parameterTypes);
    if (coded.isEmpty()) return analysis;
    List<ClassifiedStatement> opaque = new ArrayList<>(analysis.statements().size());
    if (codedParameters.size() >= MAX_CODED_PARAMETERS) codedParameters.clear(); // only the audit's reason is lost
    for (ClassifiedStatement statement : analysis.statements()) {
      ClassifiedStatement o = statement.opaque();
      codedParameters.put(o, coded.get());
      opaque.add(o);
    }
    return new Analysis(opaque, analysis.syntaxError());
  }

  /** The reason on record for statements made opaque code by their parameter types; client thread only. */
  private final Map<ClassifiedStatement, String> codedParameters = new java.util.HashMap<>();
  private static final int MAX_CODED_PARAMETERS = 64;

  /** Whether an allowed execution may run code Gatehouse cannot see into (as policy saw it). */
  private static boolean runsOpaqueCode(Execution execution) {
    List<Verdict> verdicts = execution.verdicts();
    for (int i = 0; i < verdicts.size(); i++) {
      if (verdicts.get(i).command().classification().has(CommandFlag.OPAQUE_CODE)) return true;
    }
    return false;
  }

  /**
   * Code Gatehouse cannot see into is about to run: it may replace prepared statements and portals
   * under their names (see {@link SessionState#codeMayRun}). A later Bind of a statement parsed
   * before it counts as opaque code too, and a later Execute of a portal bound before it is refused.
   */
  private void codeMayRun(String runningPortal) {
    s.state.codeMayRun(runningPortal);
    s.masking.codeMayRun();
    codeRan = true;
    codeInBatch = true;
  }

  /** Opaque code was allowed since the last Sync ({@link #sync}); client thread only. */
  private boolean codeInBatch;

  /**
   * A Sync: it commits the batch's implicit transaction, which runs the deferred triggers that code
   * run in the batch may have queued. So when opaque code ran since the last Sync, the commit counts
   * as that code running again, as a COMMIT does ({@link #resumesCode}): a statement parsed behind
   * the code, in the same batch, may be replaced at the commit (the settings probe lets it be
   * parsed there; the old barrier refused it).
   */
  private void sync(Frame frame) throws IOException {
    commitsBatch();
    forward(new Expected.SyncDone(s.state.nextSyncPoint()), frame);
  }

  /**
   * A sync point (a Sync, a query, a fast-path call, whatever it holds, an empty or refused one
   * too) ends the batch's implicit transaction: see {@link #sync} (red-team round 37: an empty query
   * committed a batch whose deferred trigger replaced a statement parsed in it).
   */
  private void commitsBatch() {
    if (codeInBatch) {
      codeMayRun(null);
      codeInBatch = false;
    }
  }

  /**
   * Statement text (a query, a Parse) is read by the server under the settings in force when it
   * arrives. After a message that may have run code ({@link #mayRunCode}), it waits until those
   * settings are known: outside an extended-protocol batch, until the target has answered
   * everything before it (a ReadyForQuery reports a changed setting, and a changed
   * standard_conforming_strings or client_encoding ends the session there, before this text is
   * forwarded); inside a batch no Sync has closed, which reports nothing until that Sync, Gatehouse
   * asks the target itself ({@link Expected.SettingsProbe}) and forwards the text only if they are
   * as it reads SQL. Whatever ran, by whatever way (a function, a trigger, a row-level security
   * policy, a domain's CHECK, a cast, a deferred trigger at a commit): no catalog is asked (red-team
   * rounds 18c to 34 found a way round each look the catalog took). A client that reads each answer
   * before it sends more (psql, pgbench, drivers outside pipelines) never waits here.
   *
   * @return the error to answer in the text's place, when it is not forwarded (a refusal is audited here)
   */
  private Optional<ErrorResponse> awaitSettledParsing(Analysis analysis, Map<String, String> details) {
    Optional<Unsettled> unsettled = settle();
    if (unsettled.isEmpty()) return Optional.empty();
    if (!unsettled.get().skipped()) {
      for (ClassifiedStatement statement : analysis.statements()) {
        s.checkpoint.refuse(s.session, seen(statement, details).command(), unsettled.get().refusal());
      }
    }
    return Optional.of(unsettled.get().error());
  }

  /**
   * Why what waited for the settings is not forwarded ({@link #settle}).
   *
   * @param refusal the refusal on record
   * @param error the client's error in its place
   * @param skipped the target skips it anyway, after an earlier error (the client has that error)
   * @param changed a setting changed (not: the probe could not be answered)
   */
  private record Unsettled(Decision.Deny refusal, ErrorResponse error, boolean skipped, boolean changed) {}

  /** Waits until the target's settings are known ({@link #awaitSettledParsing}); empty when they are as Gatehouse reads. */
  private Optional<Unsettled> settle() {
    if (!settingsUnknown) return Optional.empty();
    if (s.state.answered(settledBy)) {
      // A sync point came after the last message that may have run code, and its ReadyForQuery
      // reported the settings as they were then (pgjdbc's next query after an answered batch often
      // opens with the Close of an earlier statement, which keeps its batch open: red-team round 40).
      settingsUnknown = false;
      return Optional.empty();
    }
    if (s.state.awaitAllAnswered(this::flushUnchecked)) {
      settingsUnknown = false;
      return Optional.empty();
    }
    Expected.SettingsProbe probe = null;
    if (s.state.skippedFor().isEmpty()) {
      probe = new Expected.SettingsProbe();
      s.state.expect(probe, this::flushUnchecked);
      try {
        for (Frame frame : PROBE) target.write(frame);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    if (probe == null || !s.state.awaitProbe(probe, this::askForAnswers)) {
      // The target skips to the client's Sync after an earlier error: it skips this message too,
      // and the client has its error already. A stand-in goes in its place all the same.
      Decision.Deny refusal = new Decision.Deny(RULE_PARSING_UNSETTLED, "the resource skips the rest of the batch after an earlier error");
      return Optional.of(new Unsettled(refusal, Replies.denial(refusal), true, false));
    }
    if (probe.failure().isPresent()) {
      // The target's error was answered in this message's place (BackendRelay); it skips the rest.
      return Optional.of(new Unsettled(new Decision.Deny(RULE_PARSING_UNSETTLED, "the resource's settings could not be"
          + " read behind code that may have run earlier in the batch (SQLSTATE " + probe.failure().get().sqlstate() + ")"),
          Replies.settingsUnknown(probe.failure().get()), false, false));
    }
    for (int i = 0; i < Expected.SettingsProbe.SETTINGS.size(); i++) {
      String setting = Expected.SettingsProbe.SETTINGS.get(i);
      String value = Objects.requireNonNullElse(probe.value(i), "");
      if (probe.value(i) == null || BackendRelay.readsSqlOtherwise(setting, value)) {
        return Optional.of(new Unsettled(new Decision.Deny(RULE_PARSING_UNSETTLED, "code run earlier in the batch changed "
            + setting + " to \"" + StartupParameters.sanitizeName(value) + "\""),
            Replies.settingChangedInBatch(setting, value), false, true));
      }
    }
    settingsUnknown = false;
    return Optional.empty();
  }

  /**
   * A Bind, Describe, Execute or Close names a statement or portal, which the server reads in the
   * client encoding as it reads statement text: behind code that may have changed client_encoding,
   * a name that is not ASCII (which every client encoding reads alike) waits for the settings as
   * text does, so that it names for the server what it names for Gatehouse; a changed setting ends
   * the session. Drivers' names (S_1, P0_1, the unnamed ones) never wait.
   */
  private void awaitSettledNames(String first, String second) {
    if (!settingsUnknown || ascii(first) && ascii(second)) return;
    Optional<Unsettled> unsettled = settle();
    if (unsettled.isPresent() && unsettled.get().changed()) {
      throw new PostgresGatewayException("08P01", "resource \"" + s.session.resource().name() + "\": "
          + unsettled.get().refusal().reason() + " before a message naming a statement or portal that is not ASCII;"
          + " Gatehouse requires client_encoding UTF8 and standard_conforming_strings on, so the session was ended");
    }
  }

  private static boolean ascii(String name) {
    for (int i = 0; i < name.length(); i++) {
      if (name.charAt(i) >= 0x80) return false;
    }
    return true;
  }

  /**
   * Gatehouse's settings probe ({@link Expected.SettingsProbe}): for each setting, a Parse of its
   * {@code SHOW}, a Bind, an Execute, and the Close of the portal and of the statement.
   */
  private static final List<Frame> PROBE = probeFrames();

  private static List<Frame> probeFrames() {
    List<Frame> frames = new ArrayList<>();
    String name = Expected.SettingsProbe.NAME;
    for (String setting : Expected.SettingsProbe.SETTINGS) {
      frames.add(FrontendCodec.encode(new Parse(name, "SHOW " + setting, new int[0])));
      frames.add(FrontendCodec.encode(new Bind(name, name, new short[0], List.of(), new short[0])));
      frames.add(FrontendCodec.encode(new Execute(name, 0)));
      frames.add(FrontendCodec.encode(new Close(Close.PORTAL, name)));
      frames.add(FrontendCodec.encode(new Close(Close.STATEMENT, name)));
    }
    return List.copyOf(frames);
  }

  /**
   * Whether a forwarded message may run code, which may change how the server reads SQL: a Parse
   * (its analysis converts literals, and {@code '{1}'::d[]} converts each element to domain d,
   * running d's CHECK, as composites and ranges of d do), a Bind (planning folds an immutable
   * function's call on constants, and a parameter's conversion to a domain runs its CHECK), an
   * Execute, a client's Describe (PostgreSQL analyses a statement again there when DDL invalidated
   * it, literals and all), the Close of a portal (it ends the portal's execution: counted to be
   * safe), and every sync point: a Sync, a query, a fast-path call, empty or refused ones too (each
   * ends the batch's implicit transaction); not when all it carries is a statement that runs no
   * one's code and changes no setting ({@link #INERT}: the BEGIN a driver sends before a transaction's first statement, in the
   * same batch; only through the unnamed statement and portal, see {@link #named}, and a Bind with
   * no values, see {@link #bind}), nor Gatehouse's
   * own Describe of a portal, the Close of a statement or a Flush.
   */
  private static boolean mayRunCode(Expected expected) {
    return switch (expected) {
      case Expected.ParseDone p -> p.denial().isEmpty() && !inert(p.entry().analysis);
      case Expected.BindDone b -> b.decided().isPresent() && !inert(b.decided().get());
      case Expected.ExecuteDone x -> x.execution().isPresent() && !inert(x.execution().get());
      case Expected.CloseDone c -> c.tombstone().isEmpty();
      case Expected.DescribeDone d -> !d.own();
      // A sync point ends the batch's implicit transaction, whatever it holds: its commit runs
      // deferred triggers and drops SET LOCAL values, its abort (a refusal's stand-in fails) puts
      // back the settings of the transaction's start (red-team round 37).
      case Expected.QueryDone q -> true;
      case Expected.SyncDone sync -> true;
      case Expected.FunctionCallDone call -> true;
      default -> false;
    };
  }

  /** Whether the text a Parse carries holds only {@link #INERT} statements. */
  private static boolean inert(Optional<Analysis> analysis) {
    if (analysis.isEmpty() || analysis.get().syntaxError().isPresent() || analysis.get().statements().isEmpty()) return false;
    for (ClassifiedStatement statement : analysis.get().statements()) {
      if (!inert(statement.classification())) return false;
    }
    return true;
  }

  /** Statements that run no one's code and change no setting. */
  private static final Set<String> INERT = Set.of("BEGIN", "START TRANSACTION", "SAVEPOINT", "RELEASE", "SHOW");

  /** Whether all the execution carries out is {@link #INERT}. */
  private static boolean inert(Execution execution) {
    List<Verdict> verdicts = execution.verdicts();
    for (int i = 0; i < verdicts.size(); i++) {
      if (!inert(verdicts.get(i).command().classification())) return false;
    }
    return true;
  }

  private static boolean inert(Classification c) {
    if (c.has(CommandFlag.OPAQUE_CODE) || c.kinds().isEmpty()) return false;
    for (String kind : c.kinds()) {
      if (!INERT.contains(kind)) return false;
    }
    return true;
  }

  /**
   * Decides the statements in order, stopping at the first refusal (the server would not run the
   * rest either). Allowed ones are added to {@code allowed}, one execution each.
   *
   * @return the client's error when one was refused
   */
  private Optional<ErrorResponse> decideAll(
      List<ClassifiedStatement> statements, Map<String, String> details, List<Execution> allowed) throws IOException {
    // What came before (a Parse, say) stays buffered: it leaves with the messages after it in one
    // write. Flushing it first cost a write and a wake-up of the target per extended-protocol
    // transaction, while a decision no longer waits for anything slow (the journal append is a copy;
    // only durability: machine waits for a sync).
    // Code allowed before a statement in the same message may replace prepared statements under
    // their names before it runs; the mark that code ran comes only once the message is decided.
    // Kept as the statements are decided: rescanning what was allowed before each one was quadratic
    // (red-team round 40: one query of 222,222 statements held a core for minutes).
    boolean codeBefore = false;
    for (int i = 0; i < statements.size(); i++) {
      if ((i & 255) == 255 && s.state.ending()) {
        // The session ended while a long message was being decided (the gateway's shutdown, say):
        // what was decided is never forwarded, and says so, before the audit log closes (round 40:
        // a query of 60,000 statements went on being decided past the shutdown's wait, and its
        // decisions were left without outcomes, its session without its close).
        allowed.forEach(e -> e.completeAborted(s.checkpoint));
        allowed.clear();
        throw new SessionState.Closed();
      }
      int before = allowed.size();
      Optional<ErrorResponse> refused = decide(statements.get(i), details, allowed, codeBefore);
      if (refused.isPresent()) {
        auditUnrun(statements, i + 1, details);
        return refused;
      }
      for (int j = before; j < allowed.size() && !codeBefore; j++) codeBefore = runsOpaqueCode(allowed.get(j));
    }
    return Optional.empty();
  }

  /**
   * Decides one statement: adds its execution to {@code allowed}, or returns the client's error.
   * {@code codeBefore}: an execution allowed before it in the same message runs opaque code.
   */
  private Optional<ErrorResponse> decide(ClassifiedStatement classified, Map<String, String> details, List<Execution> allowed,
      boolean codeBefore) throws IOException {
    Seen seen = seen(classified, details, codeBefore);
    ClassifiedStatement statement = seen.statement();
    Command command = seen.command();
    if (!statement.roles().isEmpty()) {
      Optional<String> own = gatewayRole(statement);
      if (own.isPresent()) {
        Decision.Deny refusal = new Decision.Deny(RULE_GATEWAY_ROLE, "the statement alters, renames or drops " + own.get()
            + ", the role Gatehouse signs in to this resource with; changing it (its password, say) would lock everyone"
            + " out, or open the resource to whoever knows the new password without Gatehouse");
        s.checkpoint.refuse(s.session, command, refusal);
        return Optional.of(Replies.denial(refusal));
      }
    }
    // Policy first, then the gateway's own refusals of what policy allowed; the one decision that
    // stands is audited (review round 45: a masking or parsing-settings refusal was recorded as
    // policy's ALLOW with an outcome REFUSED, naming no rule and no reason).
    Decision decision = s.checkpoint.judge(s.session, command);
    ErrorResponse reply = null;
    Optional<StatementMasking> masking = Optional.empty();
    if (decision instanceof Decision.Allow) {
      if (statement.changesParsing()) {
        boolean unknown = isUnknownStatement(statement);
        reply = unknown ? Replies.unknownStatementRefused(statement.text().substring(1, statement.text().length() - 1))
            : Replies.parsingSettingRefused();
        decision = new Decision.Deny(RULE_PARSING_SETTINGS, unknown
            ? "its SQL is unknown to Gatehouse, and a statement Gatehouse cannot read may change the settings it reads text with"
            : "client_encoding, standard_conforming_strings and backslash_quote are fixed for the session, and a statement"
                + " that may change them is refused");
      } else {
        try {
          masking = s.masking.statement(decision, statement);
        } catch (MaskingException | PostgresGatewayException e) {
          reply = Replies.maskingUnavailable(e.getMessage());
          decision = new Decision.Deny(RULE_MASKING_UNAVAILABLE, "the statement's result could not be masked, so it was not run: "
              + e.getMessage());
        }
        if (reply == null && masking.isPresent()) {
          StatementMasking m = masking.get();
          Optional<Refusal> refusal = m.screen().or(() -> copyRefusal(statement, m));
          if (refusal.isPresent()) {
            reply = Replies.maskingRefused(refusal.get());
            decision = new Decision.Deny(maskingRule(refusal.get()), refusal.get().reason());
          }
        }
      }
    }
    Verdict verdict = s.checkpoint.record(s.session, command, decision);
    if (!verdict.allowed()) {
      // Our own refusal's reply, unless the audit log turned it into its own.
      return Optional.of(reply != null && verdict.decision() == decision ? reply : Replies.denial(verdict.decision()));
    }
    boolean ddl = statement.classification().has(CommandFlag.DDL);
    if (ddl) s.masking.schemaChanged();
    // DO, CALL and EXECUTE run code that may change the schema (CREATE OR REPLACE VIEW in a DO
    // block): the catalog is read again once they complete (round 9), as after DDL; so does any
    // other opaque code (a function called from a SELECT that creates a trigger: red-team round 30).
    boolean mayChangeSchema = ddl || runsCode(statement.classification().kinds())
        || statement.classification().has(CommandFlag.OPAQUE_CODE);
    if (masking.isPresent() && masking.get().touchesMasked()) s.masking.touched(s.state.nextSyncPoint());
    if (statement.changesPlanning()) s.masking.plannerSteered();
    Execution execution = new Execution(List.of(verdict), masking, mayChangeSchema);
    if (s.masking.configured()) followCursor(statement, execution, masking);
    allowed.add(execution);
    // Now, not once the message is forwarded: an EXECUTE later in the same message must not be
    // taken for the statement a PREPARE or DEALLOCATE before it replaced (a refusal of a later
    // statement leaves the name forgotten although nothing ran: it is only followed no more).
    forgetStatementNames(statement);
    return Optional.empty();
  }

  /** Tells masking which cursor a DECLARE makes (once the target completes it) or a CLOSE ends. */
  private void followCursor(ClassifiedStatement statement, Execution execution, Optional<StatementMasking> masking) {
    Optional<ColumnUse.Cursor> cursor = statement.columnUse().flatMap(ColumnUse::cursor);
    if (cursor.isEmpty()) return;
    String name = cursor.get().name();
    switch (cursor.get().kind()) {
      case DECLARE -> execution.whenOk(s.masking.declared(name, statement, masking));
      case CLOSE -> {
        if (name.isEmpty()) s.masking.cursorsClosed();
        else s.masking.cursorTouched(name);
      }
      case FETCH, EXECUTE, PREPARE, DEALLOCATE -> { }
    }
  }

  private static boolean runsCode(List<String> kinds) {
    for (String k : kinds) {
      if (k.equals("DO") || k.equals("CALL") || k.equals("EXECUTE")) return true;
    }
    return false;
  }

  /**
   * Which of the roles the statement alters is (or may be) the one this session's target connection
   * is signed in as: named as such (the server reports it as {@code session_authorization}), or by a
   * keyword standing for the session's own role, or {@code ALTER ROLE ALL}. Whatever policy says:
   * the resource's credentials are Gatehouse's, not its users'.
   */
  private Optional<String> gatewayRole(ClassifiedStatement statement) {
    String login = s.backend.parameterStatus().get("session_authorization");
    for (String role : statement.roles()) {
      switch (role) {
        case ClassifiedStatement.CURRENT_USER, ClassifiedStatement.SESSION_USER, ClassifiedStatement.CURRENT_ROLE ->
            { return Optional.of("the session's own role"); }
        case ClassifiedStatement.ALL_ROLES -> { return Optional.of("every role"); }
        default -> {
          if (login == null || role.equals(login)) return Optional.of("role \"" + StartupParameters.sanitizeName(role) + "\"");
        }
      }
    }
    return Optional.empty();
  }

  /**
   * The statements after a refused one in the same message: none of them runs, but each attempt is
   * on record, decided by policy as if alone (a denial names its own rule; an allowed one is recorded
   * as refused, since it did not run).
   */
  private void auditUnrun(List<ClassifiedStatement> statements, int from, Map<String, String> details) {
    for (int i = from; i < statements.size(); i++) {
      Verdict verdict = s.checkpoint.decide(s.session, seen(statements.get(i), details).command());
      if (verdict.allowed()) new Execution(List.of(verdict)).completeRefused(s.checkpoint);
    }
  }

  /** A statement as policy and the audit see it, and the command that carries it. */
  private record Seen(ClassifiedStatement statement, Command command) {}

  /**
   * The statement as policy must see it: opaque code when it may run code someone made on the
   * resource without naming it ({@code lower(1)} runs {@code public.lower(integer)} if someone made
   * one), with the reason in the command's details for whoever reads the audit.
   */
  private Seen seen(ClassifiedStatement classified, Map<String, String> details) {
    return seen(classified, details, false);
  }

  /**
   * As above; {@code codeBefore}: code Gatehouse cannot see into runs before the statement in the same
   * message, so the statement an {@code EXECUTE} names may be another by then.
   */
  private Seen seen(ClassifiedStatement classified, Map<String, String> details, boolean codeBefore) {
    if (classified.roleSet().isPresent()) classified = asLoginRole(classified);
    Optional<ColumnUse.Cursor> named = classified.columnUse().isPresent() ? classified.columnUse().get().cursor() : Optional.empty();
    if (named.isPresent() && named.get().kind() == ColumnUse.Cursor.Kind.EXECUTE) {
      Optional<Analysis> known = codeBefore ? Optional.empty() : executedStatement(named.get().name());
      classified = executing(classified, known);
      details = executed(details, named.get().name(), known);
    }
    Optional<String> hidden = codedParameters.isEmpty() ? Optional.empty() : Optional.ofNullable(codedParameters.get(classified));
    if (hidden.isEmpty()) hidden = s.masking.hiddenCode(classified);
    if (hidden.isEmpty()) {
      return new Seen(classified, new Command("sql", classified.redactedText(), classified.classification(), details));
    }
    ClassifiedStatement opaque = classified.opaque();
    Map<String, String> recorded = new java.util.TreeMap<>(details);
    recorded.put("opaque_code", hidden.get());
    return new Seen(opaque, new Command("sql", opaque.redactedText(), opaque.classification(), recorded));
  }

  /**
   * A {@code SET ROLE} or {@code SET SESSION AUTHORIZATION} naming the role this session signs in to
   * the target as (the resource's {@code user}, exactly) makes the session act as no one but whom it
   * started as: no {@code ROLE_CHANGE} (review round 45: Flyway sets the connection's role back to
   * the one it connected as after every migration, {@code SET ROLE 'gatehouse_demo'}, and {@code
   * no-role-change} refused it, so no migration ran). Any other role stays a role change.
   */
  private ClassifiedStatement asLoginRole(ClassifiedStatement c) {
    if (!c.classification().has(CommandFlag.ROLE_CHANGE) || !c.roleSet().orElseThrow().equals(s.loginRole())) return c;
    Classification k = c.classification();
    java.util.EnumSet<CommandFlag> flags = java.util.EnumSet.noneOf(CommandFlag.class);
    flags.addAll(k.flags());
    flags.remove(CommandFlag.ROLE_CHANGE);
    return c.withClassification(new Classification(k.kinds(), k.objects(), k.functions(), flags, k.opaqueCalls()));
  }

  /**
   * The statement an SQL {@code EXECUTE name} runs, when the extended protocol prepared it under
   * that name through this session (SQL and the protocol share names) and nothing changed it since:
   * its Parse's statements, as Gatehouse classified them. Empty for a name Gatehouse does not follow
   * (SQL {@code PREPARE}, code that may have replaced it).
   */
  private Optional<Analysis> executedStatement(String name) {
    Optional<Analysis> known = s.state.statement(name, this::flushUnchecked);
    if (known.isPresent() && codeRan && s.state.replaceableByCode(name)) return Optional.empty();
    return known;
  }

  /**
   * An SQL {@code EXECUTE} (opaque code: which statement a name holds is the server's to know) with
   * what Gatehouse knows the name holds added: its kinds, objects, functions, flags, roles and
   * unqualified built-ins, so that the guardrails on them apply as to the statement itself (round
   * 18b: dana's {@code EXPLAIN ANALYZE EXECUTE s1}, s1 a Parse of {@code delete from probe}, deleted
   * every row past the rule on unbounded writes, recorded as the EXECUTE alone).
   */
  private static ClassifiedStatement executing(ClassifiedStatement execute, Optional<Analysis> known) {
    if (known.isEmpty()) return execute;
    Classification outer = execute.classification();
    Classification inner = known.get().combined();
    List<String> kinds = new ArrayList<>(outer.kinds());
    kinds.addAll(inner.kinds());
    Set<String> objects = new java.util.LinkedHashSet<>(outer.objects());
    objects.addAll(inner.objects());
    Set<String> functions = new java.util.LinkedHashSet<>(outer.functions());
    functions.addAll(inner.functions());
    Set<CommandFlag> flags = java.util.EnumSet.noneOf(CommandFlag.class);
    flags.addAll(outer.flags());
    flags.addAll(inner.flags());
    Set<String> calls = new java.util.LinkedHashSet<>(outer.opaqueCalls());
    calls.addAll(inner.opaqueCalls());
    // The roles it alters too, or the rule on the gateway's own role never sees them (review round
    // 20), and the built-ins it takes on trust, which the resource may shadow.
    Set<String> roles = new java.util.LinkedHashSet<>(execute.roles());
    Set<String> builtins = new java.util.LinkedHashSet<>(execute.unqualifiedBuiltins());
    for (ClassifiedStatement statement : known.get().statements()) {
      roles.addAll(statement.roles());
      builtins.addAll(statement.unqualifiedBuiltins());
    }
    return new ClassifiedStatement(execute.text(), execute.redactedText(),
        new Classification(kinds, objects, functions, flags, calls), execute.changesParsing() || known.get().changesParsing(),
        execute.columnUse(), roles, builtins,
        execute.changesPlanning() || known.get().statements().stream().anyMatch(ClassifiedStatement::changesPlanning));
  }

  /** The details of an SQL {@code EXECUTE name}: which statement it runs, as Gatehouse saw it parsed (redacted). */
  private static Map<String, String> executed(Map<String, String> details, String name, Optional<Analysis> known) {
    Map<String, String> recorded = new java.util.TreeMap<>(details);
    recorded.put("executes", known.isEmpty()
        ? "prepared statement \"" + StartupParameters.sanitizeName(name) + "\", which Gatehouse does not follow"
        : String.join("; ", known.get().statements().stream().map(ClassifiedStatement::redactedText).toList()));
    return recorded;
  }

  /**
   * COPY … TO STDOUT of masked data is masked only in the text and CSV formats with PostgreSQL's
   * default delimiter, quoting and NULL string, with or without HEADER (what the relay can parse
   * row by row); other formats are refused before the COPY runs. (A COPY that touches no masked
   * column but whose rows must still be scanned, by a rule's detectors, and that uses another
   * format is stopped when its rows start: see BackendRelay.copyOut.)
   */
  private static Optional<Refusal> copyRefusal(ClassifiedStatement statement, StatementMasking masking) {
    Classification c = statement.classification();
    if (!c.kinds().contains("COPY") || !masking.touchesMasked() || c.has(CommandFlag.DATA_MODIFYING)) {
      return Optional.empty();
    }
    if (masking.copyOutput().layout() != StatementMasking.CopyLayout.OTHER) return Optional.empty();
    return Optional.of(new Refusal(masking.planner().rules().get(0), COPY_LAYOUTS));
  }

  /** Why a COPY of masked data in another layout is refused. */
  static final String COPY_LAYOUTS = "COPY of masked columns, or of a query (COPY (SELECT …)), whose columns Gatehouse does"
      + " not trace to their tables (of a table without masked columns, COPY the table itself), is masked only in the text"
      + " and CSV formats with the"
      + " default delimiter, quoting and NULL string (HEADER may be on; no binary, DELIMITER, NULL, QUOTE, ESCAPE,"
      + " FORCE_QUOTE or ENCODING option)";

  /**
   * Queues what the message expects back, then forwards {@code frame}: null for the client's
   * message read in place, whose bytes go as they came.
   */
  private void forward(Expected expected, Frame frame) throws IOException {
    try {
      s.state.expect(expected, this::flushUnchecked);
    } catch (SessionState.Closed e) {
      settleUnsent(expected);
      throw e;
    }
    if (frame == null) {
      target.writeRaw(view.array(), view.start(), view.length());
    } else {
      target.write(frame);
    }
    // Once unknown and not followed by a sync point, another message that may run code changes nothing.
    if ((!settingsUnknown || settledBy != Long.MAX_VALUE) && mayRunCode(expected)
        && !(runsNothingWhileAborted(expected) && aborted())) {
      unsettle();
    }
    if (expected instanceof Expected.SyncPoint point) {
      executedInBatch = false;
      if (settingsUnknown) settledBy = point.number();
    } else if (expected instanceof Expected.ExecuteDone) {
      executedInBatch = true;
    }
  }

  /** A message that may run code was, or is about to be, forwarded: the settings are unknown until answered. */
  private void unsettle() {
    settingsUnknown = true;
    settledBy = Long.MAX_VALUE;
  }

  /**
   * Whether the target takes the messages now forwarded in an aborted transaction: the last
   * ReadyForQuery said {@code E}, every sync point is answered, and no Execute was forwarded since.
   * pgjdbc's {@code rollback()} after a failed batch sends the Close of a portal or statement
   * before its ROLLBACK (red-team round 40: probing there was answered {@code 25P02}, and the
   * ROLLBACK refused). Only an Execute can end the transaction (of ROLLBACK, ROLLBACK TO SAVEPOINT,
   * COMMIT or PREPARE TRANSACTION); after it, a Bind may run code again, even once a probe has
   * settled the settings behind the Execute (red-team round 41: a Bind planning a row-level
   * security policy's immutable function behind a ROLLBACK turned standard strings off, and the
   * query behind it went unprobed).
   */
  private boolean aborted() {
    return !executedInBatch && s.state.abortedAndAnswered();
  }

  /**
   * Messages that in an aborted transaction are refused with {@code 25P02} before the server parses,
   * analyses, binds or describes anything but a COMMIT or ROLLBACK (whose analysis runs no code), or
   * that close a portal: one the abort shut, or, after a failed subtransaction, a portal bound before
   * its SAVEPOINT, whose Close ends a SELECT's executor (a query that writes ran to its end at its
   * first Execute), which runs no one's code (review round 42 read this path; none was found).
   */
  private static boolean runsNothingWhileAborted(Expected expected) {
    return expected instanceof Expected.ParseDone || expected instanceof Expected.BindDone
        || expected instanceof Expected.DescribeDone || expected instanceof Expected.CloseDone;
  }

  private void settleUnsent(Expected expected) {
    switch (expected) {
      case Expected.ExecuteDone x -> x.execution().ifPresent(e -> e.completeAborted(s.checkpoint));
      case Expected.BindDone b -> b.decided().ifPresent(e -> e.completeAborted(s.checkpoint));
      case Expected.QueryDone q -> q.remaining().forEach(e -> e.completeAborted(s.checkpoint));
      case Expected.FunctionCallDone f -> f.execution().ifPresent(e -> e.completeAborted(s.checkpoint));
      default -> { }
    }
  }

  /**
   * Sends what was forwarded and a Flush, so that the target sends the answers it holds (in an
   * extended-protocol batch it holds them until Sync or Flush, and the client's Sync may be the
   * message waiting for them). A target reading COPY data or skipping to Sync ignores the Flush.
   */
  private void askForAnswers() {
    try {
      target.write(FLUSH);
      target.flush();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private void flushUnchecked() {
    try {
      target.flush();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Whether SQL may make a portal Gatehouse does not follow: a DECLARE (its cursor is a portal
   * named as the protocol's are), or a statement Gatehouse could not read. Code it cannot see into
   * counts too ({@link SessionState#codeMayRun}).
   */
  private static boolean makesPortals(List<ClassifiedStatement> statements) {
    for (ClassifiedStatement statement : statements) {
      List<String> kinds = statement.classification().kinds();
      if (kinds.isEmpty() || kinds.contains("DECLARE CURSOR") || statement.classification().has(CommandFlag.UNCLASSIFIED)) {
        return true;
      }
    }
    return false;
  }

  /**
   * Whether SQL in the statements may end portals or make new ones under names the protocol's
   * portals use: CLOSE, DECLARE, DISCARD ALL, and transaction control (COMMIT AND CHAIN keeps the
   * transaction but not its portals; ROLLBACK TO ends those made since the savepoint and brings
   * back what a failed Bind left). DISCARD TEMP, PLANS and SEQUENCES close no portal.
   */
  private static boolean touchesPortals(List<ClassifiedStatement> statements) {
    for (ClassifiedStatement statement : statements) {
      for (String kind : statement.classification().kinds()) {
        if (kind.startsWith("CLOSE") || kind.equals("DECLARE CURSOR")
            || kind.equals("DISCARD ALL") || kind.equals("DISCARD") // DISCARD of a target this parser does not know
            || kind.equals("COMMIT") || kind.equals("ROLLBACK") || kind.equals("END") || kind.equals("ABORT")
            || kind.equals("PREPARE TRANSACTION")) {
          return true;
        }
      }
    }
    return false;
  }

  /**
   * Forgets what SQL may change behind the protocol's back of the prepared statements it made: the
   * one a {@code PREPARE} or {@code DEALLOCATE} names, or every named one when a statement may touch
   * any ({@code DEALLOCATE ALL}, {@code DISCARD ALL}, text that could not be read, a name that could
   * not be read). Forgetting every name for one PREPARE made each protocol statement's SQL {@code
   * EXECUTE} opaque, out of reach of the rules on what it runs (review round 20).
   */
  private void forgetStatementNames(ClassifiedStatement statement) {
    if (!touchesStatementNames(statement)) return;
    Optional<ColumnUse.Cursor> named = statement.classification().has(CommandFlag.UNCLASSIFIED) ? Optional.empty()
        : statement.columnUse().flatMap(ColumnUse::cursor);
    if (named.isPresent() && (named.get().kind() == ColumnUse.Cursor.Kind.PREPARE
        || named.get().kind() == ColumnUse.Cursor.Kind.DEALLOCATE)) {
      s.state.forgetNamedStatement(named.get().name());
    } else {
      s.state.forgetNamedStatements();
    }
  }

  /**
   * Whether a statement may create or remove prepared statements by name behind the protocol's
   * back (PREPARE, DEALLOCATE, DISCARD ALL), or could not be read at all. DISCARD TEMP, PLANS and
   * SEQUENCES keep every prepared statement (PLANS only makes them plan again): counting them made
   * every later Bind of a statement parsed before them unclassified, and refused.
   */
  static boolean touchesStatementNames(ClassifiedStatement statement) {
    if (statement.classification().has(CommandFlag.UNCLASSIFIED)) return true;
    for (String kind : statement.classification().kinds()) {
      // Not PREPARE TRANSACTION: it names a transaction (it made every name unfollowed, and their
      // SQL EXECUTE opaque, out of reach of the rules on what they run).
      if (kind.equalsIgnoreCase("PREPARE") || startsWithIgnoreCase(kind, "DEALLOCATE")
          || kind.equalsIgnoreCase("DISCARD ALL")) {
        return true;
      }
    }
    return false;
  }

  /**
   * Records the refusal of text PostgreSQL 15's grammar rejects, before any policy: the server would
   * reject it too (or, newer than 15, read it otherwise than Gatehouse can check), so it is never
   * forwarded, whatever policy says of unclassified statements. The reason gives the position, not
   * the parser's message, which may quote a literal.
   */
  private void refuseSyntaxError(Analysis analysis, Map<String, String> details) {
    int at = analysis.syntaxError().orElseThrow().position();
    Decision.Deny refusal = new Decision.Deny(RULE_SYNTAX_ERROR, "the text is not valid SQL in PostgreSQL 15's grammar"
        + (at > 0 ? " (syntax error at character " + at + ")" : "") + ", so it was not forwarded");
    for (ClassifiedStatement statement : analysis.statements()) {
      s.checkpoint.refuse(s.session, new Command("sql", statement.redactedText(), statement.classification(), details),
          refusal);
    }
  }

  /** Checked for every execution: no upper-cased copy of the kind. */
  private static boolean startsWithIgnoreCase(String s, String prefix) {
    return s.regionMatches(true, 0, prefix, 0, prefix.length());
  }

  /** What an Execute of a portal whose SQL Gatehouse does not know is decided as: unclassified. */
  private static ClassifiedStatement unknownStatement(String portalName, Optional<SessionState.Portal> portal) {
    // Names as SQL quotes them (review round 22: a name holding '" of prepared statement "' read as
    // another statement in the refusal).
    String text = portal.isPresent()
        ? UNKNOWN_PORTAL + quoted(portalName) + " of prepared statement " + quoted(portal.get().statement)
            + ", whose SQL is unknown to Gatehouse>"
        : UNKNOWN_PORTAL + quoted(portalName) + ", " + NOT_BOUND + ">";
    return new ClassifiedStatement(text, text, Classification.unclassified(), true);
  }

  /** How the text of an {@link #unknownStatement} starts (no SQL statement starts with {@code <}). */
  private static final String UNKNOWN_PORTAL = "<portal ";
  /** What an {@link #unknownStatement} of a portal the protocol did not bind says of it. */
  static final String NOT_BOUND = "not bound through this connection's protocol";

  /** A name as SQL quotes an identifier: in {@code "}, each {@code "} doubled. */
  private static String quoted(String name) {
    return '"' + name.replace("\"", "\"\"") + '"';
  }

  /** Whether {@code statement} is an {@link #unknownStatement}. */
  private static boolean isUnknownStatement(ClassifiedStatement statement) {
    return statement.classification().has(CommandFlag.UNCLASSIFIED) && statement.text().startsWith(UNKNOWN_PORTAL)
        && statement.text().endsWith(">");
  }

  private static String typeName(byte type) {
    return type >= 0x20 && type < 0x7f
        ? "'" + new String(new byte[] {type}, StandardCharsets.US_ASCII) + "'"
        : "0x" + Integer.toHexString(type & 0xff);
  }
}
