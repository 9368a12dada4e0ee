package dev.gatehouse.postgres.wire;

/** AuthenticationCleartextPassword: the server asks for the password in clear text. */
public record AuthenticationCleartextPassword() implements Authentication {
  public static final AuthenticationCleartextPassword INSTANCE =
      new AuthenticationCleartextPassword();

  @Override
  public int code() {
    return CLEARTEXT_PASSWORD;
  }
}
