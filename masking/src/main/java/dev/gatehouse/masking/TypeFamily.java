package dev.gatehouse.masking;

/**
 * What a result column holds, as coarse as masking needs it to keep a masked value valid for the
 * client's parser. The protocol module maps its type identifiers here (PostgreSQL: {@code text},
 * {@code varchar}, {@code bpchar}, {@code name}, {@code citext} → {@link #TEXT}; {@code int2/4/8} →
 * {@link #INTEGER}; {@code numeric} → {@link #NUMERIC}; {@code float4/8} → {@link #DECIMAL}; {@code date} → {@link
 * #DATE}; {@code json}, {@code jsonb} → {@link #JSON}; a whole-row value → {@link #COMPOSITE};
 * arrays, ranges, {@code money}, {@code xml}, {@code inet} and everything unlisted → {@link #OTHER}).
 * docs/masking.md has the table of what each family's masked value is.
 */
public enum TypeFamily {
  /** Character strings. */
  TEXT,
  /** Fixed-width integers (2, 4 or 8 bytes in binary, big-endian two's complement). */
  INTEGER,
  /** Floating-point numbers (4 or 8 bytes in binary). */
  DECIMAL,
  /**
   * Arbitrary-precision numbers ({@code numeric}; in binary: digit count, weight, sign and scale,
   * then base-10000 digits).
   */
  NUMERIC,
  BOOLEAN,
  DATE,
  /** Time of day, with or without a zone. */
  TIME,
  TIMESTAMP,
  TIMESTAMPTZ,
  UUID,
  /** JSON documents ({@code json} and {@code jsonb}; jsonb's binary form starts with a version byte 1). */
  JSON,
  /** Byte strings. */
  BYTEA,
  /** A row value: the column of a {@link dev.gatehouse.core.ColumnOrigin.Row} origin. */
  COMPOSITE,
  /** Anything else: arrays, ranges, network types, geometric types, enums, domains over them. */
  OTHER;

  /** Whether values are character data a detector can scan as they are. */
  boolean textual() {
    return this == TEXT || this == JSON || this == COMPOSITE || this == OTHER;
  }
}
