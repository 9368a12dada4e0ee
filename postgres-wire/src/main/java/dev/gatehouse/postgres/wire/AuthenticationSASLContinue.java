package dev.gatehouse.postgres.wire;

import java.util.Arrays;

/** AuthenticationSASLContinue: SASL data from the server; {@link #toString()} shows the length only. */
public record AuthenticationSASLContinue(byte[] data) implements Authentication {
  public AuthenticationSASLContinue {
    Values.bytes(data, "data");
  }

  @Override
  public int code() {
    return SASL_CONTINUE;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof AuthenticationSASLContinue a && Arrays.equals(a.data, data);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(data);
  }

  @Override
  public String toString() {
    return "AuthenticationSASLContinue[<" + data.length + " bytes>]";
  }
}
