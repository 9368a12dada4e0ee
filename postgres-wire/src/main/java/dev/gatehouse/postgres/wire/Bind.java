package dev.gatehouse.postgres.wire;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * Bind: create {@code portal} (empty for the unnamed one) from prepared {@code statement} with
 * parameter values.
 *
 * <p>{@code parameters} is the one place where a null element is allowed: it stands for SQL NULL
 * (length -1 on the wire), exactly as the protocol puts it; {@link #parameter(int)} offers the
 * same as an {@link Optional}. Format codes follow the protocol: none means all text, one applies
 * to all, otherwise one per parameter (or result column). {@link #toString()} shows counts only:
 * parameter values may be secrets.
 */
public record Bind(
    String portal,
    String statement,
    short[] parameterFormats,
    List<byte[]> parameters,
    short[] resultFormats)
    implements FrontendMessage {
  public static final byte TYPE = 'B';

  public Bind {
    Values.text(portal, "portal");
    Values.text(statement, "statement");
    Values.count16(Values.nonNull(parameterFormats, "parameterFormats").length, "parameterFormats");
    parameters = Values.nullableValues(parameters, "parameters");
    Values.count16(parameters.size(), "parameters");
    Values.count16(Values.nonNull(resultFormats, "resultFormats").length, "resultFormats");
  }

  /** Parameter {@code index}, empty when it is SQL NULL. */
  public Optional<byte[]> parameter(int index) {
    return Optional.ofNullable(parameters.get(index));
  }

  /**
   * The format code (0 text, 1 binary) of parameter {@code index}, resolved as the protocol says:
   * no codes means text, a single code applies to every parameter.
   */
  public short parameterFormat(int index) {
    return resolveFormat(parameterFormats, index);
  }

  /** The format code of result column {@code index}, resolved like {@link #parameterFormat}. */
  public short resultFormat(int index) {
    return resolveFormat(resultFormats, index);
  }

  static short resolveFormat(short[] formats, int index) {
    if (formats.length == 0) {
      return 0;
    }
    return formats.length == 1 ? formats[0] : formats[index];
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Bind b
        && b.portal.equals(portal)
        && b.statement.equals(statement)
        && Arrays.equals(b.parameterFormats, parameterFormats)
        && Values.equal(b.parameters, parameters)
        && Arrays.equals(b.resultFormats, resultFormats);
  }

  @Override
  public int hashCode() {
    int h = portal.hashCode();
    h = 31 * h + statement.hashCode();
    h = 31 * h + Arrays.hashCode(parameterFormats);
    h = 31 * h + Values.hash(parameters);
    return 31 * h + Arrays.hashCode(resultFormats);
  }

  @Override
  public String toString() {
    return "Bind[portal=" + portal + ", statement=" + statement + ", parameterFormats="
        + Arrays.toString(parameterFormats) + ", parameters=<" + parameters.size()
        + " values>, resultFormats=" + Arrays.toString(resultFormats) + "]";
  }
}
