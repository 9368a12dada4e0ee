package dev.gatehouse.postgres.wire;

import java.util.Arrays;
import java.util.Objects;
import java.util.Optional;

/** FunctionCallResponse: the result of a fast-path call; empty when it is SQL NULL. */
public record FunctionCallResponse(Optional<byte[]> value) implements BackendMessage {
  public static final byte TYPE = 'V';

  public FunctionCallResponse {
    Objects.requireNonNull(value, "value == null");
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof FunctionCallResponse f
        && f.value.isPresent() == value.isPresent()
        && (value.isEmpty() || Arrays.equals(f.value.get(), value.get()));
  }

  @Override
  public int hashCode() {
    return value.map(Arrays::hashCode).orElse(-1);
  }

  @Override
  public String toString() {
    return "FunctionCallResponse[" + value.map(v -> "<" + v.length + " bytes>").orElse("NULL") + "]";
  }
}
