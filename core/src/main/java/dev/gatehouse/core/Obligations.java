package dev.gatehouse.core;

import java.util.List;

/**
 * What must happen to the result of an allowed command. Masking and recording fill this in as they
 * arrive; an empty obligation set relays the result untouched.
 *
 * @param masks names of the masking rules that apply to the result
 */
public record Obligations(List<String> masks) {
  public static final Obligations NONE = new Obligations(List.of());

  public Obligations {
    masks = List.copyOf(masks);
  }
}
