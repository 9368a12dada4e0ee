package dev.gatehouse.core;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.Objects;

/**
 * A token, password or key. Its {@link #toString()} is redacted so a secret cannot reach a log
 * line, an audit event or an error message by accident; the clear value is reachable only through
 * {@link #reveal()}, which makes every use easy to find. Immutable and thread-safe.
 */
public final class Secret {
  private final byte[] value;

  private Secret(byte[] value) {
    this.value = value;
  }

  public static Secret of(String value) {
    Objects.requireNonNull(value, "value == null");
    return new Secret(value.getBytes(StandardCharsets.UTF_8));
  }

  public static Secret of(byte[] value) {
    Objects.requireNonNull(value, "value == null");
    return new Secret(value.clone());
  }

  /** The clear value as UTF-8 text. Never log or echo it. */
  public String reveal() {
    return new String(value, StandardCharsets.UTF_8);
  }

  /** The clear value as bytes (a copy). Never log or echo it. */
  public byte[] revealBytes() {
    return value.clone();
  }

  public int length() {
    return value.length;
  }

  public boolean isEmpty() {
    return value.length == 0;
  }

  /** Constant-time comparison. */
  public boolean matches(Secret other) {
    return MessageDigest.isEqual(value, other.value);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Secret s && MessageDigest.isEqual(value, s.value);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(value);
  }

  @Override
  public String toString() {
    return "Secret[redacted]";
  }
}
