package dev.gatehouse.audit;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;

/**
 * A signed checkpoint found outside the store, and where: a line of the gateway's log, or this
 * node's local witness file. Someone who can write to the store can delete a chain's newest events
 * together with their checkpoints; a witness kept elsewhere still says how far the chain reached, so
 * {@link AuditVerifier#withWitnesses} reports the cut. A witness is only a claim until its signature
 * verifies: the verifier checks it like a stored checkpoint and rejects one that does not verify.
 *
 * <p>Two places hold witnesses, both in one line format, {@link #line}: the INFO line {@link
 * ChainWriter} logs for every checkpoint it stores (in a JSON log line, its {@code message}), and the
 * <b>local witness file</b> {@value #LOCAL_FILE} in the node's journal folder, which holds the newest
 * checkpoint the node stored, rewritten (a new file renamed over the old) after each one. The file
 * lives in the gateway's data directory, so it survives the store being cut even when the store is a
 * remote PostgreSQL; a new chain's start names it as its predecessor when the store no longer holds it.
 *
 * @param source where it was found, for people ({@code gatehouse.log line 812})
 */
public record Witness(SignedCheckpoint checkpoint, String source) {
  /** The local witness file's name, in {@code <journalDir>/<nodeId>/}. */
  public static final String LOCAL_FILE = "checkpoint.witness";

  /**
   * Lines of one chain kept from a file, newest (by seq) first: a chain's hashes link every earlier
   * event to its newest checkpoint, so older lines add nothing but cost a signature check each; a
   * few are kept so that forged lines of a high seq cannot hide the genuine newest one.
   */
  static final int PER_CHAIN = 16;

  private static final String PREFIX = "audit checkpoint ";
  private static final String LOGGER = "\"logger_name\":\"" + ChainWriter.class.getName() + "\"";
  private static final String MESSAGE = "\"message\":\"";
  private static final Pattern LINE = Pattern.compile("audit checkpoint chain=([A-Za-z0-9._-]{1,64}:[0-9a-f]{1,64})"
      + " seq=([1-9][0-9]{0,17}) hash=([0-9a-f]{64}) time=([0-9TZ:.+-]{1,40}) key=([0-9a-f]{1,64})"
      + " signature=([A-Za-z0-9+/=]{1,200})");
  private static final boolean POSIX = java.nio.file.FileSystems.getDefault().supportedFileAttributeViews().contains("posix");

  public Witness {
    Objects.requireNonNull(checkpoint, "checkpoint == null");
    Objects.requireNonNull(source, "source == null");
  }

  /** The text that states a checkpoint: what {@link ChainWriter} logs and the local witness file holds. */
  public static String line(SignedCheckpoint c) {
    return PREFIX + "chain=" + c.chainId() + " seq=" + c.seq() + " hash=" + c.hash() + " time=" + c.time()
        + " key=" + c.keyId() + " signature=" + c.signature();
  }

  /** The checkpoint {@code text} states, when it is exactly a {@link #line}. */
  public static Optional<SignedCheckpoint> parse(String text) {
    Matcher m = LINE.matcher(text);
    if (!m.matches()) return Optional.empty();
    try {
      return Optional.of(new SignedCheckpoint(m.group(1), Long.parseLong(m.group(2)), m.group(3), Instant.parse(m.group(4)),
          m.group(5), m.group(6)));
    } catch (DateTimeParseException | IllegalArgumentException e) {
      return Optional.empty();
    }
  }

  /**
   * The witnesses in a file: Gatehouse's JSON log lines whose logger is the audit writer and whose
   * message is a {@link #line}, and lines that are exactly such a message (the local witness file,
   * or messages extracted from a log by hand); a {@code .gz} file is read uncompressed. Other lines,
   * and a last line cut short, are passed over. Of each chain, only the {@value #PER_CHAIN} lines of
   * the highest seqs are returned (duplicates once), highest first, so a long log costs bounded
   * memory; the signatures are not checked here.
   *
   * @throws AuditException when the file cannot be read
   */
  public static List<Witness> read(Path file) {
    Map<String, TreeSet<Witness>> byChain = new TreeMap<>();
    Comparator<Witness> newestFirst = Comparator.<Witness>comparingLong(w -> w.checkpoint().seq()).reversed()
        .thenComparing(w -> w.checkpoint().signature())
        .thenComparing(w -> w.checkpoint().hash());
    try (InputStream raw = Files.newInputStream(file);
        InputStream in = file.getFileName().toString().endsWith(".gz") ? new GZIPInputStream(raw) : raw;
        // Invalid UTF-8 is replaced, not an error: a damaged line must not hide the others.
        BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
      long n = 0;
      for (String l = reader.readLine(); l != null; l = reader.readLine()) {
        n++;
        Optional<SignedCheckpoint> c = message(l).flatMap(Witness::parse);
        if (c.isEmpty()) continue;
        TreeSet<Witness> kept = byChain.computeIfAbsent(c.get().chainId(), k -> new TreeSet<>(newestFirst));
        kept.add(new Witness(c.get(), file + " line " + n));
        if (kept.size() > PER_CHAIN) kept.pollLast();
      }
    } catch (IOException e) {
      throw new AuditException("cannot read the witness file " + file + ": " + e.getMessage(), e);
    }
    List<Witness> out = new ArrayList<>();
    byChain.values().forEach(out::addAll);
    return out;
  }

  /** The local witness file of node {@code nodeId} whose journal is under {@code journalDir}. */
  public static Path localFile(Path journalDir, String nodeId) {
    return AuditJournal.nodeDir(journalDir, nodeId).resolve(LOCAL_FILE);
  }

  /** The local witness files of every node under {@code journalDir} (none when it does not exist), read. */
  public static List<Witness> readLocal(Path journalDir) {
    if (!Files.isDirectory(journalDir)) return List.of();
    List<Path> files;
    try (Stream<Path> nodes = Files.list(journalDir)) {
      files = nodes.map(d -> d.resolve(LOCAL_FILE)).filter(Files::isRegularFile).sorted().toList();
    } catch (IOException e) {
      throw new AuditException("cannot read the audit journal folder " + journalDir + ": " + e.getMessage(), e);
    }
    List<Witness> out = new ArrayList<>();
    for (Path f : files) out.addAll(read(f));
    return out;
  }

  /**
   * Replaces the local witness {@code file} with {@code c}: written to a temporary file beside it
   * (mode 0600), flushed to disk when {@code sync}, and renamed over the old one, so a reader (or a
   * crash) sees the old checkpoint or the new one, never a mix.
   */
  static void writeLocal(Path file, SignedCheckpoint c, boolean sync) throws IOException {
    Path tmp = file.resolveSibling(LOCAL_FILE + ".tmp");
    Files.deleteIfExists(tmp);
    var attrs = POSIX
        ? new java.nio.file.attribute.FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"))}
        : new java.nio.file.attribute.FileAttribute<?>[0];
    try (FileChannel ch = FileChannel.open(tmp, java.util.Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE), attrs)) {
      ch.write(java.nio.ByteBuffer.wrap((line(c) + "\n").getBytes(StandardCharsets.UTF_8)));
      if (sync) ch.force(true);
    }
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  /**
   * The message of a log line: the line itself when it is a bare {@link #line}, else the {@code
   * message} of a JSON log line written by the audit writer's logger (so that text a client put into
   * another log line, a user name say, is never read as a witness).
   */
  private static Optional<String> message(String line) {
    String t = line.strip();
    if (t.startsWith(PREFIX)) return Optional.of(t);
    if (!t.startsWith("{") || !t.contains(LOGGER)) return Optional.empty();
    int at = t.indexOf(MESSAGE);
    return at < 0 ? Optional.empty() : jsonString(t, at + MESSAGE.length());
  }

  /** The JSON string whose text starts at {@code from} (after its opening quote), decoded; empty when cut short. */
  private static Optional<String> jsonString(String s, int from) {
    StringBuilder out = new StringBuilder();
    for (int i = from; i < s.length(); i++) {
      char ch = s.charAt(i);
      if (ch == '"') return Optional.of(out.toString());
      if (ch != '\\') {
        out.append(ch);
        continue;
      }
      if (++i >= s.length()) return Optional.empty();
      char e = s.charAt(i);
      switch (e) {
        case '"', '\\', '/' -> out.append(e);
        case 'b' -> out.append('\b');
        case 'f' -> out.append('\f');
        case 'n' -> out.append('\n');
        case 'r' -> out.append('\r');
        case 't' -> out.append('\t');
        case 'u' -> {
          if (i + 4 >= s.length()) return Optional.empty();
          try {
            out.append((char) Integer.parseInt(s, i + 1, i + 5, 16));
          } catch (NumberFormatException bad) {
            return Optional.empty();
          }
          i += 4;
        }
        default -> {
          return Optional.empty();
        }
      }
    }
    return Optional.empty();
  }
}
