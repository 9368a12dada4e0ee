package dev.gatehouse.store;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * The {@code block} of an {@code audit_events} row (schema version 6): up to {@value #MAX_EVENTS}
 * consecutive events of one chain, each as the hash the store keeps for it and its canonical bytes.
 * Big-endian:
 *
 * <pre>
 * block = format (1 byte, {@value #FORMAT}), count (int32, 1..{@value #MAX_EVENTS}), count x entry
 * entry = hash length (int32), hash bytes, bytes length (int32; -1: the event has no bytes), bytes
 * </pre>
 *
 * Nothing may follow the last entry. The row's {@code first_seq} is the first entry's seq, and entry
 * {@code i} is seq {@code first_seq + i}: seqs are not stored per event. A hash is normally 32 bytes
 * (what its lower-case hex names); only a row carried over from a tampered older store holds other
 * bytes, or an entry without bytes (an event that no longer read).
 *
 * <p>{@link #decode} is bounded: it checks every count and length against the bytes left before
 * using it, allocates only the offset tables (at most {@value #MAX_EVENTS} entries), and reports a
 * block that does not follow this layout as empty, never with an exception; entries are then read in
 * place. Immutable once decoded (the caller must not change the array it decoded).
 */
final class EventBlock {
  /** The first byte of every block: the layout above. */
  static final byte FORMAT = 1;
  /**
   * The most entries a block may hold: a bound on what a read of one row allocates, and on how far
   * before a seq a lookup searches for the block holding it. The writer fills blocks up to {@link
   * EventBlockWriter#BLOCK_EVENTS}, fewer.
   */
  static final int MAX_EVENTS = 4096;
  private static final int HEADER = 5;

  private final byte[] bytes;
  private final int[] hashAt;
  private final int[] hashLength;
  private final int[] eventAt;
  /** -1: the entry has no bytes. */
  private final int[] eventLength;

  private EventBlock(byte[] bytes, int[] hashAt, int[] hashLength, int[] eventAt, int[] eventLength) {
    this.bytes = bytes;
    this.hashAt = hashAt;
    this.hashLength = hashLength;
    this.eventAt = eventAt;
    this.eventLength = eventLength;
  }

  /** The entries of a block, or empty when the bytes do not follow the layout (a block altered in the store). */
  static Optional<EventBlock> decode(byte[] block) {
    if (block == null || block.length < HEADER || block[0] != FORMAT) return Optional.empty();
    int count = readInt(block, 1);
    // Each entry takes at least its two lengths: a count the bytes cannot hold is refused before allocating.
    if (count < 1 || count > MAX_EVENTS || count > (block.length - HEADER) / 8) return Optional.empty();
    int[] hashAt = new int[count];
    int[] hashLength = new int[count];
    int[] eventAt = new int[count];
    int[] eventLength = new int[count];
    int at = HEADER;
    for (int i = 0; i < count; i++) {
      if (block.length - at < 4) return Optional.empty();
      int h = readInt(block, at);
      at += 4;
      if (h < 0 || h > block.length - at) return Optional.empty();
      hashAt[i] = at;
      hashLength[i] = h;
      at += h;
      if (block.length - at < 4) return Optional.empty();
      int n = readInt(block, at);
      at += 4;
      if (n < -1 || n > block.length - at) return Optional.empty();
      eventAt[i] = at;
      eventLength[i] = n;
      if (n > 0) at += n;
    }
    if (at != block.length) return Optional.empty();
    return Optional.of(new EventBlock(block, hashAt, hashLength, eventAt, eventLength));
  }

  int count() {
    return hashAt.length;
  }

  /** The hash entry {@code i} holds, as stored. */
  byte[] hash(int i) {
    return Arrays.copyOfRange(bytes, hashAt[i], hashAt[i] + hashLength[i]);
  }

  /** The canonical bytes entry {@code i} holds, empty when it holds none. */
  Optional<byte[]> event(int i) {
    return eventLength[i] < 0 ? Optional.empty() : Optional.of(Arrays.copyOfRange(bytes, eventAt[i], eventAt[i] + eventLength[i]));
  }

  /** The block's bytes, to test for a search's names in place: entry {@code i}'s canonical bytes lie at {@link #eventAt}. */
  byte[] bytes() {
    return bytes;
  }

  int eventAt(int i) {
    return eventAt[i];
  }

  /** The length of entry {@code i}'s canonical bytes, -1 when it holds none. */
  int eventLength(int i) {
    return eventLength[i];
  }

  /** A block of these entries ({@code events.get(i)} null: entry {@code i} has no bytes); for the migration and tests. */
  static byte[] encode(List<byte[]> hashes, List<byte[]> events) {
    if (hashes.size() != events.size()) throw new IllegalArgumentException("hashes.size() != events.size()");
    return encode(hashes.toArray(byte[][]::new), events.toArray(byte[][]::new), hashes.size());
  }

  /**
   * A block of the first {@code n} entries of the arrays ({@code events[i]} null: entry {@code i}
   * has no bytes): the one place the layout is written.
   */
  static byte[] encode(byte[][] hashes, byte[][] events, int n) {
    if (n < 1 || n > MAX_EVENTS) throw new IllegalArgumentException("count not in 1.." + MAX_EVENTS);
    long size = HEADER;
    for (int i = 0; i < n; i++) size += 8L + hashes[i].length + (events[i] == null ? 0 : events[i].length);
    if (size > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("block of " + size + " bytes");
    byte[] out = new byte[(int) size];
    out[0] = FORMAT;
    writeInt(out, 1, n);
    int at = HEADER;
    for (int i = 0; i < n; i++) {
      byte[] h = hashes[i];
      writeInt(out, at, h.length);
      System.arraycopy(h, 0, out, at + 4, h.length);
      at += 4 + h.length;
      byte[] e = events[i];
      writeInt(out, at, e == null ? -1 : e.length);
      at += 4;
      if (e != null) {
        System.arraycopy(e, 0, out, at, e.length);
        at += e.length;
      }
    }
    return out;
  }

  static int readInt(byte[] b, int at) {
    return (b[at] & 0xff) << 24 | (b[at + 1] & 0xff) << 16 | (b[at + 2] & 0xff) << 8 | b[at + 3] & 0xff;
  }

  static void writeInt(byte[] b, int at, int v) {
    b[at] = (byte) (v >>> 24);
    b[at + 1] = (byte) (v >>> 16);
    b[at + 2] = (byte) (v >>> 8);
    b[at + 3] = (byte) v;
  }
}
