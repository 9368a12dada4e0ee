package dev.gatehouse.postgres.wire;

import java.util.List;

/** RowDescription: the columns of the rows that follow. */
public record RowDescription(List<RowDescription.Field> fields) implements BackendMessage {
  public static final byte TYPE = 'T';

  public RowDescription {
    fields = List.copyOf(Values.nonNull(fields, "fields"));
    Values.count16(fields.size(), "fields");
  }

  /**
   * One column: its name, the table and attribute number it comes from (0 when it is not a plain
   * table column), its type OID, size and modifier, and its format code (0 text, 1 binary).
   */
  public record Field(
      String name,
      int tableOid,
      short columnAttribute,
      int typeOid,
      short typeSize,
      int typeModifier,
      short format) {
    public Field {
      Values.text(name, "name");
    }
  }
}
