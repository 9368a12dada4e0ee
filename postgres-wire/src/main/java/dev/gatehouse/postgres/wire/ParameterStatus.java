package dev.gatehouse.postgres.wire;

/** ParameterStatus: the server reports the current value of a run-time parameter. */
public record ParameterStatus(String name, String value) implements BackendMessage {
  public static final byte TYPE = 'S';

  public ParameterStatus {
    Values.text(name, "name");
    Values.text(value, "value");
  }
}
