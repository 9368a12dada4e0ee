package dev.gatehouse.postgres.wire;

import java.util.Arrays;

/**
 * The generic {@code 'p'} message: its body, whose meaning depends on the authentication request
 * the server sent (a cleartext or MD5 password, a SASL initial response, a SASL response, GSSAPI
 * data). {@link #toString()} never shows the body.
 */
public record PasswordMessage(byte[] data) implements FrontendMessage {
  public static final byte TYPE = 'p';

  public PasswordMessage {
    Values.bytes(data, "data");
  }

  /** A PasswordMessage answering AuthenticationCleartextPassword (or MD5, with the hash text). */
  public static PasswordMessage cleartext(String password) {
    Values.text(password, "password");
    var buf = new WireBuffer(password.length() + 1);
    buf.putCString(password);
    return new PasswordMessage(buf.toByteArray());
  }

  /**
   * The body read as the answer to AuthenticationCleartextPassword: one NUL-terminated UTF-8
   * string and nothing after it. Wrap the result in a secret type at once.
   *
   * @throws ProtocolException if the body is not exactly one string
   */
  public String password() {
    var reader = new BodyReader(data, "PasswordMessage");
    String password = reader.cstring();
    reader.expectEnd();
    return password;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof PasswordMessage p && Arrays.equals(p.data, data);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(data);
  }

  @Override
  public String toString() {
    return "PasswordMessage[<redacted " + data.length + " bytes>]";
  }
}
