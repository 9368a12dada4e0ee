package dev.gatehouse.masking;

/**
 * Masks fields inside the text form of a row value: {@code (f1,f2,...)}, a field empty when NULL,
 * quoted with {@code "} when it holds special characters, a quote or backslash inside quotes
 * doubled or backslash-escaped (PostgreSQL's record syntax; the same shape as other databases'
 * row literals). Masked fields are written quoted. Not thread-safe (scratch buffers).
 */
final class RowText {
  /** Per field: null to keep it, or the masker for it; {@link #TO_NULL} to make it NULL. */
  private final ValueMasker[] fields;
  private final boolean[] toNull;
  private final MaskOutput field = new MaskOutput(64);
  private final MaskOutput masked = new MaskOutput(64);

  RowText(ValueMasker[] fields, boolean[] toNull) {
    this.fields = fields;
    this.toNull = toNull;
  }

  /**
   * Appends the row with its masked fields to {@code out}.
   *
   * @return the number of bytes appended, or -1 when the value is not a row of the expected shape
   *     (the caller then makes the whole value NULL: masking never guesses)
   */
  int mask(byte[] b, int off, int len, MaskOutput out) {
    int end = off + len, start = out.length();
    if (len < 2 || b[off] != '(' || b[end - 1] != ')') return -1;
    out.write('(');
    int p = off + 1, index = 0;
    while (true) {
      if (index >= fields.length) return fail(out, start);
      int fieldStart = p;
      field.reset();
      if (p < end && b[p] == '"') {
        p++;
        while (true) {
          if (p >= end - 1) return fail(out, start);
          byte c = b[p];
          if (c == '\\') {
            field.write(b[p + 1]);
            p += 2;
          } else if (c == '"') {
            if (b[p + 1] == '"') {
              field.write('"');
              p += 2;
            } else {
              p++;
              break;
            }
          } else {
            field.write(c);
            p++;
          }
        }
      } else {
        while (p < end - 1 && b[p] != ',') {
          field.write(b[p]);
          p++;
        }
      }
      boolean isNull = p == fieldStart; // an empty unquoted field
      if (toNull[index]) {
        // nothing: the field becomes NULL
      } else if (fields[index] == null || isNull) {
        out.write(b, fieldStart, p - fieldStart);
      } else {
        masked.reset();
        fields[index].mask(field.array(), 0, field.length(), masked);
        out.write('"');
        for (int i = 0; i < masked.length(); i++) {
          byte c = masked.array()[i];
          if (c == '"' || c == '\\') out.write(c);
          out.write(c);
        }
        out.write('"');
      }
      index++;
      if (p >= end - 1) break;
      if (b[p] != ',') return fail(out, start);
      out.write(',');
      p++;
    }
    if (index != fields.length) return fail(out, start);
    out.write(')');
    return out.length() - start;
  }

  private static int fail(MaskOutput out, int start) {
    out.truncate(start);
    return -1;
  }
}
