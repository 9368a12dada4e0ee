package dev.gatehouse.masking;

import java.util.Arrays;
import java.util.Objects;
import java.util.Optional;

/**
 * What to do with each column of one result shape, and the means to do it. Built by {@link
 * MaskPlanner#plan} once per shape; then, per row, only where it says so:
 *
 * <pre>{@code
 * if (plan.refusal().isPresent())      refuse the statement with its reason (no row is relayed)
 * else if (!plan.needsDecoding())      relay rows untouched
 * else if (!plan.changesLength())      for each DETECT column: plan.detect(i, buf, off, len) — in place
 * else                                 re-encode: for each non-NULL column, plan.write(i, buf, off, len, out)
 * }</pre>
 *
 * NULL stays NULL: the caller never passes NULLs in, and a value is turned into NULL only where
 * {@link #write} says so (-1), which happens for row values masking cannot parse.
 *
 * <p>{@link #touchesMasked()} tells the protocol module to replace the text of notices and errors
 * raised by this statement with a generic one (they may quote a masked value).
 *
 * <p>Not thread-safe: a plan holds HMAC instances and scratch buffers; it belongs to one
 * connection. Per value it allocates nothing, except for JSON and row values under a column rule.
 */
public final class MaskPlan {
  /** What happens to one column. */
  public enum Action {
    /** Relayed as it is. */
    PASS,
    /** Scanned by value detectors; only matches are masked, in place, length unchanged. */
    DETECT,
    /** Replaced whole by its rule's style (for a row value: its masked fields; strict mode: NULL). */
    MASK
  }

  private static final byte PASS = 0, DETECT = 1, DETECT_INT = 2, MASK = 3, MASK_ROW = 4, NULLED = 5;

  private final byte[] kinds;
  private final String[] rules;
  private final Detectors[] detectors;
  private final Detectors.Replacement[] replacements;
  private final ValueMasker[] maskers;
  private final RowText[] rows;
  private final boolean touchesMasked;
  private final boolean needsDecoding;
  private final boolean changesLength;
  private final Optional<Refusal> refusal;
  private final Optional<String> notice;

  private MaskPlan(Builder b, boolean touchesMasked, Optional<Refusal> refusal) {
    this(b, touchesMasked, refusal, Optional.empty());
  }

  private MaskPlan(Builder b, boolean touchesMasked, Optional<Refusal> refusal, Optional<String> notice) {
    this.kinds = b.kinds;
    this.rules = b.rules;
    this.detectors = b.detectors;
    this.replacements = b.replacements;
    this.maskers = b.maskers;
    this.rows = b.rows;
    this.touchesMasked = touchesMasked;
    this.refusal = refusal;
    this.notice = notice;
    boolean decode = false, length = false;
    for (byte k : kinds) {
      decode |= k != PASS;
      length |= k == MASK || k == MASK_ROW || k == NULLED;
    }
    this.needsDecoding = decode;
    this.changesLength = length;
  }

  /** A plan that relays every one of {@code columns} columns untouched. */
  public static MaskPlan passThrough(int columns) {
    return new Builder(columns).build(false, Optional.empty());
  }

  public int size() {
    return kinds.length;
  }

  /** Whether any column is scanned or masked; false: relay rows without decoding them. */
  public boolean needsDecoding() {
    return needsDecoding;
  }

  /** Whether any column is replaced whole (the row must be re-encoded); false: detection works in place. */
  public boolean changesLength() {
    return changesLength;
  }

  /** Whether the statement reads or returns a masked column (replace its notice and error texts). */
  public boolean touchesMasked() {
    return touchesMasked;
  }

  /** Present when the result must not be relayed at all (strict deny, a type that cannot be masked in its format). */
  public Optional<Refusal> refusal() {
    return refusal;
  }

  public Action action(int column) {
    return switch (kinds[column]) {
      case PASS -> Action.PASS;
      case DETECT, DETECT_INT -> Action.DETECT;
      default -> Action.MASK;
    };
  }

  /** What the client is told before the rows (a NOTICE), if anything: why columns come back NULL. */
  public Optional<String> notice() {
    return notice;
  }

  /** This plan, telling the client {@code text} before its rows. */
  public MaskPlan withNotice(String text) {
    Builder b = new Builder(kinds.length);
    System.arraycopy(kinds, 0, b.kinds, 0, kinds.length);
    System.arraycopy(rules, 0, b.rules, 0, kinds.length);
    System.arraycopy(detectors, 0, b.detectors, 0, kinds.length);
    System.arraycopy(replacements, 0, b.replacements, 0, kinds.length);
    System.arraycopy(maskers, 0, b.maskers, 0, kinds.length);
    System.arraycopy(rows, 0, b.rows, 0, kinds.length);
    return new MaskPlan(b, touchesMasked, refusal, Optional.of(text));
  }

  /** Whether strict mode turns every value of the column into NULL (it is computed from masked columns). */
  public boolean nulled(int column) {
    return kinds[column] == NULLED;
  }

  /** Whether any column is {@link #nulled(int) nulled}. */
  public boolean nullsAny() {
    for (byte k : kinds) {
      if (k == NULLED) return true;
    }
    return false;
  }

  /** The rule that masks the column whole, if one does. */
  public Optional<String> rule(int column) {
    return Optional.ofNullable(rules[column]);
  }

  /** The detectors that scan the column (none unless its action is DETECT). */
  public Detectors detectors(int column) {
    return detectors[column] == null ? Detectors.none() : detectors[column];
  }

  /**
   * Masks detected values of a DETECT column in place; the length never changes. Does nothing for
   * other columns.
   *
   * @return whether anything was masked
   */
  public boolean detect(int column, byte[] buf, int off, int len) {
    checkUsable();
    return switch (kinds[column]) {
      case DETECT -> detectors[column].redact(buf, off, len, replacements[column]);
      case DETECT_INT -> {
        // A binary integer of 8 bytes is the only one long enough to be a card number.
        if (len != 8) yield false;
        long v = 0;
        for (int i = 0; i < 8; i++) v = (v << 8) | (buf[off + i] & 0xff);
        if (!Detectors.isCardNumber(v)) yield false;
        Arrays.fill(buf, off, off + 8, (byte) 0);
        yield true;
      }
      default -> false;
    };
  }

  /**
   * Appends column {@code column}'s value as it must reach the client: copied, copied and scanned,
   * or masked. {@code buf[off, off+len)} is not changed.
   *
   * @return the number of bytes appended, or -1 when the value must become NULL
   */
  public int write(int column, byte[] buf, int off, int len, MaskOutput out) {
    checkUsable();
    Objects.checkFromIndexSize(off, len, buf.length);
    int start = out.length();
    switch (kinds[column]) {
      case PASS -> out.write(buf, off, len);
      case DETECT, DETECT_INT -> {
        out.write(buf, off, len);
        detect(column, out.array(), start, len);
      }
      case MASK -> maskers[column].mask(buf, off, len, out);
      case NULLED -> {
        return -1;
      }
      default -> {
        if (rows[column].mask(buf, off, len, out) < 0) return -1;
        Detectors d = detectors[column];
        if (d != null && !d.isEmpty()) d.redact(out.array(), start, out.length() - start, Detectors.Replacement.DIGITS);
      }
    }
    return out.length() - start;
  }

  private void checkUsable() {
    if (refusal.isPresent()) throw new MaskingException("this result was refused (" + refusal.get().reason() + "); no value may be relayed");
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder("MaskPlan[");
    for (int i = 0; i < kinds.length; i++) {
      if (i > 0) sb.append(", ");
      sb.append(action(i));
      if (rules[i] != null) sb.append('(').append(rules[i]).append(')');
    }
    return sb.append(refusal.map(r -> ", refused by " + r.rule()).orElse("")).append(']').toString();
  }

  /** Collects column decisions; used by {@link MaskPlanner}. */
  static final class Builder {
    private final byte[] kinds;
    private final String[] rules;
    private final Detectors[] detectors;
    private final Detectors.Replacement[] replacements;
    private final ValueMasker[] maskers;
    private final RowText[] rows;

    Builder(int n) {
      kinds = new byte[n];
      rules = new String[n];
      detectors = new Detectors[n];
      replacements = new Detectors.Replacement[n];
      maskers = new ValueMasker[n];
      rows = new RowText[n];
    }

    void mask(int i, String rule, ValueMasker masker) {
      kinds[i] = MASK;
      rules[i] = rule;
      maskers[i] = masker;
    }

    /**
     * Every value of the column becomes NULL, whatever it was (NULL included): a value the
     * statement computed from masked columns, in which anything (a boolean, a length, whether it
     * is NULL, a JSON document's shape) may carry their data.
     */
    void nullify(int i, String rule) {
      kinds[i] = NULLED;
      rules[i] = rule;
    }

    void maskRow(int i, String rule, RowText row, Detectors scan) {
      kinds[i] = MASK_ROW;
      rules[i] = rule;
      rows[i] = row;
      detectors[i] = scan;
    }

    /** Scans the column with {@code scan} if its values can hold what detectors find; else passes it. */
    void detect(int i, Detectors scan, TypeFamily type, ValueFormat format) {
      if (scan.isEmpty()) return;
      boolean binary = format == ValueFormat.BINARY;
      Detectors.Replacement r = switch (type) {
        case TEXT -> Detectors.Replacement.TEXT;
        case JSON -> Detectors.Replacement.JSON;
        case COMPOSITE, OTHER -> Detectors.Replacement.DIGITS;
        case INTEGER, DECIMAL, NUMERIC -> binary ? null : Detectors.Replacement.DIGITS;
        // Booleans, dates, times, UUIDs cannot hold what detectors look for; bytea is not scanned.
        case BOOLEAN, DATE, TIME, TIMESTAMP, TIMESTAMPTZ, UUID, BYTEA -> null;
      };
      if (type == TypeFamily.INTEGER && binary && scan.enabled().contains(Detector.CARD)) {
        kinds[i] = DETECT_INT;
        detectors[i] = scan;
        return;
      }
      if (r == null) return;
      kinds[i] = DETECT;
      detectors[i] = scan;
      replacements[i] = r;
    }

    MaskPlan build(boolean touchesMasked, Optional<Refusal> refusal) {
      return new MaskPlan(this, touchesMasked, refusal);
    }
  }
}
