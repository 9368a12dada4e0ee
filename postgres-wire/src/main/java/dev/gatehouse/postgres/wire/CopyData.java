package dev.gatehouse.postgres.wire;

import java.util.Arrays;

/**
 * CopyData: a chunk of a COPY data stream, in either direction (the format is the same). {@link
 * #toString()} shows the length only.
 */
public record CopyData(byte[] data) implements FrontendMessage, BackendMessage {
  public static final byte TYPE = 'd';

  public CopyData {
    Values.bytes(data, "data");
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof CopyData c && Arrays.equals(c.data, data);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(data);
  }

  @Override
  public String toString() {
    return "CopyData[<" + data.length + " bytes>]";
  }
}
