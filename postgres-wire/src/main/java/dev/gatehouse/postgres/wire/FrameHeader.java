package dev.gatehouse.postgres.wire;

/**
 * The type byte and body length of a frame whose body has not been read yet, returned by {@link
 * FrameReader#readHeader(int)} so a large body (a DataRow or CopyData of many megabytes) can be
 * relayed in chunks with {@link MessageWriter#relay(FrameHeader, FrameReader)} instead of being
 * held in memory whole.
 */
public record FrameHeader(byte type, int bodyLength) {
  public FrameHeader {
    if (bodyLength < 0 || bodyLength > Integer.MAX_VALUE - 4) {
      throw new IllegalArgumentException("bodyLength < 0 || bodyLength > Integer.MAX_VALUE - 4");
    }
  }

  /** The value of the length word on the wire. */
  public int length() {
    return bodyLength + 4;
  }

  @Override
  public String toString() {
    return "FrameHeader[type=" + Frame.typeName(type) + ", length=" + length() + "]";
  }
}
