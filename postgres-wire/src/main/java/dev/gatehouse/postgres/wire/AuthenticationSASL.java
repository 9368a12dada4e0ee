package dev.gatehouse.postgres.wire;

import java.util.List;

/** AuthenticationSASL: the server offers these SASL mechanisms, in order of its preference. */
public record AuthenticationSASL(List<String> mechanisms) implements Authentication {
  public AuthenticationSASL {
    mechanisms = List.copyOf(Values.nonNull(mechanisms, "mechanisms"));
    for (String m : mechanisms) {
      if (Values.text(m, "mechanism").isEmpty()) {
        // The empty string terminates the list on the wire.
        throw new IllegalArgumentException("mechanism is empty");
      }
    }
  }

  @Override
  public int code() {
    return SASL;
  }
}
