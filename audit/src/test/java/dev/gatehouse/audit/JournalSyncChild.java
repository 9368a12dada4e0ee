package dev.gatehouse.audit;

import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;

/**
 * What {@link MappedJournalTest} runs under {@code strace}: a journal with small segments in the
 * folder {@code args[0]}, durability machine when {@code args[1]} is {@code machine}, and enough
 * records for several segments, each synced as machine durability does.
 */
public final class JournalSyncChild {
  private JournalSyncChild() {}

  public static void main(String[] args) throws Exception {
    boolean machine = args[1].equals("machine");
    try (AuditJournal.NodeLock node = AuditJournal.lockNode(Path.of(args[0]), "sync-node")) {
      AuditJournal j = AuditJournal.create(node, "sync-node:aa", machine, 4096);
      EventBody body = EventBody.of(EventType.SESSION_OPENED, Instant.parse("2026-11-23T00:00:00Z"), Map.of("n", "x".repeat(500)));
      byte[] canonical = CanonicalEncoding.encodeEvent("sync-node:aa", 1, "0".repeat(64), body);
      for (long seq = 1; seq <= 40; seq++) {
        j.append(seq, canonical, canonical.length);
        if (machine) j.sync(j.written());
      }
      j.close(false);
    }
  }
}
