package dev.gatehouse.postgres.wire;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/** A growable byte buffer with big-endian writers and length back-patching. Not thread-safe. */
final class WireBuffer {
  private byte[] a;
  private int size;

  WireBuffer(int capacity) {
    a = new byte[Math.max(capacity, 16)];
  }

  int size() {
    return size;
  }

  byte[] array() {
    return a;
  }

  void reset() {
    size = 0;
  }

  byte[] toByteArray() {
    return Arrays.copyOf(a, size);
  }

  private void ensure(int more) {
    if (more > Integer.MAX_VALUE - 8 - size) {
      throw new IllegalArgumentException("message larger than 2 GiB");
    }
    if (size + more > a.length) {
      long grown = Math.max((long) a.length * 2, (long) size + more);
      a = Arrays.copyOf(a, (int) Math.min(grown, Integer.MAX_VALUE - 8));
    }
  }

  void putByte(int v) {
    ensure(1);
    a[size++] = (byte) v;
  }

  void putInt16(int v) {
    ensure(2);
    a[size++] = (byte) (v >>> 8);
    a[size++] = (byte) v;
  }

  void putInt32(int v) {
    ensure(4);
    putInt32At(size, v);
    size += 4;
  }

  private void putInt32At(int at, int v) {
    a[at] = (byte) (v >>> 24);
    a[at + 1] = (byte) (v >>> 16);
    a[at + 2] = (byte) (v >>> 8);
    a[at + 3] = (byte) v;
  }

  void putBytes(byte[] v) {
    putBytes(v, 0, v.length);
  }

  void putBytes(byte[] v, int offset, int length) {
    ensure(length);
    System.arraycopy(v, offset, a, size, length);
    size += length;
  }

  /** A NUL-terminated UTF-8 string (the records refuse strings containing NUL). */
  void putCString(String s) {
    putBytes(s.getBytes(StandardCharsets.UTF_8));
    putByte(0);
  }

  /**
   * Starts a message: writes its type byte (none for {@link Frame#STARTUP}) and a placeholder
   * length; returns where the length goes, for {@link #endMessage}.
   */
  int beginMessage(byte type) {
    if (type != Frame.STARTUP) {
      putByte(type);
    }
    int at = size;
    putInt32(0);
    return at;
  }

  /** Patches the length of the message begun at {@code lengthAt}: everything after the type. */
  void endMessage(int lengthAt) {
    putInt32At(lengthAt, size - lengthAt);
  }
}
