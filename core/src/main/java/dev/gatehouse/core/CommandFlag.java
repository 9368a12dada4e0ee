package dev.gatehouse.core;

/**
 * Facts about a command that rules match on. A flag is raised when the classifier sees the thing or
 * cannot rule it out; {@link #UNCLASSIFIED} means the classifier could not understand the command at
 * all, which policy treats as risky.
 */
public enum CommandFlag {
  /** The classifier could not classify the command with certainty. */
  UNCLASSIFIED,
  /**
   * UPDATE or DELETE without a WHERE clause, or with one that names no column of its target ({@code
   * WHERE true}, {@code WHERE other.id = 1}); MERGE that updates or deletes on an ON condition naming
   * no column of its target.
   */
  NO_WHERE,
  /** Code Gatehouse cannot see into: DO blocks, procedure calls, non-harmless functions, SQL in strings. */
  OPAQUE_CODE,
  /** COPY ... PROGRAM. */
  COPY_PROGRAM,
  /** Server-side files or large objects (COPY to/from a file, pg_read_file, lo_import ...). */
  FILE_ACCESS,
  /** SET ROLE, SET SESSION AUTHORIZATION and the like. */
  ROLE_CHANGE,
  /** A setting that changes how later statements are read or run (search_path, encodings ...). */
  SETTING_CHANGE,
  /** The command writes data (INSERT/UPDATE/DELETE/MERGE/COPY FROM), possibly nested in a WITH. */
  DATA_MODIFYING,
  /** The command changes schema (CREATE/ALTER/DROP/...). */
  DDL,
  /** The command changes privileges (GRANT/REVOKE/CREATE ROLE/ALTER ROLE ...). */
  PRIVILEGE_CHANGE,
  /** A transaction control statement (BEGIN/COMMIT/ROLLBACK/SAVEPOINT). */
  TRANSACTION_CONTROL,
  /**
   * The command locks rows or tables against other sessions' writes until its transaction ends
   * (SELECT ... FOR UPDATE / NO KEY UPDATE / SHARE / KEY SHARE at any depth, LOCK TABLE): a read
   * that can stall writers.
   */
  LOCKING,
  /** A protocol-level function call that carries no statement text (PostgreSQL FunctionCall). */
  FUNCTION_CALL
}
