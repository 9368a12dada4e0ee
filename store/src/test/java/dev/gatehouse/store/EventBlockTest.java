package dev.gatehouse.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The block layout of {@code audit_events} rows: what is encoded decodes to the same entries, and
 * bytes altered anywhere decode to the entries they now say or are refused, never with an exception
 * and never by allocating what a length field claims before checking it against the bytes there are.
 */
class EventBlockTest {
  private static final List<byte[]> HASHES = List.of(new byte[32], "NOT-HEX".getBytes(StandardCharsets.UTF_8), new byte[] {7});
  private static final List<byte[]> EVENTS = Arrays.asList("first event".getBytes(StandardCharsets.UTF_8), null, new byte[0]);

  @Test
  void aBlockReadsBackItsHashesAndBytesAndTheEntryWithoutBytes() {
    EventBlock b = EventBlock.decode(EventBlock.encode(HASHES, EVENTS)).orElseThrow();
    assertThat(b.count()).isEqualTo(3);
    for (int i = 0; i < 3; i++) assertThat(b.hash(i)).isEqualTo(HASHES.get(i));
    assertThat(b.event(0)).hasValueSatisfying(e -> assertThat(e).isEqualTo(EVENTS.get(0)));
    assertThat(b.event(1)).isEmpty();
    assertThat(b.event(2)).hasValueSatisfying(e -> assertThat(e).isEmpty());
  }

  @Test
  void everyShortenedOrLengthenedBlockIsRefused() {
    byte[] block = EventBlock.encode(HASHES, EVENTS);
    for (int n = 0; n < block.length; n++) {
      assertThat(EventBlock.decode(Arrays.copyOf(block, n))).as("first %d bytes", n).isEmpty();
    }
    assertThat(EventBlock.decode(Arrays.copyOf(block, block.length + 1))).isEmpty();
    assertThat(EventBlock.decode(null)).isEmpty();
  }

  @Test
  void countsAndLengthsBeyondTheBlockAreRefusedBeforeAllocating() {
    // A count of 2^31 - 1 entries or a length of 2 GiB in a few bytes: refused, not allocated.
    assertThat(EventBlock.decode(ByteBuffer.allocate(13).put((byte) 1).putInt(Integer.MAX_VALUE).array())).isEmpty();
    assertThat(EventBlock.decode(ByteBuffer.allocate(13).put((byte) 1).putInt(1).putInt(Integer.MAX_VALUE).array())).isEmpty();
    assertThat(EventBlock.decode(ByteBuffer.allocate(13).put((byte) 1).putInt(1).putInt(0).putInt(Integer.MAX_VALUE).array()))
        .isEmpty();
    assertThat(EventBlock.decode(ByteBuffer.allocate(13).put((byte) 1).putInt(1).putInt(-5).putInt(0).array())).isEmpty();
    assertThat(EventBlock.decode(ByteBuffer.allocate(13).put((byte) 1).putInt(1).putInt(0).putInt(-2).array())).isEmpty();
    assertThat(EventBlock.decode(ByteBuffer.allocate(5).put((byte) 1).putInt(0).array())).as("no entries").isEmpty();
    assertThat(EventBlock.decode(ByteBuffer.allocate(13).put((byte) 2).putInt(1).putInt(0).putInt(0).array())).as("format 2").isEmpty();
    byte[] tooMany = ByteBuffer.allocate(5 + 8 * (EventBlock.MAX_EVENTS + 1)).put((byte) 1).putInt(EventBlock.MAX_EVENTS + 1).array();
    assertThat(EventBlock.decode(tooMany)).isEmpty();
  }

  @Test
  void randomlyCorruptedBlocksDecodeWithinTheirBytesOrAreRefused() {
    byte[] block = EventBlock.encode(HASHES, EVENTS);
    Random random = new Random(6);
    for (int round = 0; round < 20_000; round++) {
      byte[] corrupted = block.clone();
      for (int flips = 1 + random.nextInt(3); flips > 0; flips--) corrupted[random.nextInt(corrupted.length)] ^= (byte) (1 << random.nextInt(8));
      EventBlock.decode(corrupted).ifPresent(b -> {
        int bytes = 0;
        for (int i = 0; i < b.count(); i++) bytes += b.hash(i).length + b.event(i).map(e -> e.length).orElse(0);
        assertThat(bytes).isLessThanOrEqualTo(corrupted.length);
      });
    }
  }
}
