package dev.gatehouse.postgres.wire;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * FunctionCall: the fast-path call of a function by OID, carrying no SQL text. As in {@link
 * Bind}, a null element of {@code arguments} stands for SQL NULL (the one place a null is
 * allowed). {@link #toString()} shows counts only.
 */
public record FunctionCall(
    int functionOid, short[] argumentFormats, List<byte[]> arguments, short resultFormat)
    implements FrontendMessage {
  public static final byte TYPE = 'F';

  public FunctionCall {
    Values.count16(Values.nonNull(argumentFormats, "argumentFormats").length, "argumentFormats");
    arguments = Values.nullableValues(arguments, "arguments");
    Values.count16(arguments.size(), "arguments");
  }

  /** Argument {@code index}, empty when it is SQL NULL. */
  public Optional<byte[]> argument(int index) {
    return Optional.ofNullable(arguments.get(index));
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof FunctionCall f
        && f.functionOid == functionOid
        && Arrays.equals(f.argumentFormats, argumentFormats)
        && Values.equal(f.arguments, arguments)
        && f.resultFormat == resultFormat;
  }

  @Override
  public int hashCode() {
    int h = functionOid;
    h = 31 * h + Arrays.hashCode(argumentFormats);
    h = 31 * h + Values.hash(arguments);
    return 31 * h + resultFormat;
  }

  @Override
  public String toString() {
    return "FunctionCall[functionOid=" + functionOid + ", argumentFormats="
        + Arrays.toString(argumentFormats) + ", arguments=<" + arguments.size()
        + " values>, resultFormat=" + resultFormat + "]";
  }
}
