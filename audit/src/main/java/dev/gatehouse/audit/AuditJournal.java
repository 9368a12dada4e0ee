package dev.gatehouse.audit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
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
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.stream.Stream;
import java.util.zip.CRC32C;

/**
 * The audit log's durable medium on the statement path: an append-only file per chain, memory-mapped
 * ({@code MAP_SHARED}), into which the thread that needs an event durable copies its record before
 * the statement is forwarded: no system call per event. The mapping's dirty pages belong to the
 * operating system's page cache, so a copied record survives the gateway process being killed
 * ({@code kill -9}) exactly as a {@code write} would. With {@link Durability#MACHINE} a caller also
 * waits for {@link #sync} ({@code msync} of what was copied since the last one, shared by every
 * caller waiting at the same time: group commit without a writer thread).
 *
 * <p>The store (SQLite, PostgreSQL) is an index of the journal, filled in the background in large
 * batches ({@link AuditLog}); a segment is deleted (or kept for reuse, zeroed: {@link #recycle})
 * once every event in it is in the store. Events left in a journal by a process that died are
 * moved into the store by {@link #recover} when the node starts again, or by {@code gatehouse
 * audit} commands.
 *
 * <p>Layout: {@code <dir>/<nodeId>/} holds the node's segments, {@code <chain>.<n>.journal} with
 * {@code :} of the chain id written as {@code _}, and {@code .lock}, locked (an OS file lock) for
 * as long as a process writes there, so two gateways never share a node's journal and recovery
 * never reads a live one. A segment starts with {@link #MAGIC} and its chain's id (its length, 4
 * bytes, big-endian, and its UTF-8, padded with zeros to a multiple of 4 bytes): the events' v2 bytes
 * do not name their chain. Each record is its length (4 bytes, big-endian), the CRC-32C of the
 * payload, and the payload: the event's bytes ({@link CanonicalEncoding}), so the hash chain runs
 * through the journal too; records are padded with zeros to a multiple of 4 bytes. The rest of a
 * segment is zeros: a length of 0 ends it. Segments of earlier versions ({@link #MAGIC_V2}, {@link
 * #MAGIC_V1}: no chain id, v1 events, which name their chain) are still read.
 *
 * <p><b>Full disks.</b> A page of a mapping that the file system cannot back when it is first
 * written kills the process with {@code SIGBUS}. So every segment's blocks are reserved for real
 * when it is created ({@link Preallocation}: {@code posix_fallocate} on Linux, else zeros written in
 * 1 MiB chunks; a sparse file would reserve nothing): a full disk is an {@link IOException} there,
 * and the statement that needed the segment is refused. The indexer prepares the next segment ahead of time ({@link
 * #prepareNext}), so a statement rarely pays for it. (Copy-on-write file systems, btrfs or ZFS,
 * allocate anew on every write and cannot keep that promise.)
 *
 * <p><b>Order of a copy.</b> The payload and its CRC are copied first, the length last, after a
 * release fence: a process killed in the middle of a copy leaves a zero length, which reads as the
 * clean end of the journal (the record was not acknowledged). A record that is torn anyway (a
 * machine crash writing pages out of order) fails its CRC and is reported as damage.
 *
 * <p>Appends are serialised by the caller ({@link ChainWriter} holds its lock); {@link #sync},
 * {@link #prepareNext} and {@link #release} are thread-safe.
 *
 * <p>Longer than 400 lines (CONVENTIONS 12) because it writes and reads (recovers) the same format:
 * kept in one class, the layout, its zero tail and its damage rules are stated in one place.
 */
final class AuditJournal implements AutoCloseable {
  /** Version 3: as version 2, with the chain id after the magic, and v2 events. */
  static final byte[] MAGIC = {'G', 'H', 'J', '3'};
  /** Version 2: mapped, padded records, zero tail; v1 events. */
  static final byte[] MAGIC_V2 = {'G', 'H', 'J', '2'};
  /** Version 1 (written with {@code write}: no padding, no zero tail), still read after an upgrade. */
  static final byte[] MAGIC_V1 = {'G', 'H', 'J', '1'};
  static final String SUFFIX = ".journal";
  /** A released segment kept for reuse ({@link #release}); recovery never reads it. */
  static final String RECYCLED_SUFFIX = ".recycled";
  /** A segment's size; a new one is started when the next record does not fit. */
  static final int SEGMENT_BYTES = 64 * 1024 * 1024;
  /**
   * A chain's first segment: each next one doubles, up to {@link #SEGMENT_BYTES}, so a start (and a
   * quiet node) preallocates 1 MiB, not 64.
   */
  static final int FIRST_SEGMENT_BYTES = 1024 * 1024;
  /** Larger records are refused: an event is statement text and metadata (statement text is capped well below). */
  static final int MAX_RECORD = 64 * 1024 * 1024;
  private static final int HEADER = 8;
  /** How far ahead of the appender {@link #populateAhead} faults pages in: about 0.2 s of records at 20,000 statements a second. */
  static final int POPULATE_AHEAD = 4 * 1024 * 1024;
  private static final int POPULATE_CHUNK = 512 * 1024;
  private static final byte[] ZEROS = new byte[1024 * 1024];

  private static final boolean POSIX = java.nio.file.FileSystems.getDefault().supportedFileAttributeViews().contains("posix");
  private static final java.nio.file.attribute.FileAttribute<?>[] OWNER_ONLY_DIR = POSIX
      ? new java.nio.file.attribute.FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------"))}
      : new java.nio.file.attribute.FileAttribute<?>[0];
  private static final java.nio.file.attribute.FileAttribute<?>[] OWNER_ONLY_FILE = POSIX
      ? new java.nio.file.attribute.FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"))}
      : new java.nio.file.attribute.FileAttribute<?>[0];

  /** A segment written by this process. */
  private static final class Segment {
    final Path file;
    final FileChannel channel;
    final MappedByteBuffer map;
    final int capacity;
    /** The last seq it holds (0 when empty). */
    final AtomicLong lastSeq = new AtomicLong();
    /** Bytes holding whole records (written by the appender, read by {@link #sync}). */
    volatile int end;
    /** Bytes known to be on stable storage; under syncLock. */
    int forced;
    /** Unmapped; under syncLock. */
    boolean unmapped;
    /** Bytes from the start faulted in ahead of the appender ({@link #populateAhead}); indexer only. */
    int populated;

    Segment(Path file, FileChannel channel, MappedByteBuffer map, int capacity, int header) {
      this.end = header;
      this.file = file;
      this.channel = channel;
      this.map = map;
      this.capacity = capacity;
    }
  }

  private final Path dir;
  private final String chainId;
  /** Every segment's first bytes ({@link #header}). */
  private final byte[] header;
  private final boolean machine;
  private final int segmentBytes;
  private final FileChannel lockChannel;
  private final FileLock lock;
  private final Deque<Segment> segments = new ArrayDeque<>();
  /** Orders the access to mappings that {@link #release} and {@link #close} unmap. */
  private final ReentrantLock syncLock = new ReentrantLock();
  /** Held while a segment is created: numbers are handed out in order, and one spare at most. */
  private final ReentrantLock prepareLock = new ReentrantLock();
  private final CRC32C crc = new CRC32C();
  private volatile Segment current; // written by the appender; prepareNext reads it
  private int position; // appender only
  private int nextSegment; // under prepareLock
  private int nextCapacity; // under prepareLock
  private Segment spare; // under prepareLock
  /** A released full-size segment, zeroed, that {@link #newSegment} reuses; under prepareLock. */
  private Segment recycled;
  private volatile long written;
  private long synced;
  private volatile boolean closed;

  private AuditJournal(Path dir, String chainId, boolean machine, int segmentBytes, FileChannel lockChannel, FileLock lock) {
    this.dir = dir;
    this.chainId = chainId;
    this.header = header(chainId);
    this.machine = machine;
    this.segmentBytes = segmentBytes;
    this.nextCapacity = Math.min(segmentBytes, FIRST_SEGMENT_BYTES);
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

  /**
   * Starts the journal of a new chain in a locked node folder; the journal then owns the lock. With
   * {@code machine}, new segments are fsynced once preallocated, and their folder once they are
   * created, so their blocks and their names survive a crash.
   */
  static AuditJournal create(NodeLock node, String chainId, boolean machine) throws IOException {
    return create(node, chainId, machine, SEGMENT_BYTES);
  }

  /** As {@link #create(NodeLock, String, boolean)}, with segments of {@code segmentBytes} (tests). */
  static AuditJournal create(NodeLock node, String chainId, boolean machine, int segmentBytes) throws IOException {
    if (segmentBytes < 64) throw new IllegalArgumentException("segmentBytes < 64");
    // The node folder's own name, in case this start created it (once per start, not per segment).
    if (machine) syncDirectory(node.dir().getParent());
    // A recycled segment an earlier process left holds zeros and records already in the store.
    try (Stream<Path> files = Files.list(node.dir())) {
      for (Path f : files.filter(f -> f.getFileName().toString().endsWith(RECYCLED_SUFFIX)).toList()) Files.deleteIfExists(f);
    }
    AuditJournal j = new AuditJournal(node.dir(), chainId, machine, segmentBytes, node.channel(), node.lock());
    j.rotate(0);
    return j;
  }

  /**
   * Makes the names in {@code dir} durable: a new file's data and inode synced ({@code fsync} of
   * the file) may still be unreachable after a crash until its folder is synced too (POSIX leaves
   * the folder entry to the folder's own {@code fsync}; ext4 and XFS do not promise otherwise).
   */
  static void syncDirectory(Path dir) throws IOException {
    try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
      d.force(true);
    }
  }

  /** A segment's first bytes: {@link #MAGIC}, the chain id's length and UTF-8, zeros to a multiple of 4. */
  static byte[] header(String chainId) {
    byte[] id = chainId.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    return ByteBuffer.allocate((MAGIC.length + 4 + id.length + 3) & ~3).put(MAGIC).putInt(id.length).put(id).array();
  }

  static String fileStem(String chainId) {
    return chainId.replace(':', '_');
  }

  private static int recordSize(int length) {
    return (HEADER + length + 3) & ~3;
  }

  /**
   * Appends one event's canonical bytes. When it returns, the record is in the operating system's
   * page cache. A failure to start a segment (a full disk) leaves nothing of the record; a fault
   * while copying (the mapping's file failed underneath) makes the journal refuse every later
   * append. Callers serialise appends.
   */
  void append(long seq, byte[] canonical, int length) throws IOException {
    if (closed) throw new IOException("the audit journal is closed");
    if (length < 1) throw new IOException("empty audit record");
    if (length > MAX_RECORD) throw new IOException("audit event of " + length + " bytes is too large");
    int size = recordSize(length);
    if (current.capacity - position < size) rotate(size);
    Segment seg = current;
    crc.reset();
    crc.update(canonical, 0, length);
    int at = position;
    try {
      MappedByteBuffer m = seg.map;
      m.putInt(at + 4, (int) crc.getValue());
      m.put(at + HEADER, canonical, 0, length);
      // The length last: a copy cut short by a kill leaves a zero length, the journal's clean end.
      VarHandle.releaseFence();
      m.putInt(at, length);
    } catch (InternalError e) {
      // The JVM's answer to SIGBUS on a mapped page (an I/O error under the mapping): the record
      // may be half there, so nothing may follow it.
      closed = true;
      throw new IOException("the audit journal segment " + seg.file.getFileName() + " failed under its mapping: " + e.getMessage(), e);
    }
    position = at + size;
    seg.end = position;
    seg.lastSeq.set(seq);
    written += size;
  }

  /**
   * Moves the tail to a new segment that holds at least {@code needed} bytes of records: the spare
   * when there is one that large, else a segment created now (on the caller's thread).
   */
  private void rotate(int needed) throws IOException {
    Segment next;
    prepareLock.lock();
    try {
      next = spare;
      spare = null;
      if (next != null && next.capacity - header.length < needed) {
        discard(next);
        next = null;
      }
      if (next == null) next = newSegment(needed);
    } finally {
      prepareLock.unlock();
    }
    synchronized (segments) {
      segments.addLast(next);
    }
    current = next;
    position = header.length;
  }

  /**
   * Called by the indexer: when the tail segment is half full and no spare waits, creates and
   * preallocates the next segment, so the statement that fills the tail does not pay for it. A
   * failure (a full disk) is left for that statement to meet, and refuse.
   */
  void prepareNext() {
    Segment tail = current;
    if (closed || tail == null || tail.end < tail.capacity / 2 || !prepareLock.tryLock()) return;
    try {
      if (spare != null || closed) return;
      spare = newSegment(0);
    } catch (IOException e) {
      // the appender tries again when it needs the segment, and refuses its statement if it fails
    } finally {
      prepareLock.unlock();
    }
  }

  /**
   * Called by the indexer after {@link #prepareNext}: faults in the pages the appender writes next,
   * up to {@link #POPULATE_AHEAD} bytes past the tail's last record, and the spare's first pages
   * once the tail's end is that near ({@link Preallocation#populate}), so the statements' threads
   * do not stop in the kernel for a page fault at each new page of the journal (bench/README.md,
   * session 12). At most {@link #POPULATE_CHUNK} bytes under the lock that keeps a segment mapped,
   * so a {@link #sync} never waits long for it.
   */
  void populateAhead() {
    if (closed) return;
    Segment tail = current;
    if (tail == null) return;
    int want = tail.end + POPULATE_AHEAD;
    populateUpTo(tail, Math.min(tail.capacity, want));
    if (want > tail.capacity && prepareLock.tryLock()) {
      try {
        if (spare != null) populateUpTo(spare, Math.min(spare.capacity, spare.end + want - tail.capacity));
      } finally {
        prepareLock.unlock();
      }
    }
  }

  /** Whether {@link #populateAhead} faults pages in here (false: not Linux 5.14+, or it failed). */
  boolean populatesAhead() {
    return current != null && current.populated > 0;
  }

  /** Faults in {@code s}'s pages up to {@code to}, from where the last call stopped; indexer only. */
  private void populateUpTo(Segment s, int to) {
    int page = Preallocation.PAGE;
    int from = Math.max(s.populated, s.end & -page);
    int end = Math.min((to + page - 1) & -page, s.capacity & -page);
    while (from < end) {
      int next = Math.min(end, from + POPULATE_CHUNK);
      syncLock.lock();
      try {
        if (s.unmapped) return;
        if (!Preallocation.populate(s.map, from, next)) return; // not available here: it says so at once
      } finally {
        syncLock.unlock();
      }
      from = next;
      s.populated = from;
    }
  }

  /** Under prepareLock: creates, preallocates and maps the next segment, for at least {@code needed} bytes of records. */
  private Segment newSegment(int needed) throws IOException {
    int capacity = Math.max(nextCapacity, header.length + needed);
    Path file = dir.resolve(fileStem(chainId) + "." + String.format("%06d", nextSegment) + SUFFIX);
    Segment reused = reuse(file, capacity);
    if (reused != null) {
      madeSegment();
      return reused;
    }
    FileChannel ch;
    try {
      ch = FileChannel.open(file,
          Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.READ, StandardOpenOption.WRITE), OWNER_ONLY_FILE);
    } catch (IOException e) {
      if (Files.exists(file, java.nio.file.LinkOption.NOFOLLOW_LINKS)) nextSegment++; // the name is taken: the next one
      throw e;
    }
    try {
      // Zeros first, the magic last: a file killed while being preallocated starts with zeros and
      // is read as unused.
      Preallocation.reserve(file, ch, header.length, capacity, machine);
      ch.write(ByteBuffer.wrap(header), 0);
      if (machine) {
        ch.force(true);
        syncDirectory(dir); // the segment's name: without it a crash may lose the whole file
      }
      MappedByteBuffer map = ch.map(FileChannel.MapMode.READ_WRITE, 0, capacity);
      Segment s = new Segment(file, ch, map, capacity, header.length);
      s.forced = machine ? header.length : 0;
      madeSegment();
      return s;
    } catch (IOException | RuntimeException e) {
      try {
        ch.close();
        Files.deleteIfExists(file);
      } catch (IOException again) {
        e.addSuppressed(again);
      }
      // The next attempt asks for the same size under the same number (review round 44: each failed
      // attempt doubled the size, up to 64 MiB, so freeing the room that sufficed did not bring the
      // journal back); another number only when the failed file could not be removed.
      if (Files.exists(file)) nextSegment++;
      throw e;
    }
  }

  /** Under prepareLock: a segment was made; the next one is numbered after it and doubles in size (up to the bound). */
  private void madeSegment() {
    nextSegment++;
    nextCapacity = (int) Math.min(segmentBytes, 2L * nextCapacity);
  }

  /**
   * Under prepareLock: the recycled segment under the name {@code file}, when there is one of
   * {@code capacity} bytes; else null (and a recycled segment of another size is let go). Its file
   * holds the header and zeros, so it reads as an empty segment under its new name, and its blocks
   * are written ones: appending to it needs no new block, as a preallocated segment does not.
   */
  private Segment reuse(Path file, int capacity) {
    Segment r = recycled;
    if (r == null) return null;
    recycled = null;
    if (r.capacity != capacity) {
      discard(r);
      return null;
    }
    try {
      Files.move(r.file, file);
      if (machine) syncDirectory(dir); // the new name, as for a new segment
    } catch (IOException e) {
      discard(r);
      return null; // a new segment is created instead
    }
    Segment s = new Segment(file, r.channel, r.map, r.capacity, header.length);
    s.forced = machine ? header.length : 0;
    return s;
  }

  /**
   * Keeps a released segment for {@link #newSegment} instead of deleting it, when it has the full
   * segment size and no other is kept: renamed out of the journal's files ({@link
   * #RECYCLED_SUFFIX}, which recovery does not read), then its records overwritten with zeros
   * (flushed to disk with machine durability, so a crash cannot bring them back under the new name).
   * Its pages stay in the page cache and mapped, so the appender writes to memory the machine
   * already has: a new segment's pages are each allocated, zero-filled and faulted in, and freed
   * again when it is deleted, and on a virtual machine that hands free memory back to its host
   * every such page is also faulted in anew by the host (bench/README.md, session 13). Indexer
   * only. Returns false when the segment is not kept (the caller deletes it).
   */
  private boolean recycle(Segment s) {
    if (closed || s.capacity != segmentBytes || s.unmapped) return false;
    prepareLock.lock();
    try {
      if (recycled != null) return false;
    } finally {
      prepareLock.unlock();
    }
    Segment r = new Segment(dir.resolve(fileStem(chainId) + RECYCLED_SUFFIX), s.channel, s.map, s.capacity, header.length);
    try {
      Files.move(s.file, r.file);
      // With machine durability the new name first: a crash must not bring back, under the
      // segment's old name, records that are partly zeros (recovery would call that damage).
      if (machine) syncDirectory(dir);
    } catch (IOException e) {
      if (!Files.exists(r.file)) return false; // not renamed: the caller deletes it as before
      discard(r);
      return true;
    }
    try {
      int end = s.end;
      for (int at = header.length; at < end; at += ZEROS.length) s.map.put(at, ZEROS, 0, Math.min(ZEROS.length, end - at));
      if (machine) s.map.force(header.length, end - header.length);
    } catch (InternalError | UncheckedIOException e) {
      discard(r); // the file failed under its mapping (SIGBUS) or cannot be flushed
      return true;
    }
    prepareLock.lock();
    try {
      if (recycled == null && !closed) {
        recycled = r;
        return true;
      }
    } finally {
      prepareLock.unlock();
    }
    discard(r);
    return true;
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
      long target = written; // read before the segments' ends: they cover at least this much
      List<Segment> all;
      synchronized (segments) {
        all = new ArrayList<>(segments);
      }
      for (Segment s : all) {
        int end = s.end;
        if (end > s.forced && !s.unmapped) {
          try {
            s.map.force(s.forced, end - s.forced);
          } catch (UncheckedIOException e) {
            throw e.getCause();
          }
          s.forced = end;
        }
      }
      synced = target;
    } finally {
      syncLock.unlock();
    }
  }

  /**
   * Deletes the segments, other than the one being written, whose events are all at or below
   * {@code indexedSeq} (in the store), or keeps one of them for reuse ({@link #recycle}). Called by
   * the indexer. Thread-safe with respect to appends: only the tail segment is appended to, and it
   * is never released here.
   */
  void release(long indexedSeq) {
    List<Segment> done = new ArrayList<>();
    synchronized (segments) {
      while (segments.size() > 1 && segments.peekFirst().lastSeq.get() <= indexedSeq) done.add(segments.pollFirst());
    }
    for (Segment s : done) {
      if (recycle(s)) continue;
      try {
        unmap(s);
        s.channel.close();
        Files.deleteIfExists(s.file);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot delete the indexed audit journal segment " + s.file, e);
      }
    }
  }

  /**
   * Closes the journal; with {@code delete}, every segment is removed (all events are in the store)
   * and the node folder is unlocked either way. The unused spare segment is always removed.
   */
  void close(boolean delete) {
    closed = true;
    List<Segment> all;
    synchronized (segments) {
      all = new ArrayList<>(segments);
      segments.clear();
    }
    prepareLock.lock();
    try {
      if (spare != null) discard(spare);
      spare = null;
      if (recycled != null) discard(recycled);
      recycled = null;
    } finally {
      prepareLock.unlock();
    }
    for (Segment s : all) {
      try {
        unmap(s);
        s.channel.close();
        if (delete) Files.deleteIfExists(s.file);
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

  private void discard(Segment s) {
    try {
      unmap(s);
      s.channel.close();
      Files.deleteIfExists(s.file);
    } catch (IOException e) {
      // an empty segment left behind is read as empty and removed by the next recovery
    }
  }

  /**
   * Unmaps a segment's mapping now rather than when the collector finds it: a deleted file's blocks
   * are freed only once it is unmapped, and a busy gateway deletes a segment every few seconds.
   * Under syncLock, so {@link #sync} never touches an unmapped segment.
   */
  private void unmap(Segment s) {
    syncLock.lock();
    try {
      if (s.unmapped) return;
      s.unmapped = true;
      if (UNMAPPER != null) {
        try {
          UNMAPPER.invokeExact((ByteBuffer) s.map);
        } catch (Throwable e) {
          // left to the garbage collector
        }
      }
    } finally {
      syncLock.unlock();
    }
  }

  /**
   * {@code sun.misc.Unsafe.invokeCleaner} (module jdk.unsupported), or null if absent: the only way
   * to unmap a {@link MappedByteBuffer} early on Java 21. It is deprecated for removal; the gateway
   * runs with {@code --sun-misc-unsafe-memory-access=allow}, which keeps it quiet. Without it, a
   * deleted segment's blocks are freed when the collector finds its mapping. Java 22's {@code
   * FileChannel.map(…, Arena)} replaces it once the baseline allows.
   */
  private static final MethodHandle UNMAPPER = unmapper();

  private static MethodHandle unmapper() {
    try {
      Class<?> unsafe = Class.forName("sun.misc.Unsafe");
      java.lang.reflect.Field f = unsafe.getDeclaredField("theUnsafe");
      f.setAccessible(true);
      return MethodHandles.lookup().findVirtual(unsafe, "invokeCleaner", MethodType.methodType(void.class, ByteBuffer.class))
          .bindTo(f.get(null));
    } catch (ReflectiveOperationException | RuntimeException e) {
      return null;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Reading (recovery)

  /** The events of one chain found in a node folder, in seq order, and whether the journal ended cleanly. */
  record Recovered(String chainId, List<Path> files, List<AuditEvent> events, Optional<String> damage) {}

  /**
   * Reads every chain journaled in a node folder that no process holds (the caller holds its lock).
   * Reading a chain stops at the first record that is incomplete or does not continue the chain (seq
   * + 1, previous hash); a whole record that fails its CRC or does not decode is skipped, leaving a
   * gap in the events read. Both are reported as damage.
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

  /** The damage found so far, with one more finding. */
  private static Optional<String> more(Optional<String> damage, String finding) {
    return Optional.of(damage.map(d -> d + "; " + finding).orElse(finding));
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
    // A whole record (its length read, its bytes present) that fails its checksum or does not decode
    // is skipped, and the whole records after it are read on (review round 44: one flipped bit
    // dropped every acknowledged event after it, and verify said intact). The event lost leaves a
    // gap in the chain, which verification reports; the next event read need not link to it.
    boolean gap = false;
    outer:
    for (Path file : files) {
      byte[] all = Files.readAllBytes(file);
      boolean v3 = startsWith(all, MAGIC);
      boolean padded = v3 || startsWith(all, MAGIC_V2);
      if (!padded && !startsWith(all, MAGIC_V1)) {
        // Created, and killed before the magic was written (it is written after the zeros).
        if (isZero(all, 0)) continue;
        damage = Optional.of(file.getFileName() + ": not a journal segment");
        break;
      }
      ByteBuffer in = ByteBuffer.wrap(all);
      in.position(MAGIC.length);
      // A v3 segment names its chain, whose v2 events do not: every segment of a chain names the same.
      String segmentChain = null;
      if (v3) {
        int n = all.length - MAGIC.length >= 4 ? in.getInt() : -1;
        if (n < 1 || n > in.remaining()) {
          damage = Optional.of(file.getFileName() + ": the segment's chain id is cut short");
          break;
        }
        segmentChain = new String(all, in.position(), n, java.nio.charset.StandardCharsets.UTF_8);
        if (chainId != null && !chainId.equals(segmentChain)) {
          damage = Optional.of(file.getFileName() + ": a segment of chain " + segmentChain + " among those of " + chainId);
          break;
        }
        chainId = segmentChain;
        in.position(Math.min(all.length, (MAGIC.length + 4 + n + 3) & ~3));
      }
      while (in.hasRemaining()) {
        int at = in.position();
        if (padded && (in.remaining() < HEADER || in.getInt(at) == 0)) {
          // The zero tail of a preallocated segment: the end, unless whole records follow a hole
          // (pages of a machine crash written out of order), which is damage. The bytes of a copy
          // cut short by a kill (its checksum and part of its payload, the length not yet written)
          // are no such record: that copy was never acknowledged, and the journal ends cleanly.
          if (isZero(all, at) || !wholeRecordAfter(all, at)) break;
          damage = more(damage, file.getFileName() + ": a record at byte " + at
              + " is missing and data follows it");
          break outer;
        }
        if (in.remaining() < HEADER) {
          damage = more(damage, file.getFileName() + ": incomplete record header at byte " + at);
          break outer;
        }
        int length = in.getInt();
        int expected = in.getInt();
        if (length < 0 || length > MAX_RECORD || in.remaining() < length) {
          damage = more(damage, file.getFileName() + ": incomplete record at byte " + at);
          break outer;
        }
        byte[] payload = new byte[length];
        in.get(payload);
        if (padded) in.position(Math.min(all.length, at + recordSize(length)));
        CRC32C crc = new CRC32C();
        crc.update(payload);
        if ((int) crc.getValue() != expected) {
          damage = more(damage, file.getFileName() + ": record at byte " + at
              + " fails its checksum");
          gap = true;
          continue;
        }
        AuditEvent e;
        try {
          // A v3 segment's records are v2 events of its chain; older segments' are v1 events, which name theirs.
          e = CanonicalEncoding.decodeEvent(segmentChain, payload, null);
          if (v3 != (e.format() == CanonicalEncoding.FORMAT_V2)) throw new IllegalArgumentException("an event of format " + e.format());
        } catch (RuntimeException bad) {
          damage = more(damage, file.getFileName() + ": record at byte " + at
              + " does not decode: " + bad.getMessage());
          gap = true;
          continue;
        }
        if (chainId == null) chainId = e.chainId();
        AuditEvent prev = events.isEmpty() ? null : events.getLast();
        boolean continues = e.chainId().equals(chainId)
            && (prev == null || (gap ? e.seq() > prev.seq() : e.seq() == prev.seq() + 1 && e.prevHash().equals(prev.hash())));
        if (!continues) {
          damage = more(damage, file.getFileName() + ": record at byte " + at
              + " (seq " + e.seq() + ") does not continue the chain");
          break outer;
        }
        gap = false;
        events.add(e);
      }
    }
    if (chainId == null) chainId = stem(files.getFirst()).replace('_', ':');
    return new Recovered(chainId, List.copyOf(files), events, damage);
  }

  private static boolean startsWith(byte[] all, byte[] magic) {
    return all.length >= magic.length && java.util.Arrays.equals(all, 0, magic.length, magic, 0, magic.length);
  }

  /**
   * Whether a whole record (a length that fits and a payload that matches its checksum) starts at a
   * 4-byte boundary after {@code from}: evidence of records written after a lost one.
   */
  private static boolean wholeRecordAfter(byte[] all, int from) {
    ByteBuffer in = ByteBuffer.wrap(all);
    CRC32C crc = new CRC32C();
    for (int p = from + 4; p + HEADER <= all.length; p += 4) {
      int length = in.getInt(p);
      if (length <= 0 || length > MAX_RECORD || length > all.length - p - HEADER) continue;
      crc.reset();
      crc.update(all, p + HEADER, length);
      if ((int) crc.getValue() == in.getInt(p + 4)) return true;
    }
    return false;
  }

  private static boolean isZero(byte[] all, int from) {
    for (int at = from; at < all.length; at += ZEROS.length) {
      int to = Math.min(all.length, at + ZEROS.length);
      if (java.util.Arrays.mismatch(all, at, to, ZEROS, 0, to - at) >= 0) return false;
    }
    return true;
  }
}
