package dev.gatehouse.postgres.wire;

/**
 * CopyInResponse: the server is ready to receive COPY FROM STDIN data. {@code format} is the overall format (0 text, 1 binary); {@code columnFormats} has
 * one code per column.
 */
public record CopyInResponse(byte format, short[] columnFormats) implements BackendMessage {
  public static final byte TYPE = 'G';

  public CopyInResponse {
    Values.count16(Values.nonNull(columnFormats, "columnFormats").length, "columnFormats");
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof CopyInResponse c && CopyResponses.same(c.format, c.columnFormats, format, columnFormats);
  }

  @Override
  public int hashCode() {
    return CopyResponses.hash(format, columnFormats);
  }

  @Override
  public String toString() {
    return CopyResponses.describe("CopyInResponse", format, columnFormats);
  }
}
