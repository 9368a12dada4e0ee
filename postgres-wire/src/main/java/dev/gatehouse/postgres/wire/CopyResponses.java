package dev.gatehouse.postgres.wire;

import java.util.Arrays;

/**
 * What CopyInResponse, CopyOutResponse and CopyBothResponse share: the same body (an overall format
 * and a format code per column), compared, hashed and shown by value rather than by the array's
 * identity.
 */
final class CopyResponses {
  private CopyResponses() {}

  static boolean same(byte format, short[] columnFormats, byte otherFormat, short[] otherColumnFormats) {
    return format == otherFormat && Arrays.equals(columnFormats, otherColumnFormats);
  }

  static int hash(byte format, short[] columnFormats) {
    return 31 * format + Arrays.hashCode(columnFormats);
  }

  static String describe(String name, byte format, short[] columnFormats) {
    return name + "[format=" + format + ", columnFormats=" + Arrays.toString(columnFormats) + "]";
  }

  /** Reads a copy response's body into the message {@code make} builds. */
  static <M extends BackendMessage> M decode(byte[] body, String name, Maker<M> make) {
    var r = new BodyReader(body, name);
    byte format = r.int8();
    M message = make.make(format, r.int16s(r.uint16(), "column format"));
    r.expectEnd();
    return message;
  }

  @FunctionalInterface
  interface Maker<M> {
    M make(byte format, short[] columnFormats);
  }
}
