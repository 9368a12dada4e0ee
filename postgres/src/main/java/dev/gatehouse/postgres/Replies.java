package dev.gatehouse.postgres;

import dev.gatehouse.core.Admission;
import dev.gatehouse.core.Decision;
import dev.gatehouse.postgres.sql.SyntaxError;
import dev.gatehouse.postgres.wire.ErrorField;
import dev.gatehouse.postgres.wire.ErrorResponse;
import dev.gatehouse.postgres.wire.ProtocolException;

/**
 * The one place where Gatehouse's own answers become PostgreSQL ErrorResponses: denials of
 * statements, refused admissions and the FATAL messages that end a connection. Stateless.
 */
final class Replies {
  /** SQLSTATE 42501 insufficient_privilege: what the server itself says for a refused command. */
  static final String INSUFFICIENT_PRIVILEGE = "42501";
  /** SQLSTATE chosen for the end of a session whose token expired: admin_shutdown, see {@link #sessionExpired}. */
  static final String ADMIN_SHUTDOWN = "57P01";
  static final String CONNECTION_FAILURE = "08006";
  static final String PROTOCOL_VIOLATION = "08P01";
  /** SQLSTATE 42601 syntax_error. */
  static final String SYNTAX_ERROR = "42601";

  private Replies() {}

  /**
   * The error a denied command gets. The client sees the same shape a refusal by the server would
   * produce; the message names the rule so the user knows what to ask for.
   */
  static ErrorResponse denial(Decision decision) {
    return switch (decision) {
      // An audit log that cannot record is no policy's doing: the text says so (review round 44), the
      // SQLSTATE stays the documented one.
      case Decision.Deny deny when deny.rule().equals(dev.gatehouse.core.Checkpoint.RULE_AUDIT) ->
          ErrorResponse.of("ERROR", INSUFFICIENT_PRIVILEGE, "refused by Gatehouse: " + deny.reason() + " (rule " + deny.rule() + ")");
      case Decision.Deny deny -> ErrorResponse.of("ERROR", INSUFFICIENT_PRIVILEGE,
          "permission denied by Gatehouse policy: " + deny.reason() + " (rule " + deny.rule() + ")");
      case Decision.RequireApproval approval -> ErrorResponse.of("ERROR", INSUFFICIENT_PRIVILEGE,
          "permission denied by Gatehouse policy: this statement requires approval: " + approval.reason()
              + " (rule " + approval.rule() + ")");
      case Decision.Allow allow -> throw new IllegalArgumentException("an Allow is not a denial");
    };
  }

  /**
   * A query (or extended-protocol message) whose text is not valid UTF-8 (the session's client
   * encoding): refused unread, with PostgreSQL's own SQLSTATE for it; the session goes on.
   */
  static ErrorResponse invalidUtf8(String what) {
    return ErrorResponse.of("ERROR", ProtocolException.CHARACTER_NOT_IN_REPERTOIRE,
        "invalid byte sequence for encoding \"UTF8\": the " + what + " was not forwarded by Gatehouse");
  }

  /**
   * A statement that may change {@code client_encoding}, {@code standard_conforming_strings} or
   * {@code backslash_quote} (RESET ALL and DISCARD ALL return them to their defaults, and are
   * refused too): the classifier reads text with the startup values, so these stay fixed whatever
   * policy says. The statement does not say which setting it changes (a {@code set_config} may name
   * none), so the message names them all, and what does pass.
   */
  /**
   * Gatehouse's settings probe failed on the target ({@code error}), so the statement text it held
   * back was not forwarded; the target skips the rest of the batch to its Sync.
   */
  static ErrorResponse settingsUnknown(ErrorResponse error) {
    return ErrorResponse.of("ERROR", INSUFFICIENT_PRIVILEGE, "permission denied by Gatehouse: code may have run earlier in"
        + " this batch, and the resource's settings could not be read before the statement text behind it (the resource"
        + " answered SQLSTATE " + (error.sqlstate().isEmpty() ? "XX000" : error.sqlstate()) + " to Gatehouse's SHOW;"
        + " statement and portal names \"" + Expected.SettingsProbe.NAME + "\" are Gatehouse's), so the text was not"
        + " forwarded (rule " + FrontendRelay.RULE_PARSING_UNSETTLED + ")");
  }

  /**
   * Code run earlier in the batch changed {@code setting} to {@code value}: the statement text
   * behind it would be read otherwise than Gatehouse read it, and is refused.
   */
  static ErrorResponse settingChangedInBatch(String setting, String value) {
    return ErrorResponse.of("ERROR", INSUFFICIENT_PRIVILEGE, "permission denied by Gatehouse: code run earlier in this"
        + " batch changed " + setting + " to \"" + StartupParameters.sanitizeName(value) + "\", so the resource would read the statement text behind it"
        + " otherwise than Gatehouse did; the text was not forwarded, and the resource skips the rest of the batch to its Sync,"
        + " as after any error (rule "
        + FrontendRelay.RULE_PARSING_UNSETTLED + ")")
        .with(ErrorField.HINT, "Gatehouse requires client_encoding UTF8 and standard_conforming_strings on; a change"
            + " that outlives the batch ends the session.");
  }

  static ErrorResponse parsingSettingRefused() {
    return ErrorResponse.of("ERROR", INSUFFICIENT_PRIVILEGE,
        "permission denied by Gatehouse: client_encoding (UTF8), standard_conforming_strings (on) and backslash_quote"
            + " are fixed for the session, and a statement that may change them (RESET ALL and DISCARD ALL included)"
            + " is refused (rule parsing-settings)")
        .with(ErrorField.HINT, "SET client_encoding = 'UTF8' and"
            + " SET standard_conforming_strings = on, which change nothing, are allowed.");
  }

  /**
   * A portal of a prepared statement whose SQL Gatehouse does not know ({@code what} describes it):
   * SQL replaced it under its name, or it was never prepared through this connection's protocol.
   * Unread SQL may change the settings Gatehouse reads text with, so it is refused as such a
   * statement is (rule parsing-settings), with a message that says which statement and why.
   */
  static ErrorResponse unknownStatementRefused(String what) {
    // A portal the protocol never bound is most likely a cursor an SQL DECLARE made (review round 22:
    // the hint about prepared statements misled there).
    boolean cursor = what.endsWith(FrontendRelay.NOT_BOUND);
    return ErrorResponse.of("ERROR", INSUFFICIENT_PRIVILEGE,
        "permission denied by Gatehouse: " + what + (cursor ? "; its SQL is unknown to Gatehouse" : "; SQL (PREPARE,"
            + " DEALLOCATE, DISCARD) or code may have replaced it") + ", and a statement Gatehouse cannot read may change"
            + " the settings it reads text with (rule parsing-settings)")
        .with(ErrorField.HINT, cursor ? "Read a cursor that SQL declared with SQL FETCH."
            : "Prepare the statement again with the extended protocol's Parse (drivers do), or run it with SQL EXECUTE.");
  }

  /**
   * Text PostgreSQL 15's grammar rejects: the server's own answer to it (42601, the parser's
   * message, the position in characters from 1), with a hint that a newer server's syntax is
   * rejected here too. The message may quote the text near the error, as the server's does; it
   * goes to the client who sent it, never to the audit.
   */
  static ErrorResponse syntaxError(SyntaxError error) {
    ErrorResponse e = ErrorResponse.of("ERROR", SYNTAX_ERROR, error.message());
    if (error.position() > 0) e = e.with(ErrorField.POSITION, Integer.toString(error.position()));
    return e.with(ErrorField.HINT, "Gatehouse reads SQL with PostgreSQL 15's grammar and does not forward what it"
        + " rejects; syntax added in later PostgreSQL releases is refused too (see \"Newer PostgreSQL syntax\""
        + " in Gatehouse's docs/postgres.md).");
  }

  /** A statement or result masking refuses (strict mode, laundering, a type that cannot be masked). */
  static ErrorResponse maskingRefused(dev.gatehouse.masking.Refusal refusal) {
    return ErrorResponse.of("ERROR", INSUFFICIENT_PRIVILEGE,
        "permission denied by Gatehouse masking: " + refusal.reason() + " (masking rule " + refusal.rule() + ")");
  }

  /** Masking could not be planned (a rule policy names is undefined, the catalog is unreachable): fail closed. */
  static ErrorResponse maskingUnavailable(String why) {
    return ErrorResponse.of("ERROR", INSUFFICIENT_PRIVILEGE,
        "permission denied by Gatehouse masking: the statement's result could not be masked, so it was not run: " + why);
  }

  /**
   * The text of a notice or error raised by a statement that reads masked columns: it may quote a
   * value ({@code invalid input syntax for type integer: "123-45-6789"}, a unique violation's
   * detail), so only its severity and SQLSTATE are kept; for 25P02, Gatehouse's own copy of
   * PostgreSQL's fixed text.
   */
  static String withheldText(String sqlstate) {
    // In a failed transaction every statement gets this one answer, which quotes nothing (the
    // server's text is not passed on: a message in another language, say, is not known to).
    if (sqlstate.equals("25P02")) return "current transaction is aborted, commands ignored until end of transaction block";
    return "the server's message for this statement (SQLSTATE " + sqlstate + ") is withheld by Gatehouse:"
        + " the statement touches a table with masked columns (or its reads cannot be traced), and the message"
        + " could quote one of their values";
  }

  static ErrorResponse admissionRefused(Admission.Refused refused) {
    String sqlstate = switch (refused.reason()) {
      case INVALID_TOKEN -> "28P01";
      case UNKNOWN_RESOURCE, FORBIDDEN -> "28000";
      case TOO_MANY_CONNECTIONS -> "53300";
      case UNAVAILABLE -> "57P03";
    };
    return fatal(sqlstate, refused.message());
  }

  /**
   * The end of a session whose token expired. SQLSTATE 57P01 (admin_shutdown): connection pools
   * (HikariCP, pgjdbc) treat it as a dead connection to evict rather than an error to retry on the
   * same connection, which is right, since only a fresh token helps.
   */
  static ErrorResponse sessionExpired() {
    return fatal(ADMIN_SHUTDOWN, "session expired: your token expired; reconnect with a fresh token");
  }

  static ErrorResponse terminated(String reason) {
    return fatal(ADMIN_SHUTDOWN, "terminating connection: " + reason);
  }

  static ErrorResponse shuttingDown() {
    return fatal(ADMIN_SHUTDOWN, "terminating connection because Gatehouse is shutting down");
  }

  static ErrorResponse resourceLost(String resource) {
    return fatal(CONNECTION_FAILURE, "connection to resource \"" + resource + "\" lost");
  }

  static ErrorResponse cannotConnect(String resource) {
    return fatal(CONNECTION_FAILURE, "could not connect to resource \"" + resource + "\"");
  }

  /** What PostgreSQL answers an Execute of a portal it does not hold. */
  static ErrorResponse portalDoesNotExist(String portal) {
    return ErrorResponse.of("ERROR", "34000", "portal \"" + StartupParameters.sanitizeName(portal) + "\" does not exist");
  }

  /**
   * An Execute of a portal whose content Gatehouse cannot vouch for (its Bind was refused or failed,
   * or SQL may have replaced it): PostgreSQL's own code for a portal that is not there.
   */
  static ErrorResponse portalUnknown(String portal) {
    return ErrorResponse.of("ERROR", "34000", "portal \"" + StartupParameters.sanitizeName(portal)
        + "\" cannot be executed through Gatehouse: its Bind was refused or failed, or SQL (CLOSE, DECLARE, COMMIT,"
        + " ROLLBACK) or code Gatehouse cannot see into (a DO block, a function) may have ended it since; bind it again");
  }

  static ErrorResponse protocolViolation(String message) {
    return fatal(PROTOCOL_VIOLATION, message);
  }

  static ErrorResponse fatal(String sqlstate, String message) {
    return ErrorResponse.of("FATAL", sqlstate, message);
  }
}
