package dev.gatehouse.audit;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Platform;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reserves a journal segment's blocks on disk before it is mapped, so that writing to the mapping can
 * never meet a full disk (which would kill the process with {@code SIGBUS}): a full disk is an
 * {@link IOException} here instead.
 *
 * <p>On Linux, {@code posix_fallocate(3)} (through JNA): the file system allocates the blocks as
 * unwritten extents, which read as zeros, without the data passing through the page cache. Writing
 * the zeros instead copies every byte of a segment into the page cache and later writes it to disk
 * before the records overwrite it: under pgbench that was about 3% of the gateway's CPU and as many
 * bytes written as the records themselves (bench/README.md, session 6). Elsewhere (macOS), when the
 * call is not available, and for {@link Durability#MACHINE}, the zeros are written in 1 MiB chunks,
 * which makes the file system reserve the blocks all the same: with machine durability every batch
 * is synced, and the first sync of a page in an unwritten extent also commits the file system's
 * metadata (the extent becomes written), where a page already written costs only its data. Copy-on-write file systems (btrfs, ZFS) allocate anew on every
 * write and keep neither promise.
 */
final class Preallocation {
  private static final Logger LOG = LoggerFactory.getLogger(Preallocation.class);
  private static final int O_RDWR = 2;
  private static final int ENOSPC = 28;
  private static final int EINTR = 4;
  private static final int EINVAL = 22;
  private static final int SC_PAGESIZE = 30;
  private static final int ZERO_CHUNK = 1024 * 1024;
  /** The same zeros outside the heap: a heap buffer is copied into a temporary direct one per write. */
  private static final ByteBuffer DIRECT_ZEROS = ByteBuffer.allocateDirect(ZERO_CHUNK).asReadOnlyBuffer();
  private static final LibC LIBC = load();
  /** {@code madvise} advice (Linux 5.14 and later): fault pages in, writable, without touching their bytes. */
  private static final int MADV_POPULATE_WRITE = 23;
  /** Cleared when the kernel does not know {@link #MADV_POPULATE_WRITE} (older than 5.14). */
  private static volatile boolean populates = true;
  /** The page size {@link #populate} works in: the system's, or 64 KiB (a multiple of every Linux base page size) when unknown. */
  static final int PAGE = pageSize();

  /** The C library's calls used here; {@code off_t} is 64 bits on the platforms JNA loads this for. */
  interface LibC extends Library {
    int open(String path, int flags);

    int posix_fallocate(int fd, long offset, long len);

    int close(int fd);

    int madvise(com.sun.jna.Pointer addr, long length, int advice);

    long sysconf(int name);
  }

  private Preallocation() {}

  private static LibC load() {
    if (!Platform.isLinux() || !Platform.is64Bit() || Boolean.getBoolean("gatehouse.audit.journal.write-zeros")) return null;
    String why = "";
    for (String name : new String[] {"c", "libc.so.6"}) { // "libc.so" may be a linker script (libc6-dev)
      try {
        return Native.load(name, LibC.class);
      } catch (LinkageError | RuntimeException e) {
        if (why.isEmpty()) why = e.toString();
      }
    }
    LOG.info("posix_fallocate is not available ({}): audit journal segments are preallocated by writing zeros", why);
    return null;
  }

  /** Whether segments are reserved with {@code posix_fallocate} (else by writing zeros). */
  static boolean fallocates() {
    return LIBC != null;
  }

  /**
   * Reserves bytes {@code [from, to)} of {@code file} (open as {@code channel}, for writing), which
   * then read as zeros; by writing zeros when {@code writeZeros} (see above). Throws {@link
   * IOException} when the disk cannot hold them.
   */
  static void reserve(Path file, FileChannel channel, long from, long to, boolean writeZeros) throws IOException {
    if (to <= from) return;
    if (!writeZeros && LIBC != null && fallocate(file, from, to)) return;
    ByteBuffer zeros = DIRECT_ZEROS.duplicate();
    for (long at = from; at < to; ) {
      zeros.clear().limit((int) Math.min(ZERO_CHUNK, to - at));
      at += channel.write(zeros, at);
    }
  }

  /**
   * Faults bytes {@code [from, to)} of {@code map} in, writable, without writing to them ({@code
   * madvise(MADV_POPULATE_WRITE)}), so the appender that writes records there later meets no page
   * fault: on Linux the first write to each page of a segment otherwise stops the statement's thread
   * in the kernel while it reads the (unwritten, so zero-filled) page and marks it dirty, a few
   * microseconds per page, and the other sessions of that thread's loop wait meanwhile. Concurrent
   * writes to those pages are safe: no byte is changed. Does nothing where the call is not available
   * (not Linux, a kernel older than 5.14) or fails: the pages are then faulted in when written, as
   * before. {@code from} and {@code to} must be multiples of {@link #PAGE}.
   *
   * @return false when the call is not available here (callers may stop asking)
   */
  static boolean populate(java.nio.MappedByteBuffer map, int from, int to) {
    if (LIBC == null || !populates) return false;
    if (to <= from) return true;
    com.sun.jna.Pointer base = com.sun.jna.Native.getDirectBufferPointer(map);
    if (LIBC.madvise(base.share(from), to - from, MADV_POPULATE_WRITE) != 0) {
      int errno = com.sun.jna.Native.getLastError();
      if (errno == EINVAL) {
        populates = false;
        LOG.info("madvise(MADV_POPULATE_WRITE) is not available here (before Linux 5.14): audit journal pages are faulted in as they are written");
        return false;
      }
      // ENOMEM, EFAULT, EINTR...: the appender faults the pages in itself
    }
    return true;
  }

  private static int pageSize() {
    long size = LIBC == null ? -1 : LIBC.sysconf(SC_PAGESIZE);
    return size > 0 && size <= 1 << 20 && Long.bitCount(size) == 1 ? (int) size : 64 * 1024;
  }

  /** True when the blocks are reserved; false when the call cannot do it here (then zeros are written). */
  private static boolean fallocate(Path file, long from, long to) throws IOException {
    int fd = LIBC.open(file.toString(), O_RDWR);
    if (fd < 0) return false;
    try {
      int error;
      do {
        error = LIBC.posix_fallocate(fd, from, to - from);
      } while (error == EINTR);
      if (error == ENOSPC) throw new IOException("no space left on device for audit journal segment " + file + " (" + to + " bytes)");
      return error == 0;
    } finally {
      LIBC.close(fd);
    }
  }
}
