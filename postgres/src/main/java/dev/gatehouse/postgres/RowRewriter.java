package dev.gatehouse.postgres;

import dev.gatehouse.masking.MaskOutput;
import dev.gatehouse.masking.MaskPlan;
import dev.gatehouse.postgres.wire.ProtocolException;
import java.util.Arrays;

/**
 * Applies a {@link MaskPlan} to DataRow bodies and to COPY text rows. When the plan only scans
 * (detectors, length unchanged) the body is masked in place, where it lies in the relay's buffer,
 * and relayed as it is: one pass over its bytes, nothing allocated. When the plan replaces values,
 * the row is re-encoded into a buffer reused across rows. Columns the plan passes are copied
 * without being looked at.
 *
 * <p>Not thread-safe: one per session, used by the target→client thread.
 */
final class RowRewriter {
  private final MaskOutput value = new MaskOutput(256);
  private byte[] row = new byte[1024];
  private int size;

  /**
   * Masks the DataRow body {@code buf[off, off+len)} under {@code plan}: in place when the plan
   * only scans (detectors keep the length), or re-encoded into {@link #row()}.
   *
   * @return -1 when the body was masked in place (send it as it is), otherwise the length of the
   *     body to send instead, in {@link #row()}
   * @throws ProtocolException when the row does not match its description (fail closed)
   */
  int dataRow(MaskPlan plan, byte[] buf, int off, int len) {
    if (len < 2) throw ProtocolException.violation("DataRow shorter than its column count");
    int end = off + len;
    int count = ((buf[off] & 0xff) << 8) | (buf[off + 1] & 0xff);
    if (count != plan.size()) {
      throw ProtocolException.violation("DataRow has " + count + " columns, its row description " + plan.size());
    }
    boolean inPlace = !plan.changesLength();
    size = 0;
    if (!inPlace) {
      ensure(len + 64);
      row[0] = buf[off];
      row[1] = buf[off + 1];
      size = 2;
    }
    int p = off + 2;
    for (int i = 0; i < count; i++) {
      if (p + 4 > end) throw ProtocolException.violation("DataRow column " + (i + 1) + " cut short");
      int n = ((buf[p] & 0xff) << 24) | ((buf[p + 1] & 0xff) << 16) | ((buf[p + 2] & 0xff) << 8) | (buf[p + 3] & 0xff);
      p += 4;
      if (n < -1 || (n > 0 && n > end - p)) {
        throw ProtocolException.violation("DataRow column " + (i + 1) + " has an invalid length");
      }
      if (inPlace) {
        if (n > 0 && plan.action(i) == MaskPlan.Action.DETECT) plan.detect(i, buf, p, n);
      } else if (n == -1) {
        putInt(-1);
      } else if (plan.action(i) == MaskPlan.Action.PASS) {
        putInt(n);
        put(buf, p, n);
      } else {
        value.reset();
        int w = plan.write(i, buf, p, n, value);
        if (w < 0) {
          putInt(-1);
        } else {
          putInt(w);
          put(value.array(), 0, w);
        }
      }
      if (n > 0) p += n;
    }
    if (p != end) throw ProtocolException.violation("DataRow has bytes after its last column");
    return inPlace ? -1 : size;
  }

  /** The body {@link #dataRow} re-encoded (its first {@code n} bytes), until the next call. */
  byte[] row() {
    return row;
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

  /**
   * One row of COPY CSV format with PostgreSQL's defaults (values separated by commas; a value in
   * double quotes when it holds a comma, a quote, a line break or is empty, quotes inside doubled; an
   * unquoted empty value is NULL) masked under {@code plan}: each value the plan touches is unquoted,
   * masked and written quoted (so a masked empty string stays apart from NULL). A quoted value may
   * span lines: PostgreSQL sends each row, whole, in one CopyData message.
   *
   * @throws PostgresGatewayException when the row is not such CSV or does not have the announced
   *     number of columns
   */
  byte[] copyCsvRow(MaskPlan plan, byte[] data) {
    size = 0;
    ensure(data.length + 64);
    int end = data.length;
    if (end > 0 && data[end - 1] == '\n') end--;
    if (end > 0 && data[end - 1] == '\r') end--;
    int column = 0, i = 0;
    while (true) {
      if (column >= plan.size()) throw new PostgresGatewayException("08P01", "COPY row has more columns than announced");
      int start = i;
      boolean quoted = i < end && data[i] == '"';
      if (quoted) {
        i++;
        while (true) {
          if (i >= end) throw new PostgresGatewayException("08P01", "COPY CSV row ends inside a quoted value");
          if (data[i] == '"') {
            if (i + 1 < end && data[i + 1] == '"') {
              i += 2;
              continue;
            }
            i++;
            break;
          }
          i++;
        }
        if (i < end && data[i] != ',') throw new PostgresGatewayException("08P01", "COPY CSV value continues after its closing quote");
      } else {
        while (i < end && data[i] != ',') {
          if (data[i] == '"') throw new PostgresGatewayException("08P01", "COPY CSV value holds a quote outside quotes");
          i++;
        }
      }
      if (column > 0) put((byte) ',');
      csvField(plan, column, data, start, i, quoted);
      column++;
      if (i >= end) break;
      i++; // the comma
    }
    if (column != plan.size()) throw new PostgresGatewayException("08P01", "COPY row has fewer columns than announced");
    if (end < data.length) put(data, end, data.length - end);
    return Arrays.copyOf(row, size);
  }

  private void csvField(MaskPlan plan, int column, byte[] data, int from, int to, boolean quoted) {
    boolean isNull = !quoted && from == to;
    if (isNull || plan.action(column) == MaskPlan.Action.PASS) {
      put(data, from, to - from);
      return;
    }
    byte[] raw;
    if (quoted) {
      raw = new byte[to - from];
      int n = 0;
      for (int i = from + 1; i < to - 1; i++) {
        raw[n++] = data[i];
        if (data[i] == '"') i++; // a doubled quote
      }
      raw = Arrays.copyOf(raw, n);
    } else {
      raw = Arrays.copyOfRange(data, from, to);
    }
    value.reset();
    int n = plan.write(column, raw, 0, raw.length, value);
    if (n < 0) return; // NULL: an unquoted empty value
    byte[] v = value.array();
    if (Arrays.equals(v, 0, n, raw, 0, raw.length)) {
      put(data, from, to - from); // scanned and unchanged: as the server wrote it
      return;
    }
    put((byte) '"');
    for (int i = 0; i < n; i++) {
      if (v[i] == '"') put((byte) '"');
      put(v[i]);
    }
    put((byte) '"');
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
