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
  private static final int ZERO_CHUNK = 1024 * 1024;
  /** The same zeros outside the heap: a heap buffer is copied into a temporary direct one per write. */
  private static final ByteBuffer DIRECT_ZEROS = ByteBuffer.allocateDirect(ZERO_CHUNK).asReadOnlyBuffer();
  private static final LibC LIBC = load();

  /** The C library's calls used here; {@code off_t} is 64 bits on the platforms JNA loads this for. */
  interface LibC extends Library {
    int open(String path, int flags);

    int posix_fallocate(int fd, long offset, long len);

    int close(int fd);
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
