package dev.gatehouse.postgres.wire;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * DataRow, decoded lazily: it holds the raw body as it came off the wire and reads a column only
 * when asked, so a row that needs no masking costs nothing beyond the structural check {@link
 * BackendCodec#decode(Frame)} makes (every length fits in the body, nothing after the last
 * column), which also notes where each column starts. A row that is only relayed is never
 * decoded at all: relay its {@link Frame}.
 *
 * <p>Immutable, so instances may be shared between threads. The body array is not copied and
 * must not be modified. {@link #toString()} shows the column count only.
 */
public final class DataRow implements BackendMessage {
  public static final byte TYPE = 'D';

  private final byte[] body;
  private final int columnCount;
  // Where each column's length word starts.
  private final int[] offsets;

  private DataRow(byte[] body, int[] offsets) {
    this.body = body;
    this.columnCount = offsets.length;
    this.offsets = offsets;
  }

  /**
   * Wraps a DataRow body after checking its structure.
   *
   * @throws ProtocolException if a count or length does not fit the body
   */
  public static DataRow wrap(byte[] body) {
    Objects.requireNonNull(body, "body == null");
    var reader = new BodyReader(body, "DataRow");
    int count = reader.uint16();
    // Each column takes at least its 4-byte length: check before allocating the offsets.
    reader.needElements(count, 4, "column");
    int[] offsets = new int[count];
    for (int i = 0; i < count; i++) {
      offsets[i] = body.length - reader.remaining();
      int length = reader.int32();
      if (length == -1) {
        continue;
      }
      if (length < 0) {
        throw ProtocolException.violation("DataRow column length " + length + " < -1");
      }
      reader.skip(length);
    }
    reader.expectEnd();
    return new DataRow(body, offsets);
  }

  /** A row from column values; a null element stands for SQL NULL. */
  public static DataRow of(List<byte[]> values) {
    Objects.requireNonNull(values, "values == null");
    Values.count16(values.size(), "values");
    int size = 2;
    for (byte[] v : values) {
      size += 4 + (v == null ? 0 : v.length);
    }
    var buf = new WireBuffer(size);
    buf.putInt16(values.size());
    int[] offsets = new int[values.size()];
    for (int i = 0; i < offsets.length; i++) {
      byte[] v = values.get(i);
      offsets[i] = buf.size();
      if (v == null) {
        buf.putInt32(-1);
      } else {
        buf.putInt32(v.length);
        buf.putBytes(v);
      }
    }
    return new DataRow(buf.toByteArray(), offsets);
  }

  /** The raw body, exactly as on the wire (not a copy: do not modify). */
  public byte[] body() {
    return body;
  }

  public int columnCount() {
    return columnCount;
  }

  /** Whether column {@code index} is SQL NULL. */
  public boolean isNull(int index) {
    return length(index) == -1;
  }

  /** The value of column {@code index}, empty when it is SQL NULL. */
  public Optional<byte[]> value(int index) {
    int length = length(index);
    if (length == -1) {
      return Optional.empty();
    }
    int start = offsets[index] + 4;
    return Optional.of(Arrays.copyOfRange(body, start, start + length));
  }

  /**
   * The value of column {@code index} as UTF-8 text (for text-format columns), empty when NULL.
   *
   * @throws ProtocolException if the value is not valid UTF-8
   */
  public Optional<String> text(int index) {
    int length = length(index);
    if (length == -1) {
      return Optional.empty();
    }
    return Optional.of(BodyReader.utf8(body, offsets[index] + 4, length, "DataRow"));
  }

  /**
   * Every column value in order; a null element stands for SQL NULL. Decodes the whole row: use
   * it when most columns are needed anyway, e.g. to rebuild a masked row with {@link #of}.
   */
  public List<byte[]> values() {
    var values = new ArrayList<byte[]>(columnCount);
    for (int i = 0; i < columnCount; i++) {
      values.add(value(i).orElse(null));
    }
    return Collections.unmodifiableList(values);
  }

  private int length(int index) {
    Objects.checkIndex(index, columnCount);
    return BodyReader.int32At(body, offsets[index]);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof DataRow d && Arrays.equals(d.body, body);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(body);
  }

  @Override
  public String toString() {
    return "DataRow[<" + columnCount + " columns>]";
  }
}
