package dev.gatehouse.postgres.wire;

/**
 * CopyBothResponse: a bidirectional copy (streaming replication) starts. {@code format} is the overall format (0 text, 1 binary); {@code columnFormats} has
 * one code per column.
 */
public record CopyBothResponse(byte format, short[] columnFormats) implements BackendMessage {
  public static final byte TYPE = 'W';

  public CopyBothResponse {
    Values.count16(Values.nonNull(columnFormats, "columnFormats").length, "columnFormats");
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof CopyBothResponse c && CopyResponses.same(c.format, c.columnFormats, format, columnFormats);
  }

  @Override
  public int hashCode() {
    return CopyResponses.hash(format, columnFormats);
  }

  @Override
  public String toString() {
    return CopyResponses.describe("CopyBothResponse", format, columnFormats);
  }
}
