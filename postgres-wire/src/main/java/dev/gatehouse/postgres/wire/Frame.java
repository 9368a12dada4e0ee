package dev.gatehouse.postgres.wire;

import java.util.Arrays;
import java.util.Objects;

/**
 * One message as it travels on the wire: its type byte and its body (the bytes after the length
 * word). Startup-phase packets (StartupMessage, SSLRequest, GSSENCRequest, CancelRequest) have no
 * type byte; their frames use type {@link #STARTUP} (0) and the body starts with the protocol or
 * request code. A frame can be relayed without decoding it.
 *
 * <p>The body array is not copied (frames are the hot path): whoever builds a frame hands the
 * array over and nobody may modify it afterwards. {@link #toString()} never shows the body, which
 * may hold a password.
 */
public record Frame(byte type, byte[] body) {
  /** The type of startup-phase packets, which have no type byte on the wire. */
  public static final byte STARTUP = 0;

  public Frame {
    Objects.requireNonNull(body, "body == null");
    if (body.length > Integer.MAX_VALUE - 4) {
      throw new IllegalArgumentException("body.length > Integer.MAX_VALUE - 4");
    }
  }

  /** A startup-phase packet (no type byte on the wire). */
  public static Frame startup(byte[] body) {
    return new Frame(STARTUP, body);
  }

  /** Whether this is a startup-phase packet, written without a type byte. */
  public boolean isStartup() {
    return type == STARTUP;
  }

  /** The value of the length word on the wire: the body plus the four bytes of the length. */
  public int length() {
    return body.length + 4;
  }

  /** Bytes this frame occupies on the wire, type byte included. */
  public int wireSize() {
    return isStartup() ? length() : length() + 1;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Frame f && f.type == type && Arrays.equals(f.body, body);
  }

  @Override
  public int hashCode() {
    return 31 * type + Arrays.hashCode(body);
  }

  @Override
  public String toString() {
    return "Frame[type=" + typeName(type) + ", length=" + length() + "]";
  }

  static String typeName(byte type) {
    if (type == STARTUP) {
      return "startup";
    }
    return type >= 0x20 && type < 0x7f ? "'" + (char) type + "'" : "0x" + Integer.toHexString(type & 0xff);
  }
}
