package dev.gatehouse.masking;

/** How a column's values travel: the type's text form, or its binary form. */
public enum ValueFormat {
  TEXT,
  BINARY
}
