package dev.gatehouse.postgres.wire;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

/** Argument checks and array-aware equality shared by the message records. */
final class Values {
  private Values() {}

  /**
   * A string to be sent NUL-terminated UTF-8. A NUL inside would end it early on the wire and let
   * the rest be read as another field (an injection); an unpaired surrogate has no UTF-8 form and
   * would be sent as '?', a different text. Both are refused here, at construction.
   */
  static String text(String value, String name) {
    Objects.requireNonNull(value, () -> name + " == null");
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c == '\0') {
        throw new IllegalArgumentException(name + " contains a NUL character");
      }
      if (Character.isSurrogate(c)) {
        if (Character.isHighSurrogate(c)
            && i + 1 < value.length()
            && Character.isLowSurrogate(value.charAt(i + 1))) {
          i++;
        } else {
          throw new IllegalArgumentException(name + " contains an unpaired surrogate");
        }
      }
    }
    return value;
  }

  static <T> T nonNull(T value, String name) {
    return Objects.requireNonNull(value, () -> name + " == null");
  }

  static byte[] bytes(byte[] value, String name) {
    return Objects.requireNonNull(value, () -> name + " == null");
  }

  /** An unmodifiable copy of a list whose null elements stand for SQL NULL. */
  static List<byte[]> nullableValues(List<byte[]> values, String name) {
    Objects.requireNonNull(values, () -> name + " == null");
    return Collections.unmodifiableList(new ArrayList<>(values));
  }

  static boolean equal(List<byte[]> a, List<byte[]> b) {
    if (a.size() != b.size()) {
      return false;
    }
    for (int i = 0; i < a.size(); i++) {
      if (!Arrays.equals(a.get(i), b.get(i))) {
        return false;
      }
    }
    return true;
  }

  static int hash(List<byte[]> values) {
    int h = 1;
    for (byte[] v : values) {
      h = 31 * h + Arrays.hashCode(v);
    }
    return h;
  }

  /** A 16-bit count as the wire carries it (unsigned, as PostgreSQL reads it). */
  static int count16(int count, String name) {
    if (count < 0 || count > 0xffff) {
      throw new IllegalArgumentException(name + " count " + count + " is not in [0, 65535]");
    }
    return count;
  }
}
