package dev.gatehouse.masking;

import java.util.Arrays;

/**
 * A growable byte buffer masked values are written into, reused across rows so that masking a row
 * allocates nothing once the buffer has grown to the widest row. {@link MaskPlan#mask} appends to
 * it; the caller reads {@link #array()} from 0 to {@link #length()} and {@link #reset()}s it.
 * Not thread-safe: one per connection.
 */
public final class MaskOutput {
  private byte[] buf;
  private int len;

  public MaskOutput() {
    this(256);
  }

  public MaskOutput(int initialCapacity) {
    if (initialCapacity < 16) initialCapacity = 16;
    buf = new byte[initialCapacity];
  }

  /** The backing array; valid from 0 to {@link #length()}, replaced when the buffer grows. */
  public byte[] array() {
    return buf;
  }

  public int length() {
    return len;
  }

  public void reset() {
    len = 0;
  }

  /** A copy of what was written, for tests and callers that want a value of their own. */
  public byte[] toByteArray() {
    return Arrays.copyOf(buf, len);
  }

  void write(int b) {
    ensure(1);
    buf[len++] = (byte) b;
  }

  void write(byte[] src, int off, int n) {
    ensure(n);
    System.arraycopy(src, off, buf, len, n);
    len += n;
  }

  void write(byte[] src) {
    write(src, 0, src.length);
  }

  void fill(int b, int n) {
    ensure(n);
    Arrays.fill(buf, len, len + n, (byte) b);
    len += n;
  }

  /** Writes ASCII text (callers pass only ASCII). */
  void writeAscii(CharSequence s) {
    int n = s.length();
    ensure(n);
    for (int i = 0; i < n; i++) buf[len++] = (byte) s.charAt(i);
  }

  void truncate(int length) {
    if (length < 0 || length > len) throw new IllegalArgumentException("length out of range: " + length);
    len = length;
  }

  private void ensure(int n) {
    if (len + n <= buf.length) return;
    int want = Math.max(buf.length * 2, len + n);
    if (want < 0) throw new MaskingException("masked value too large");
    buf = Arrays.copyOf(buf, want);
  }
}
