package dev.gatehouse.postgres;

import dev.gatehouse.masking.MaskOutput;
import dev.gatehouse.masking.MaskPlan;
import dev.gatehouse.postgres.wire.ProtocolException;
import java.util.Arrays;

/**
 * Applies a {@link MaskPlan} to DataRow bodies and to COPY text rows. When the plan only scans
 * (detectors, length unchanged) the body is masked in place and relayed as it is; when it replaces
 * values, the row is re-encoded into a buffer reused across rows. Columns the plan passes are
 * copied without being looked at.
 *
 * <p>Not thread-safe: one per session, used by the target→client thread.
 */
final class RowRewriter {
  private final MaskOutput value = new MaskOutput(256);
  private byte[] row = new byte[1024];
  private int size;

  /**
   * The DataRow body to send for {@code body} under {@code plan}: {@code body} itself (masked in
   * place) or a new array.
   *
   * @throws ProtocolException when the row does not match its description (fail closed)
   */
  byte[] dataRow(MaskPlan plan, byte[] body) {
    if (body.length < 2) throw ProtocolException.violation("DataRow shorter than its column count");
    int count = ((body[0] & 0xff) << 8) | (body[1] & 0xff);
    if (count != plan.size()) {
      throw ProtocolException.violation("DataRow has " + count + " columns, its row description " + plan.size());
    }
    boolean inPlace = !plan.changesLength();
    size = 0;
    if (!inPlace) {
      ensure(body.length + 64);
      row[0] = body[0];
      row[1] = body[1];
      size = 2;
    }
    int p = 2;
    for (int i = 0; i < count; i++) {
      if (p + 4 > body.length) throw ProtocolException.violation("DataRow column " + (i + 1) + " cut short");
      int len = ((body[p] & 0xff) << 24) | ((body[p + 1] & 0xff) << 16) | ((body[p + 2] & 0xff) << 8) | (body[p + 3] & 0xff);
      p += 4;
      if (len < -1 || (len > 0 && len > body.length - p)) {
        throw ProtocolException.violation("DataRow column " + (i + 1) + " has an invalid length");
      }
      if (inPlace) {
        if (len > 0 && plan.action(i) == MaskPlan.Action.DETECT) plan.detect(i, body, p, len);
      } else if (len == -1) {
        putInt(-1);
      } else if (plan.action(i) == MaskPlan.Action.PASS) {
        putInt(len);
        put(body, p, len);
      } else {
        value.reset();
        int n = plan.write(i, body, p, len, value);
        if (n < 0) {
          putInt(-1);
        } else {
          putInt(n);
          put(value.array(), 0, n);
        }
      }
      if (len > 0) p += len;
    }
    if (p != body.length) throw ProtocolException.violation("DataRow has bytes after its last column");
    return inPlace ? body : Arrays.copyOf(row, size);
  }

  /**
   * One row of COPY text format ({@code value TAB value … NEWLINE}, {@code \N} for NULL, backslash
   * escapes) masked under {@code plan}: each value the plan touches is unescaped, masked and escaped
   * again. The caller has made sure the COPY uses the default delimiter and NULL string.
   *
   * @throws PostgresGatewayException when the row does not have the announced number of columns
   */
  byte[] copyTextRow(MaskPlan plan, byte[] data) {
    size = 0;
    ensure(data.length + 64);
    int end = data.length;
    if (end > 0 && data[end - 1] == '\n') end--;
    int column = 0, start = 0;
    for (int i = 0; i <= end; i++) {
      if (i < end && data[i] != '\t') continue;
      if (column >= plan.size()) throw new PostgresGatewayException("08P01", "COPY row has more columns than announced");
      if (column > 0) put((byte) '\t');
      copyField(plan, column, data, start, i);
      column++;
      start = i + 1;
    }
    if (column != plan.size()) throw new PostgresGatewayException("08P01", "COPY row has fewer columns than announced");
    if (end < data.length) put((byte) '\n');
    return Arrays.copyOf(row, size);
  }

  private void copyField(MaskPlan plan, int column, byte[] data, int from, int to) {
    boolean isNull = to - from == 2 && data[from] == '\\' && data[from + 1] == 'N';
    if (isNull || plan.action(column) == MaskPlan.Action.PASS) {
      put(data, from, to - from);
      return;
    }
    byte[] raw = unescape(data, from, to);
    value.reset();
    int n = plan.write(column, raw, 0, raw.length, value);
    if (n < 0) {
      put((byte) '\\');
      put((byte) 'N');
      return;
    }
    byte[] v = value.array();
    for (int i = 0; i < n; i++) {
      byte b = v[i];
      switch (b) {
        case '\\' -> { put((byte) '\\'); put((byte) '\\'); }
        case '\t' -> { put((byte) '\\'); put((byte) 't'); }
        case '\n' -> { put((byte) '\\'); put((byte) 'n'); }
        case '\r' -> { put((byte) '\\'); put((byte) 'r'); }
        default -> put(b);
      }
    }
  }

  /** COPY text escapes (PostgreSQL documentation, COPY "Text Format"). */
  private static byte[] unescape(byte[] d, int from, int to) {
    byte[] out = new byte[to - from];
    int n = 0;
    for (int i = from; i < to; i++) {
      byte b = d[i];
      if (b != '\\' || i + 1 >= to) {
        out[n++] = b;
        continue;
      }
      byte c = d[++i];
      switch (c) {
        case 'b' -> out[n++] = '\b';
        case 'f' -> out[n++] = '\f';
        case 'n' -> out[n++] = '\n';
        case 'r' -> out[n++] = '\r';
        case 't' -> out[n++] = '\t';
        case 'v' -> out[n++] = 0x0b;
        case 'x' -> {
          int v = 0, k = 0;
          while (k < 2 && i + 1 < to && Character.digit(d[i + 1], 16) >= 0) {
            v = v * 16 + Character.digit(d[++i], 16);
            k++;
          }
          out[n++] = (byte) v;
        }
        default -> {
          if (c >= '0' && c <= '7') {
            int v = c - '0', k = 1;
            while (k < 3 && i + 1 < to && d[i + 1] >= '0' && d[i + 1] <= '7') {
              v = v * 8 + (d[++i] - '0');
              k++;
            }
            out[n++] = (byte) v;
          } else {
            out[n++] = c;
          }
        }
      }
    }
    return Arrays.copyOf(out, n);
  }

  private void putInt(int v) {
    ensure(4);
    row[size++] = (byte) (v >>> 24);
    row[size++] = (byte) (v >>> 16);
    row[size++] = (byte) (v >>> 8);
    row[size++] = (byte) v;
  }

  private void put(byte b) {
    ensure(1);
    row[size++] = b;
  }

  private void put(byte[] src, int off, int len) {
    ensure(len);
    System.arraycopy(src, off, row, size, len);
    size += len;
  }

  private void ensure(int n) {
    if (size + n <= row.length) return;
    long want = Math.max((long) row.length * 2, (long) size + n);
    if (want > Integer.MAX_VALUE - 16) throw new PostgresGatewayException("54000", "masked row too large");
    row = Arrays.copyOf(row, (int) want);
  }
}
