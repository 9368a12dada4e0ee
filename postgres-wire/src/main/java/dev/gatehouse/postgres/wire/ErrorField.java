package dev.gatehouse.postgres.wire;

/**
 * One field of an ErrorResponse or NoticeResponse: its code byte and value (PostgreSQL
 * documentation, "Error and Notice Message Fields"). Unknown codes are kept: the documentation
 * says clients must ignore fields they do not recognise, and a relay must not drop them.
 */
public record ErrorField(byte code, String value) {
  public static final byte SEVERITY = 'S';
  /** Severity, never localized (PostgreSQL 9.6+). */
  public static final byte SEVERITY_NONLOCALIZED = 'V';
  public static final byte SQLSTATE = 'C';
  public static final byte MESSAGE = 'M';
  public static final byte DETAIL = 'D';
  public static final byte HINT = 'H';
  public static final byte POSITION = 'P';
  public static final byte INTERNAL_POSITION = 'p';
  public static final byte INTERNAL_QUERY = 'q';
  public static final byte WHERE = 'W';
  public static final byte SCHEMA = 's';
  public static final byte TABLE = 't';
  public static final byte COLUMN = 'c';
  public static final byte DATA_TYPE = 'd';
  public static final byte CONSTRAINT = 'n';
  public static final byte FILE = 'F';
  public static final byte LINE = 'L';
  public static final byte ROUTINE = 'R';

  public ErrorField {
    if (code == 0) {
      // A zero code terminates the field list on the wire.
      throw new IllegalArgumentException("code == 0");
    }
    Values.text(value, "value");
  }

  @Override
  public String toString() {
    return (char) code + "=" + value;
  }
}
