package dev.gatehouse.audit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;
import java.util.stream.Stream;
import java.util.zip.CRC32C;

/**
 * The audit log's durable medium on the statement path: an append-only file per chain, written
 * with one {@code write} system call per event by the thread that needs the event durable, before
 * its statement is forwarded. Once {@code write} returns, the bytes belong to the operating system:
 * they survive the gateway process being killed ({@code kill -9}). With {@link
 * Durability#MACHINE} a caller also waits for {@link #sync} (fsync, shared by every caller waiting
 * at the same time: group commit without a writer thread).
 *
 * <p>The store (SQLite, PostgreSQL) is an index of the journal, filled in the background in large
 * batches ({@link AuditLog}); a segment is deleted once every event in it is in the store. Events
 * left in a journal by a process that died are moved into the store by {@link #recover} when the
 * node starts again, or by {@code gatehouse audit} commands.
 *
 * <p>Layout: {@code <dir>/<nodeId>/} holds the node's segments, {@code <chain>.<n>.journal} with
 * {@code :} of the chain id written as {@code _}, and {@code .lock}, locked (an OS file lock) for
 * as long as a process writes there, so two gateways never share a node's journal and recovery
 * never reads a live one. A segment starts with {@link #MAGIC}; each record is its length (4 bytes,
 * big-endian), the CRC-32C of the payload, and the payload: the event's canonical encoding
 * ({@link CanonicalEncoding}), so the hash chain runs through the journal too.
 *
 * <p>Appends are serialised by the caller ({@link ChainWriter} holds its lock); {@link #sync} and
 * {@link #release} are thread-safe.
 */
final class AuditJournal implements AutoCloseable {
  static final byte[] MAGIC = {'G', 'H', 'J', '1'};
  static final String SUFFIX = ".journal";
  /** A new segment is started after this many bytes, so indexed events can be deleted early. */
  static final long SEGMENT_BYTES = 64L * 1024 * 1024;
  /** Larger records are refused: an event is statement text and metadata (statement text is capped well below). */
  static final int MAX_RECORD = 64 * 1024 * 1024;

  private static final boolean POSIX = java.nio.file.FileSystems.getDefault().supportedFileAttributeViews().contains("posix");
  private static final java.nio.file.attribute.FileAttribute<?>[] OWNER_ONLY_DIR = POSIX
      ? new java.nio.file.attribute.FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------"))}
      : new java.nio.file.attribute.FileAttribute<?>[0];
  private static final java.nio.file.attribute.FileAttribute<?>[] OWNER_ONLY_FILE = POSIX
      ? new java.nio.file.attribute.FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"))}
      : new java.nio.file.attribute.FileAttribute<?>[0];

  /** A segment written by this process, with the last seq it holds (0 when empty). */
  private record Segment(Path file, FileChannel channel, java.util.concurrent.atomic.AtomicLong lastSeq) {}

  private final Path dir;
  private final String chainId;
  private final FileChannel lockChannel;
  private final FileLock lock;
  private final Deque<Segment> segments = new ArrayDeque<>();
  private final ReentrantLock syncLock = new ReentrantLock();
  private ByteBuffer out = ByteBuffer.allocateDirect(16 * 1024); // appender only
  private final CRC32C crc = new CRC32C();
  private Segment current; // appender only
  private long position;
  private int nextSegment;
  private volatile long written;
  private long synced;
  private volatile boolean closed;

  private AuditJournal(Path dir, String chainId, FileChannel lockChannel, FileLock lock) {
    this.dir = dir;
    this.chainId = chainId;
    this.lockChannel = lockChannel;
    this.lock = lock;
  }

  /** The node's journal folder under {@code root}. */
  static Path nodeDir(Path root, String nodeId) {
    return root.resolve(nodeId);
  }

  /**
   * Locks the node's folder for this process; fails when another process (or another log in this
   * one) holds it. The returned lock is handed to {@link #create}; closing it releases the folder.
   */
  static NodeLock lockNode(Path root, String nodeId) throws IOException {
    Path dir = nodeDir(root, nodeId);
    // Statement texts are in here: only the gateway's user may read them (as the signing key).
    Files.createDirectories(root, OWNER_ONLY_DIR);
    Files.createDirectories(dir, OWNER_ONLY_DIR);
    FileChannel ch = FileChannel.open(dir.resolve(".lock"), Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE), OWNER_ONLY_FILE);
    FileLock l;
    try {
      l = ch.tryLock();
    } catch (OverlappingFileLockException e) {
      l = null;
    }
    if (l == null) {
      ch.close();
      throw new IOException("the audit journal " + dir + " is in use by another gateway process with node id " + nodeId);
    }
    return new NodeLock(dir, ch, l);
  }

  /** The lock on a node's journal folder. */
  record NodeLock(Path dir, FileChannel channel, FileLock lock) implements AutoCloseable {
    @Override
    public void close() {
      try {
        channel.close(); // releases the lock
      } catch (IOException e) {
        // nothing more to release
      }
    }
  }

  /** Starts the journal of a new chain in a locked node folder; the journal then owns the lock. */
  static AuditJournal create(NodeLock node, String chainId) throws IOException {
    AuditJournal j = new AuditJournal(node.dir(), chainId, node.channel(), node.lock());
    j.startSegment();
    return j;
  }

  private void startSegment() throws IOException {
    Path file = dir.resolve(fileStem(chainId) + "." + String.format("%06d", nextSegment++) + SUFFIX);
    FileChannel ch = FileChannel.open(file, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE), OWNER_ONLY_FILE);
    writeFully(ch, ByteBuffer.wrap(MAGIC));
    // What sync() does not reach any more must be on disk before the tail moves on.
    if (current != null) current.channel().force(false);
    Segment seg = new Segment(file, ch, new java.util.concurrent.atomic.AtomicLong());
    synchronized (segments) {
      segments.addLast(seg);
    }
    current = seg;
    position = MAGIC.length;
  }

  static String fileStem(String chainId) {
    return chainId.replace(':', '_');
  }

  /**
   * Appends one event's canonical bytes. When it returns, the record is in the operating system's
   * hands. On failure nothing of the record remains in the journal (it is cut off again), or, when
   * even that fails, the journal refuses every later append. Callers serialise appends.
   */
  void append(long seq, byte[] canonical, int length) throws IOException {
    if (closed) throw new IOException("the audit journal is closed");
    if (length > MAX_RECORD) throw new IOException("audit event of " + length + " bytes is too large");
    if (position >= SEGMENT_BYTES) startSegment();
    Segment seg = current;
    crc.reset();
    crc.update(canonical, 0, length);
    int size = 8 + length;
    // One direct buffer, reused: a heap buffer would be copied into a temporary direct one per write.
    if (out.capacity() < size) out = ByteBuffer.allocateDirect(Math.max(size, out.capacity() * 2));
    out.clear();
    out.putInt(length).putInt((int) crc.getValue()).put(canonical, 0, length).flip();
    long start = position;
    try {
      writeFully(seg.channel(), out);
    } catch (IOException e) {
      try {
        seg.channel().truncate(start);
        seg.channel().position(start);
      } catch (IOException again) {
        closed = true; // a torn record may remain: never write after it
        e.addSuppressed(again);
      }
      throw e;
    }
    position = start + size;
    seg.lastSeq().set(seq);
    written += size;
  }

  /** Bytes appended so far by this process (a ticket for {@link #sync}). */
  long written() {
    return written;
  }

  /**
   * Flushes the journal to stable storage up to at least {@code ticket} bytes. Callers arriving
   * while a flush runs wait for it and are then usually covered by the next one, which flushes
   * everyone's records at once.
   */
  void sync(long ticket) throws IOException {
    syncLock.lock();
    try {
      if (synced >= ticket) return;
      long target = written;
      Segment last;
      synchronized (segments) {
        last = segments.peekLast();
      }
      // Earlier segments were forced when the tail moved on (startSegment).
      last.channel().force(false);
      synced = target;
    } finally {
      syncLock.unlock();
    }
  }

  /**
   * Deletes the segments, other than the one being written, whose events are all at or below
   * {@code indexedSeq} (in the store). Thread-safe with respect to appends: only the tail segment
   * is appended to, and it is never deleted here.
   */
  void release(long indexedSeq) {
    List<Segment> done = new ArrayList<>();
    synchronized (segments) {
      while (segments.size() > 1 && segments.peekFirst().lastSeq().get() <= indexedSeq) done.add(segments.pollFirst());
    }
    for (Segment s : done) {
      try {
        s.channel().close();
        Files.deleteIfExists(s.file());
      } catch (IOException e) {
        throw new UncheckedIOException("cannot delete the indexed audit journal segment " + s.file(), e);
      }
    }
  }

  /**
   * Closes the journal; with {@code delete}, every segment is removed (all events are in the store)
   * and the node folder is unlocked either way.
   */
  void close(boolean delete) {
    closed = true;
    List<Segment> all;
    synchronized (segments) {
      all = new ArrayList<>(segments);
      segments.clear();
    }
    for (Segment s : all) {
      try {
        s.channel().close();
        if (delete) Files.deleteIfExists(s.file());
      } catch (IOException e) {
        // a segment left behind is recovered (and found complete) at the next start
      }
    }
    try {
      lockChannel.close();
    } catch (IOException e) {
      // released with the process at the latest
    }
  }

  @Override
  public void close() {
    close(false);
  }

  boolean isOpen() {
    return !closed && lock.isValid();
  }

  // ---------------------------------------------------------------------------------------------
  // Reading (recovery)

  /** The events of one chain found in a node folder, in seq order, and whether the journal ended cleanly. */
  record Recovered(String chainId, List<Path> files, List<AuditEvent> events, Optional<String> damage) {}

  /**
   * Reads every chain journaled in a node folder that no process holds (the caller holds its lock).
   * Reading a chain stops at the first record that is incomplete, fails its CRC, does not decode, or
   * does not continue the chain (seq + 1, previous hash); what follows is reported as damage.
   */
  static List<Recovered> read(Path nodeDir) throws IOException {
    List<Path> files;
    try (Stream<Path> s = Files.list(nodeDir)) {
      files = s.filter(p -> p.getFileName().toString().endsWith(SUFFIX)).sorted().toList();
    }
    // Files of one chain share a stem and sort by segment number.
    List<Recovered> chains = new ArrayList<>();
    int i = 0;
    while (i < files.size()) {
      String stem = stem(files.get(i));
      List<Path> group = new ArrayList<>();
      while (i < files.size() && stem(files.get(i)).equals(stem)) group.add(files.get(i++));
      chains.add(readChain(group));
    }
    return chains;
  }

  private static String stem(Path file) {
    String name = file.getFileName().toString();
    String noSuffix = name.substring(0, name.length() - SUFFIX.length());
    int dot = noSuffix.lastIndexOf('.');
    return dot < 0 ? noSuffix : noSuffix.substring(0, dot);
  }

  private static Recovered readChain(List<Path> files) throws IOException {
    List<AuditEvent> events = new ArrayList<>();
    String chainId = null;
    Optional<String> damage = Optional.empty();
    outer:
    for (Path file : files) {
      byte[] all = Files.readAllBytes(file);
      if (all.length < MAGIC.length || !java.util.Arrays.equals(all, 0, MAGIC.length, MAGIC, 0, MAGIC.length)) {
        if (all.length == 0) continue; // created, killed before the magic was written
        damage = Optional.of(file.getFileName() + ": not a journal segment");
        break;
      }
      ByteBuffer in = ByteBuffer.wrap(all);
      in.position(MAGIC.length);
      while (in.hasRemaining()) {
        if (in.remaining() < 8) {
          damage = Optional.of(file.getFileName() + ": incomplete record header at byte " + in.position());
          break outer;
        }
        int at = in.position();
        int length = in.getInt();
        int expected = in.getInt();
        if (length < 0 || length > MAX_RECORD || in.remaining() < length) {
          damage = Optional.of(file.getFileName() + ": incomplete record at byte " + at);
          break outer;
        }
        byte[] payload = new byte[length];
        in.get(payload);
        CRC32C crc = new CRC32C();
        crc.update(payload);
        if ((int) crc.getValue() != expected) {
          damage = Optional.of(file.getFileName() + ": record at byte " + at + " fails its checksum");
          break outer;
        }
        AuditEvent e;
        try {
          e = CanonicalEncoding.decodeEvent(payload);
        } catch (RuntimeException bad) {
          damage = Optional.of(file.getFileName() + ": record at byte " + at + " does not decode: " + bad.getMessage());
          break outer;
        }
        if (chainId == null) chainId = e.chainId();
        AuditEvent prev = events.isEmpty() ? null : events.getLast();
        boolean continues = e.chainId().equals(chainId)
            && (prev == null || (e.seq() == prev.seq() + 1 && e.prevHash().equals(prev.hash())));
        if (!continues) {
          damage = Optional.of(file.getFileName() + ": record at byte " + at + " (seq " + e.seq() + ") does not continue the chain");
          break outer;
        }
        events.add(e);
      }
    }
    if (chainId == null) chainId = stem(files.getFirst()).replace('_', ':');
    return new Recovered(chainId, List.copyOf(files), events, damage);
  }

  private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
    while (b.hasRemaining()) ch.write(b);
  }
}
