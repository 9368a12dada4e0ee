package dev.gatehouse.postgres.wire;

/** AuthenticationOk: authentication succeeded. */
public record AuthenticationOk() implements Authentication {
  public static final AuthenticationOk INSTANCE = new AuthenticationOk();

  @Override
  public int code() {
    return OK;
  }
}
