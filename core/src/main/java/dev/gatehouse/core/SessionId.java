package dev.gatehouse.core;

import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Objects;

/** A random, unguessable session identifier (128 bits, hex). */
public record SessionId(String value) {
  private static final SecureRandom RANDOM = new SecureRandom();

  public SessionId {
    Objects.requireNonNull(value, "value == null");
  }

  public static SessionId random() {
    byte[] b = new byte[16];
    RANDOM.nextBytes(b);
    return new SessionId(HexFormat.of().formatHex(b));
  }

  @Override
  public String toString() {
    return value;
  }
}
