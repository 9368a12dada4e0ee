package dev.gatehouse.postgres.wire;

/**
 * The {@code 'R'} messages: the server's authentication requests and its final AuthenticationOk.
 * The int32 code after the length selects the variant; codes for mechanisms Gatehouse does not
 * speak (Kerberos, GSSAPI, SSPI) decode to {@link AuthenticationUnsupported} so the caller can
 * refuse them cleanly.
 */
public sealed interface Authentication extends BackendMessage
    permits AuthenticationOk, AuthenticationCleartextPassword, AuthenticationMD5Password,
        AuthenticationSASL, AuthenticationSASLContinue, AuthenticationSASLFinal,
        AuthenticationUnsupported {
  byte TYPE = 'R';
  int OK = 0;
  int KERBEROS_V5 = 2;
  int CLEARTEXT_PASSWORD = 3;
  int MD5_PASSWORD = 5;
  int GSS = 7;
  int GSS_CONTINUE = 8;
  int SSPI = 9;
  int SASL = 10;
  int SASL_CONTINUE = 11;
  int SASL_FINAL = 12;

  /** The int32 code that identifies this request on the wire. */
  int code();
}
