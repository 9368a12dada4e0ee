package dev.gatehouse.postgres.wire;

/**
 * CopyOutResponse: COPY TO STDOUT data follows. {@code format} is the overall format (0 text, 1 binary); {@code columnFormats} has
 * one code per column.
 */
public record CopyOutResponse(byte format, short[] columnFormats) implements BackendMessage {
  public static final byte TYPE = 'H';

  public CopyOutResponse {
    Values.count16(Values.nonNull(columnFormats, "columnFormats").length, "columnFormats");
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof CopyOutResponse c && CopyResponses.same(c.format, c.columnFormats, format, columnFormats);
  }

  @Override
  public int hashCode() {
    return CopyResponses.hash(format, columnFormats);
  }

  @Override
  public String toString() {
    return CopyResponses.describe("CopyOutResponse", format, columnFormats);
  }
}
