package dev.gatehouse.postgres.wire;

/**
 * ReadyForQuery: the server is ready for a new query cycle; {@code status} is the transaction
 * status: {@code 'I'} idle, {@code 'T'} in a transaction block, {@code 'E'} in a failed one.
 */
public record ReadyForQuery(byte status) implements BackendMessage {
  public static final byte TYPE = 'Z';
  public static final byte IDLE = 'I';
  public static final byte IN_TRANSACTION = 'T';
  public static final byte FAILED_TRANSACTION = 'E';

  public static final ReadyForQuery IDLE_INSTANCE = new ReadyForQuery(IDLE);

  public ReadyForQuery {
    if (status != IDLE && status != IN_TRANSACTION && status != FAILED_TRANSACTION) {
      throw new IllegalArgumentException("status is not 'I', 'T' or 'E'");
    }
  }

  public boolean inTransaction() {
    return status != IDLE;
  }

  @Override
  public String toString() {
    return "ReadyForQuery[status=" + (char) status + "]";
  }
}
