package dev.gatehouse.store;

import dev.gatehouse.audit.AuditEvent;
import dev.gatehouse.audit.AuditQuery;
import dev.gatehouse.audit.EventBody;
import java.nio.charset.StandardCharsets;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The coarse index audit searches use, instead of an index entry per event (each cost the audit path
 * a b-tree insert per event): {@code audit_search_terms} says which buckets of {@value
 * #BUCKET_BLOCKS} consecutive {@code pos} values (blocks of {@code audit_events}, about 4,096 events
 * when full) hold an event with a given principal (subject or display name) or resource, {@code
 * audit_search_times} which buckets hold an event of a given second. A batch of events adds a few
 * rows ({@code ON CONFLICT DO NOTHING}: a bucket already known for a term adds nothing), on SQLite
 * and PostgreSQL alike, so searches stay indexed on both at a cost per event close to zero.
 *
 * <p>The index only narrows where to look: a search reads the candidate buckets' blocks newest
 * first, and matches each event, decoded from the bytes its block holds, in Java ({@link #matches}),
 * so it returns what the rows hold. A bucket may be listed for a term none of its events has (a
 * batch's terms are recorded for every bucket its blocks reach, and on PostgreSQL other nodes' blocks
 * may lie in between): that costs reading, never a wrong result. Before decoding, {@link #mayMatch}
 * rules blocks and events out on their raw bytes, so most events a search passes over are not
 * decoded. The terms are those of the events as appended: someone who edits the index, or a block,
 * can hide an event from a search, never from {@code verify}.
 */
final class SearchIndex {
  /**
   * Blocks per bucket: with full blocks ({@link EventBlockWriter#BLOCK_EVENTS}) about 4,096 events,
   * one indexer batch under load, so a batch adds its terms once or twice.
   */
  static final int BUCKET_BLOCKS = 16;

  static final String INSERT_TERM =
      "INSERT INTO audit_search_terms (kind, value, bucket) VALUES (?, ?, ?) ON CONFLICT DO NOTHING";
  static final String INSERT_TIME = "INSERT INTO audit_search_times (time_s, bucket) VALUES (?, ?) ON CONFLICT DO NOTHING";

  private SearchIndex() {}

  static long bucket(long pos) {
    return Math.floorDiv(pos, BUCKET_BLOCKS);
  }

  /**
   * The distinct search terms of some events (one batch, or one bucket during an upgrade). A
   * session's events share one actor instance, and a batch holds the events of a few sessions
   * interleaved, so an actor is looked up by identity first ({@code IdentityHashMap}: no hashing of
   * its fields) and its names added once per batch; the previous event's resource and second are not
   * added again.
   */
  static final class Terms {
    private final Set<String> principals = new HashSet<>();
    private final Set<String> resources = new HashSet<>();
    private final Set<Long> seconds = new HashSet<>();
    private final Set<EventBody.Actor> actors = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    private String lastResource;
    private long lastSecond = Long.MIN_VALUE;

    void add(AuditEvent e) {
      EventBody b = e.body();
      EventBody.Actor a = b.principal().orElse(null);
      // By identity: an equal actor of another session would cost a comparison of every field (its
      // groups too) per event.
      if (a != null && actors.add(a)) {
        principals.add(a.subject());
        principals.add(a.displayName());
      }
      String r = b.resource().orElse(null);
      if (r != null && !r.equals(lastResource)) {
        resources.add(r);
        lastResource = r;
      }
      long s = b.time().getEpochSecond();
      if (s != lastSecond) {
        seconds.add(s);
        lastSecond = s;
      }
    }

    boolean isEmpty() {
      return seconds.isEmpty();
    }

    void clear() {
      principals.clear();
      resources.clear();
      seconds.clear();
      actors.clear();
      lastResource = null;
      lastSecond = Long.MIN_VALUE;
    }

    /** Adds the rows saying these terms occur in buckets {@code first..last} to the two statements' batches. */
    void addTo(PreparedStatement terms, PreparedStatement times, long first, long last) throws SQLException {
      for (long bucket = first; bucket <= last; bucket++) {
        for (String p : principals) term(terms, "principal", p, bucket);
        for (String r : resources) term(terms, "resource", r, bucket);
        for (long s : seconds) {
          times.setLong(1, s);
          times.setLong(2, bucket);
          times.addBatch();
        }
      }
    }

    private static void term(PreparedStatement ps, String kind, String value, long bucket) throws SQLException {
      ps.setString(1, kind);
      ps.setString(2, value);
      ps.setLong(3, bucket);
      ps.addBatch();
    }
  }

  /**
   * The query listing the buckets that may hold events matching {@code q}, newest first, with its
   * arguments added to {@code args}; empty when {@code q} names no principal, resource or time
   * (then every bucket may).
   */
  static Optional<String> buckets(AuditQuery q, List<Object> args) {
    List<String> parts = new ArrayList<>();
    q.principal().ifPresent(p -> {
      parts.add("SELECT DISTINCT bucket FROM audit_search_terms WHERE kind = 'principal' AND value = ?");
      args.add(p);
    });
    q.resource().ifPresent(r -> {
      parts.add("SELECT DISTINCT bucket FROM audit_search_terms WHERE kind = 'resource' AND value = ?");
      args.add(r);
    });
    if (q.from().isPresent() || q.to().isPresent()) {
      parts.add("SELECT DISTINCT bucket FROM audit_search_times WHERE time_s >= ? AND time_s <= ?");
      args.add(q.from().map(Instant::getEpochSecond).orElse(Long.MIN_VALUE));
      // The last second that can hold an event strictly before 'to'.
      args.add(q.to().map(t -> t.minusNanos(1).getEpochSecond()).orElse(Long.MAX_VALUE));
    }
    if (parts.isEmpty()) return Optional.empty();
    return Optional.of(String.join(" INTERSECT ", parts) + " ORDER BY 1 DESC");
  }

  /** Whether the event matches every criterion of {@code q} (the limit aside). */
  static boolean matches(AuditQuery q, AuditEvent e) {
    EventBody b = e.body();
    if (q.principal().isPresent() && !b.principal()
        .filter(a -> a.subject().equals(q.principal().get()) || a.displayName().equals(q.principal().get())).isPresent()) {
      return false;
    }
    if (q.resource().isPresent() && !b.resource().equals(q.resource())) return false;
    if (q.from().isPresent() && b.time().isBefore(q.from().get())) return false;
    if (q.to().isPresent() && !b.time().isBefore(q.to().get())) return false;
    if (q.session().isPresent() && !b.sessionId().equals(q.session())) return false;
    return q.text().isEmpty() || b.command().filter(c -> foldedContains(c.text(), q.text().get())).isPresent();
  }

  /**
   * A test on a row's raw canonical bytes that every row whose event matches the query passes: each
   * string the query names occurs in the bytes as UTF-8, exactly, and its text with ASCII letters
   * folded. A row without bytes holds no event, so it matches nothing.
   */
  static boolean mayMatch(Needles needles, byte[] canonical) {
    return canonical != null && mayMatch(needles, canonical, 0, canonical.length);
  }

  /**
   * As {@link #mayMatch(Needles, byte[])} on {@code length} bytes at {@code from} (a negative length:
   * no bytes, which match nothing). On a whole block it tells whether any of its events may match.
   */
  static boolean mayMatch(Needles needles, byte[] bytes, int from, int length) {
    if (length < 0) return false;
    for (byte[] n : needles.exact) {
      if (indexOf(bytes, from, from + length, n, false) < 0) return false;
    }
    return needles.folded == null || indexOf(bytes, from, from + length, needles.folded, true) >= 0;
  }

  /** What {@link #mayMatch} looks for, encoded once per search. */
  record Needles(List<byte[]> exact, byte[] folded) {
    static Needles of(AuditQuery q) {
      List<byte[]> exact = new ArrayList<>();
      q.principal().ifPresent(p -> exact.add(p.getBytes(StandardCharsets.UTF_8)));
      q.resource().ifPresent(r -> exact.add(r.getBytes(StandardCharsets.UTF_8)));
      q.session().ifPresent(s -> exact.add(s.getBytes(StandardCharsets.UTF_8)));
      return new Needles(exact, q.text().map(t -> fold(t.getBytes(StandardCharsets.UTF_8))).orElse(null));
    }
  }

  /** Whether {@code text} contains {@code part}, ASCII letters compared without case (as the query's javadoc says). */
  private static boolean foldedContains(String text, String part) {
    byte[] hay = text.getBytes(StandardCharsets.UTF_8);
    return indexOf(hay, 0, hay.length, fold(part.getBytes(StandardCharsets.UTF_8)), true) >= 0;
  }

  private static byte[] fold(byte[] b) {
    byte[] out = b.clone();
    for (int i = 0; i < out.length; i++) out[i] = lower(out[i]);
    return out;
  }

  private static byte lower(byte b) {
    return b >= 'A' && b <= 'Z' ? (byte) (b + ('a' - 'A')) : b;
  }

  /**
   * The first index of {@code needle} in {@code hay[from..to)}; with {@code fold}, hay's ASCII letters
   * are lowered ({@code needle} already is).
   */
  private static int indexOf(byte[] hay, int from, int to, byte[] needle, boolean fold) {
    if (needle.length == 0) return from;
    byte first = needle[0];
    outer:
    for (int i = from, end = to - needle.length; i <= end; i++) {
      if ((fold ? lower(hay[i]) : hay[i]) != first) continue;
      for (int j = 1; j < needle.length; j++) {
        if ((fold ? lower(hay[i + j]) : hay[i + j]) != needle[j]) continue outer;
      }
      return i;
    }
    return -1;
  }
}
