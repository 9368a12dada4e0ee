package dev.gatehouse.postgres.wire;

import java.util.Arrays;

/** ParameterDescription: the type OIDs of a prepared statement's parameters. */
public record ParameterDescription(int[] types) implements BackendMessage {
  public static final byte TYPE = 't';

  public ParameterDescription {
    Values.count16(Values.nonNull(types, "types").length, "types");
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ParameterDescription p && Arrays.equals(p.types, types);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(types);
  }

  @Override
  public String toString() {
    return "ParameterDescription[types=" + Arrays.toString(types) + "]";
  }
}
