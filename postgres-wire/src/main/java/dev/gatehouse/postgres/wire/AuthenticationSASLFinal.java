package dev.gatehouse.postgres.wire;

import java.util.Arrays;

/** AuthenticationSASLFinal: SASL data from the server; {@link #toString()} shows the length only. */
public record AuthenticationSASLFinal(byte[] data) implements Authentication {
  public AuthenticationSASLFinal {
    Values.bytes(data, "data");
  }

  @Override
  public int code() {
    return SASL_FINAL;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof AuthenticationSASLFinal a && Arrays.equals(a.data, data);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(data);
  }

  @Override
  public String toString() {
    return "AuthenticationSASLFinal[<" + data.length + " bytes>]";
  }
}
