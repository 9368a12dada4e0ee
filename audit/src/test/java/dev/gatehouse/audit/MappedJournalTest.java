package dev.gatehouse.audit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The journal as a memory-mapped file: preallocated segments, their zero tails, rotation, and what
 * a killed process leaves.
 */
class MappedJournalTest {
  private static final int SMALL = 4096;

  @TempDir Path tmp;

  private static List<Path> segments(Path nodeDir) throws IOException {
    try (Stream<Path> files = Files.list(nodeDir)) {
      return files.filter(f -> f.getFileName().toString().endsWith(AuditJournal.SUFFIX)).sorted().toList();
    }
  }

  /** Appends {@code n} sealed events of chain {@code chainId} and returns them. */
  private static List<AuditEvent> append(AuditJournal j, String chainId, int n) throws IOException {
    List<AuditEvent> out = new ArrayList<>();
    String head = AuditEvent.GENESIS;
    for (int seq = 1; seq <= n; seq++) {
      EventBody body = EventBody.of(EventType.SESSION_CLOSED, Instant.parse("2026-11-22T10:00:00Z"),
          Map.of("reason", "x".repeat(seq % 7) + "client terminated " + seq));
      AuditEvent e = AuditEvent.seal(chainId, seq, head, body);
      byte[] bytes = CanonicalEncoding.encodeEvent(chainId, seq, head, body);
      j.append(seq, bytes, bytes.length);
      head = e.hash();
      out.add(e);
    }
    return out;
  }

  @Test
  void segmentsArePreallocatedAndTheirZeroTailIsTheCleanEnd() throws Exception {
    AuditJournal.NodeLock node = AuditJournal.lockNode(tmp, "gw-1");
    AuditJournal j = AuditJournal.create(node, "gw-1:aa", false, SMALL);
    List<AuditEvent> written = append(j, "gw-1:aa", 3);
    List<Path> files = segments(node.dir());
    assertThat(files).hasSize(1);
    assertThat(Files.size(files.getFirst())).as("preallocated, not grown per record").isEqualTo(SMALL);

    List<AuditJournal.Recovered> read = AuditJournal.read(node.dir());
    assertThat(read).singleElement().satisfies(r -> {
      assertThat(r.damage()).isEmpty();
      assertThat(r.events()).containsExactlyElementsOf(written);
    });
    j.close(false);
  }

  @Test
  void aSegmentsBlocksAreReservedOnDiskNotSparseWithEitherDurability() throws Exception {
    // A sparse segment would let a full disk kill the process (SIGBUS) at the first write to the
    // mapping. Process durability reserves with posix_fallocate on Linux, machine durability writes
    // zeros: both must leave every block allocated, and the tail reading as zeros.
    int size = 1024 * 1024;
    for (boolean machine : new boolean[] {false, true}) {
      Path dir = tmp.resolve(machine ? "machine" : "process");
      AuditJournal.NodeLock node = AuditJournal.lockNode(dir, "gw-1");
      AuditJournal j = AuditJournal.create(node, "gw-1:aa", machine, size);
      List<AuditEvent> written = append(j, "gw-1:aa", 2);
      Path file = segments(node.dir()).getFirst();
      assertThat(Files.size(file)).isEqualTo(size);
      if (System.getProperty("os.name").startsWith("Linux")) {
        Process stat = new ProcessBuilder("stat", "-c", "%b %B", file.toString()).redirectErrorStream(true).start();
        String[] out = new String(stat.getInputStream().readAllBytes()).trim().split(" ");
        assertThat(stat.waitFor()).isZero();
        assertThat(Long.parseLong(out[0]) * Long.parseLong(out[1])).as("bytes allocated on disk").isGreaterThanOrEqualTo(size);
      }
      assertThat(AuditJournal.read(node.dir())).singleElement().satisfies(r -> {
        assertThat(r.damage()).isEmpty();
        assertThat(r.events()).containsExactlyElementsOf(written);
      });
      j.close(false);
      node.close();
    }
    if (System.getProperty("os.name").startsWith("Linux")) {
      assertThat(Preallocation.fallocates()).as("posix_fallocate through JNA on Linux").isTrue();
    }
  }

  @Test
  void aChainsFirstSegmentIsSmallAndEachNextOneDoublesUpToTheSegmentSize() throws Exception {
    AuditJournal.NodeLock node = AuditJournal.lockNode(tmp, "gw-2");
    AuditJournal j = AuditJournal.create(node, "gw-2:ee", false);
    assertThat(segments(node.dir())).singleElement()
        .satisfies(f -> assertThat(Files.size(f)).isEqualTo(AuditJournal.FIRST_SEGMENT_BYTES));
    j.close(true);

    AuditJournal.NodeLock growing = AuditJournal.lockNode(tmp, "gw-3");
    AuditJournal k = AuditJournal.create(growing, "gw-3:ff", false, 4 * AuditJournal.FIRST_SEGMENT_BYTES);
    byte[] record = new byte[1000]; // the journal does not decode what it appends
    for (long seq = 1; segments(growing.dir()).size() < 4; seq++) k.append(seq, record, record.length);
    List<Long> sizes = new ArrayList<>();
    for (Path f : segments(growing.dir())) sizes.add(Files.size(f));
    long first = AuditJournal.FIRST_SEGMENT_BYTES;
    assertThat(sizes).containsExactly(first, 2 * first, 4 * first, 4 * first);
    k.close(true);
  }

  @Test
  void recordsRotateAcrossSegmentsAndAreReadBackInOrder() throws Exception {
    AuditJournal.NodeLock node = AuditJournal.lockNode(tmp, "gw-1");
    AuditJournal j = AuditJournal.create(node, "gw-1:bb", false, SMALL);
    List<AuditEvent> written = new ArrayList<>();
    String head = AuditEvent.GENESIS;
    for (int seq = 1; seq <= 200; seq++) {
      EventBody body = EventBody.of(EventType.SESSION_CLOSED, Instant.parse("2026-11-22T10:00:00Z"), Map.of("n", "v" + seq));
      byte[] bytes = CanonicalEncoding.encodeEvent("gw-1:bb", seq, head, body);
      j.append(seq, bytes, bytes.length);
      AuditEvent e = AuditEvent.seal("gw-1:bb", seq, head, body);
      head = e.hash();
      written.add(e);
      if (seq % 10 == 0) { // as the indexer does between batches
        j.prepareNext();
        j.populateAhead(); // faults pages in, the tail's and the spare's, without changing a byte
      }
    }
    // One record larger than a segment gets a segment of its own size.
    EventBody big = EventBody.of(EventType.SESSION_CLOSED, Instant.parse("2026-11-22T10:00:00Z"), Map.of("n", "y".repeat(3 * SMALL)));
    byte[] bytes = CanonicalEncoding.encodeEvent("gw-1:bb", 201, head, big);
    j.append(201, bytes, bytes.length);
    written.add(AuditEvent.seal("gw-1:bb", 201, head, big));

    assertThat(segments(node.dir()).size()).isGreaterThan(3);
    List<AuditJournal.Recovered> read = AuditJournal.read(node.dir());
    assertThat(read).singleElement().satisfies(r -> {
      assertThat(r.damage()).isEmpty();
      assertThat(r.events()).containsExactlyElementsOf(written);
    });

    // Indexed segments are deleted; the tail stays.
    j.release(150);
    List<AuditEvent> left = AuditJournal.read(node.dir()).getFirst().events();
    assertThat(left.getFirst().seq()).isGreaterThan(100).isLessThanOrEqualTo(151);
    assertThat(left.getLast().seq()).isEqualTo(201);
    j.close(true);
    assertThat(segments(node.dir())).isEmpty();
  }

  @Test
  void pagesFaultedInAheadSpareTheAppenderItsPageFaults() throws Exception {
    Path stat = Path.of("/proc/thread-self/stat");
    assumeTrue(Files.isReadable(stat), "counts page faults per thread from /proc (Linux)");
    byte[] record = CanonicalEncoding.encodeEvent("gw-1:pp", 1, AuditEvent.GENESIS,
        EventBody.of(EventType.SESSION_CLOSED, Instant.parse("2026-11-22T10:00:00Z"), Map.of("reason", "r".repeat(200))));
    int records = 512 * 1024 / record.length; // half of a chain's first segment (1 MiB)

    AuditJournal plain = AuditJournal.create(AuditJournal.lockNode(tmp, "gw-1"), "gw-1:pp", false);
    long before = minorFaults(stat);
    for (int seq = 1; seq <= records; seq++) plain.append(seq, record, record.length);
    long unpopulated = minorFaults(stat) - before;

    AuditJournal ahead = AuditJournal.create(AuditJournal.lockNode(tmp, "gw-2"), "gw-2:pp", false);
    ahead.populateAhead(); // the indexer's call: up to POPULATE_AHEAD past the tail's end, within the segment
    Matcher version = Pattern.compile("^(\\d+)\\.(\\d+)").matcher(System.getProperty("os.version"));
    assumeTrue(version.find() && Integer.parseInt(version.group(1)) * 1000 + Integer.parseInt(version.group(2)) >= 5014,
        "madvise(MADV_POPULATE_WRITE) needs Linux 5.14");
    assertThat(ahead.populatesAhead()).as("pages faulted in ahead on Linux " + System.getProperty("os.version")).isTrue();
    before = minorFaults(stat);
    for (int seq = 1; seq <= records; seq++) ahead.append(seq, record, record.length);
    long populated = minorFaults(stat) - before;

    assertThat(unpopulated).as("page faults writing 512 KiB to a fresh segment").isGreaterThanOrEqualTo(4);
    assertThat(populated).as("page faults writing the same into pages faulted in ahead").isLessThanOrEqualTo(unpopulated / 4);
    // Not a byte changed: both segments hold the same records after their headers (chain ids of one length).
    byte[] a = Files.readAllBytes(segments(tmp.resolve("gw-1")).getFirst());
    byte[] b = Files.readAllBytes(segments(tmp.resolve("gw-2")).getFirst());
    int header = AuditJournal.header("gw-1:pp").length;
    assertThat(java.util.Arrays.equals(a, header, a.length, b, header, b.length)).isTrue();
    plain.close(true);
    ahead.close(true);
  }

  /** The calling thread's minor page faults so far (field 10 of /proc/thread-self/stat). */
  private static long minorFaults(Path stat) throws IOException {
    String line = Files.readString(stat);
    String[] fields = line.substring(line.lastIndexOf(')') + 2).split(" ");
    return Long.parseLong(fields[7]);
  }

  @Test
  void aSegmentKilledWhilePreallocatedIsReadAsEmpty() throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("gw-1"));
    Files.write(dir.resolve("gw-1_cc.000000.journal"), new byte[SMALL]); // zeros, no magic yet
    assertThat(AuditJournal.read(dir)).singleElement().satisfies(r -> {
      assertThat(r.damage()).isEmpty();
      assertThat(r.events()).isEmpty();
    });
  }

  @Test
  void aSegmentLeftByTheVersionBeforeV2EventsIsStillRecovered() throws Exception {
    // Written as a gateway before format 2 left it: magic GHJ2, no chain id, v1 events (which name their chain).
    Path nodeDir = Files.createDirectories(tmp.resolve("gw-1"));
    java.nio.ByteBuffer seg = java.nio.ByteBuffer.allocate(SMALL);
    seg.put(AuditJournal.MAGIC_V2);
    List<AuditEvent> written = new ArrayList<>();
    String head = AuditEvent.GENESIS;
    for (int seq = 1; seq <= 3; seq++) {
      EventBody body = EventBody.of(EventType.SESSION_CLOSED, Instant.parse("2026-11-22T10:00:00Z"), Map.of("reason", "old " + seq));
      byte[] bytes = CanonicalEncoding.encodeEvent(CanonicalEncoding.FORMAT_V1, "gw-1:ff", seq, head, body);
      java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
      crc.update(bytes);
      int at = seg.position();
      seg.putInt(bytes.length).putInt((int) crc.getValue()).put(bytes);
      seg.position((at + 8 + bytes.length + 3) & ~3);
      AuditEvent e = AuditStore.fromCanonicalBytes(bytes);
      assertThat(e.format()).isEqualTo(CanonicalEncoding.FORMAT_V1);
      written.add(e);
      head = e.hash();
    }
    Files.write(nodeDir.resolve("gw-1_ff.000000" + AuditJournal.SUFFIX), seg.array());
    assertThat(AuditJournal.read(nodeDir)).singleElement().satisfies(r -> {
      assertThat(r.damage()).isEmpty();
      assertThat(r.chainId()).isEqualTo("gw-1:ff");
      assertThat(r.events()).containsExactlyElementsOf(written);
      assertThat(r.events()).allMatch(AuditEvent::hashMatches);
    });
  }

  @Test
  void aSegmentNamingAnotherChainIsDamage() throws Exception {
    AuditJournal.NodeLock node = AuditJournal.lockNode(tmp, "gw-1");
    AuditJournal j = AuditJournal.create(node, "gw-1:aa", false, SMALL);
    List<AuditEvent> written = append(j, "gw-1:aa", 150); // more than one segment of SMALL bytes
    j.close(false);
    List<Path> files = segments(node.dir());
    assertThat(files).hasSizeGreaterThan(1);
    byte[] second = Files.readAllBytes(files.get(1));
    byte[] other = AuditJournal.header("gw-1:ab");
    System.arraycopy(other, 0, second, 0, other.length); // same length: only the id differs
    Files.write(files.get(1), second);
    assertThat(AuditJournal.read(node.dir())).singleElement().satisfies(r -> {
      assertThat(r.damage()).hasValueSatisfying(d -> assertThat(d).contains("chain gw-1:ab"));
      assertThat(r.events()).isNotEmpty().allMatch(e -> e.chainId().equals("gw-1:aa"));
      assertThat(r.events().size()).isLessThan(written.size());
    });
  }

  @Test
  void aCopyCutShortByAKillIsTheCleanEnd() throws Exception {
    AuditJournal.NodeLock node = AuditJournal.lockNode(tmp, "gw-1");
    AuditJournal j = AuditJournal.create(node, "gw-1:ee", false, SMALL);
    List<AuditEvent> written = append(j, "gw-1:ee", 3);
    j.close(false);
    Path segment = segments(node.dir()).getFirst();
    byte[] all = Files.readAllBytes(segment);
    java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(all);
    int end = AuditJournal.header("gw-1:ee").length;
    for (int i = 0; i < 3; i++) end = (end + 8 + b.getInt(end) + 3) & ~3;
    // A fourth record killed mid-copy: its checksum and the first half of its payload, no length yet.
    byte[] fourth = CanonicalEncoding.encodeEvent("gw-1:ee", 4, written.getLast().hash(),
        EventBody.of(EventType.SESSION_CLOSED, Instant.parse("2026-11-22T10:00:00Z"), Map.of("reason", "cut short")));
    b.putInt(end + 4, 0x12345678);
    System.arraycopy(fourth, 0, all, end + 8, fourth.length / 2);
    Files.write(segment, all);
    assertThat(AuditJournal.read(node.dir())).singleElement().satisfies(r -> {
      assertThat(r.damage()).isEmpty();
      assertThat(r.events()).containsExactlyElementsOf(written);
    });
  }

  @Test
  void dataAfterAZeroLengthIsDamageNotTheEnd() throws Exception {
    AuditJournal.NodeLock node = AuditJournal.lockNode(tmp, "gw-1");
    AuditJournal j = AuditJournal.create(node, "gw-1:dd", false, SMALL);
    append(j, "gw-1:dd", 3);
    j.close(false);
    Path segment = segments(node.dir()).getFirst();
    byte[] all = Files.readAllBytes(segment);
    // The second record's length lost (a machine crash wrote its page late), the third still there.
    int first = AuditJournal.header("gw-1:dd").length;
    int second = (first + 8 + java.nio.ByteBuffer.wrap(all).getInt(first) + 3) & ~3;
    java.nio.ByteBuffer.wrap(all).putInt(second, 0);
    Files.write(segment, all);
    assertThat(AuditJournal.read(node.dir())).singleElement().satisfies(r -> {
      assertThat(r.events()).hasSize(1);
      assertThat(r.damage()).hasValueSatisfying(d -> assertThat(d).contains("missing"));
    });
  }

  @Test
  void everyEventCopiedBeforeTheProcessIsKilledIsRecovered() throws Exception {
    Path journal = tmp.resolve("journal");
    Path key = tmp.resolve("audit.key");
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    ProcessBuilder pb = new ProcessBuilder(java.toString(), "-cp", System.getProperty("java.class.path"),
        JournalKillChild.class.getName(), journal.toString(), key.toString());
    pb.redirectError(tmp.resolve("child.err").toFile());
    Process child = pb.start();
    List<String> acks = new ArrayList<>();
    try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = out.readLine()) != null) {
        if (line.startsWith("ACK ")) acks.add(line.substring(4));
        if (acks.size() == 2000) {
          child.destroyForcibly(); // SIGKILL while four threads copy records
          assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
          break;
        }
      }
    } finally {
      child.destroyForcibly();
    }
    assertThat(acks).as("child stderr: %s", Files.readString(tmp.resolve("child.err"))).hasSize(2000);

    InMemoryAuditStore store = new InMemoryAuditStore();
    assertThat(AuditLog.recoverJournals(store, journal, Clock.systemUTC())).isGreaterThanOrEqualTo(2000);
    assertThat(acks).allSatisfy(id -> assertThat(store.find(id)).as(id).isPresent());
    try (Stream<Path> left = Files.list(journal.resolve("kill-node"))) {
      assertThat(left.map(p -> p.getFileName().toString())).as("kept for the node's next start, which signs it")
          .anyMatch(n -> n.endsWith(AuditJournal.SUFFIX));
    }
    AuditLog.start(store, AuditConfig.defaults("kill-node", key).withJournal(journal), Clock.systemUTC()).close();
    try (Stream<Path> left = Files.list(journal.resolve("kill-node"))) {
      assertThat(left.map(p -> p.getFileName().toString())).as("a kill is a clean end, not damage")
          .noneMatch(n -> n.endsWith(".damaged")).noneMatch(n -> n.endsWith(AuditJournal.SUFFIX));
    }
  }

  @Test
  void withMachineDurabilityANewSegmentsNameIsSyncedToDisk() throws Exception {
    // A crash may lose a new file whose folder was never synced, however well the file itself was:
    // with durability machine, every segment's creation must be followed by an fsync of its folder.
    // strace shows the system calls of a child JVM; with durability process there is none (and the
    // same parsing finds none, which shows it can tell).
    assumeTrue(System.getProperty("os.name").startsWith("Linux"), "strace is Linux's");
    Path javaBin = Path.of(System.getProperty("java.home"), "bin", "java");
    for (String durability : List.of("machine", "process")) {
      Path journal = tmp.resolve(durability);
      Path trace = tmp.resolve(durability + ".strace");
      Process child = new ProcessBuilder("strace", "-f", "-qq", "-e", "trace=openat,fsync,fdatasync", "-o", trace.toString(),
          javaBin.toString(), "-cp", System.getProperty("java.class.path"), JournalSyncChild.class.getName(), journal.toString(), durability)
          .redirectErrorStream(true).start();
      String out = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(child.waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertThat(child.exitValue()).as("strace and child: %s", out).isZero();

      Path nodeDir = journal.resolve("sync-node");
      Map<String, String> fds = new HashMap<>(); // "pid fd" -> path
      List<String> created = new ArrayList<>();
      List<String> unsynced = new ArrayList<>();
      Pattern open = Pattern.compile("^(\\d+) +openat\\(AT_FDCWD, \"([^\"]+)\", ([A-Z_|]+).*\\) = (\\d+)$");
      Pattern sync = Pattern.compile("^(\\d+) +f(?:data)?sync\\((\\d+)\\) += 0$");
      for (String line : Files.readAllLines(trace)) {
        Matcher m = open.matcher(line);
        if (m.matches()) {
          fds.put(m.group(1) + " " + m.group(4), m.group(2));
          if (m.group(2).endsWith(AuditJournal.SUFFIX) && m.group(3).contains("O_CREAT")) {
            created.add(m.group(2));
            unsynced.add(m.group(2));
          }
          continue;
        }
        m = sync.matcher(line);
        if (m.matches() && nodeDir.toString().equals(fds.get(m.group(1) + " " + m.group(2)))) unsynced.clear();
      }
      assertThat(created).as("segments the child created (%s)", durability).hasSizeGreaterThanOrEqualTo(3);
      if (durability.equals("machine")) {
        assertThat(unsynced).as("segments created with no fsync of their folder after").isEmpty();
      } else {
        assertThat(unsynced).as("with durability process nothing is synced").containsExactlyElementsOf(created);
      }
    }
  }

  @ParameterizedTest(name = "machine durability: {0}")
  @ValueSource(booleans = {false, true})
  void anIndexedSegmentIsReusedZeroedAndTheJournalStillReadsBackWhole(boolean machine) throws Exception {
    AuditJournal.NodeLock node = AuditJournal.lockNode(tmp, "gw-1");
    Path stale = node.dir().resolve("gw-1_0123.recycled"); // left by a killed process
    Files.write(stale, new byte[] {'G', 'H', 'J', '3', 1, 2, 3});
    AuditJournal j = AuditJournal.create(node, "gw-1:rc", machine, SMALL);
    assertThat(stale).doesNotExist();
    Path recycled = node.dir().resolve("gw-1_rc" + AuditJournal.RECYCLED_SUFFIX);
    List<AuditEvent> written = new ArrayList<>();
    String head = AuditEvent.GENESIS;
    Object recycledInode = null;
    boolean reused = false;
    for (int seq = 1; seq <= 300; seq++) {
      EventBody body = EventBody.of(EventType.SESSION_CLOSED, Instant.parse("2026-11-22T10:00:00Z"), Map.of("n", "v".repeat(seq % 13) + seq));
      byte[] bytes = CanonicalEncoding.encodeEvent("gw-1:rc", seq, head, body);
      j.append(seq, bytes, bytes.length);
      AuditEvent e = AuditEvent.seal("gw-1:rc", seq, head, body);
      head = e.hash();
      written.add(e);
      if (seq % 10 == 0) { // as the indexer does: store, release what is stored, prepare the next segment
        j.release(seq - 25);
        if (Files.exists(recycled)) recycledInode = Files.getAttribute(recycled, "unix:ino");
        j.prepareNext();
        j.populateAhead();
        if (recycledInode != null && !Files.exists(recycled)) {
          for (Path f : segments(node.dir())) reused |= recycledInode.equals(Files.getAttribute(f, "unix:ino"));
        }
      }
    }
    assertThat(reused).as("a released segment's file became a later segment").isTrue();
    // What a process killed now leaves: the records not yet released, whole, and nothing stale.
    List<AuditJournal.Recovered> read = AuditJournal.read(node.dir());
    assertThat(read).singleElement().satisfies(r -> {
      assertThat(r.damage()).isEmpty();
      assertThat(r.events()).isNotEmpty();
      assertThat(r.events().getFirst().seq()).isLessThanOrEqualTo(300 - 25 + 1);
      assertThat(r.events()).containsExactlyElementsOf(written.subList((int) r.events().getFirst().seq() - 1, 300));
    });
    j.close(true);
    try (Stream<Path> left = Files.list(node.dir())) {
      assertThat(left.map(f -> f.getFileName().toString())).containsExactly(".lock");
    }
  }
}
