package dev.gatehouse.masking;

import dev.gatehouse.core.ColumnOrigin;
import java.util.List;
import java.util.Objects;

/**
 * One column of a result shape, as the planner needs it.
 *
 * @param origin where the values come from
 * @param type the column's type family
 * @param format how the values travel to the client
 * @param fieldTypes for a {@link ColumnOrigin.Row} origin, the type family of each field in order
 *     (may be empty: a masked field of unknown type becomes NULL inside the row, which is valid for
 *     every type); ignored for other origins
 */
public record ResultColumn(ColumnOrigin origin, TypeFamily type, ValueFormat format, List<TypeFamily> fieldTypes) {
  public ResultColumn {
    Objects.requireNonNull(origin, "origin == null");
    Objects.requireNonNull(type, "type == null");
    Objects.requireNonNull(format, "format == null");
    fieldTypes = List.copyOf(fieldTypes);
  }

  public ResultColumn(ColumnOrigin origin, TypeFamily type, ValueFormat format) {
    this(origin, type, format, List.of());
  }

  /** A text-format column. */
  public static ResultColumn text(ColumnOrigin origin, TypeFamily type) {
    return new ResultColumn(origin, type, ValueFormat.TEXT);
  }
}
