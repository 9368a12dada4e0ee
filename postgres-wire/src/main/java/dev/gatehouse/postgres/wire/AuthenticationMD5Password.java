package dev.gatehouse.postgres.wire;

import java.util.Arrays;

/** AuthenticationMD5Password: the server asks for an MD5-hashed password with this 4-byte salt. */
public record AuthenticationMD5Password(byte[] salt) implements Authentication {
  public AuthenticationMD5Password {
    if (Values.bytes(salt, "salt").length != 4) {
      throw new IllegalArgumentException("salt.length != 4");
    }
  }

  @Override
  public int code() {
    return MD5_PASSWORD;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof AuthenticationMD5Password a && Arrays.equals(a.salt, salt);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(salt);
  }

  @Override
  public String toString() {
    return "AuthenticationMD5Password[salt=<4 bytes>]";
  }
}
