package dev.gatehouse.audit;

import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;

/**
 * The gateway stand-in that {@link MappedJournalTest} kills: journals durable events from several
 * threads into a store that never commits (so every event stays in the journal only), and prints
 * {@code ACK <event id>} for each one acknowledged.
 *
 * <p>Arguments: journal folder, key file.
 */
public final class JournalKillChild {
  private JournalKillChild() {}

  public static void main(String[] args) throws Exception {
    InMemoryAuditStore store = new InMemoryAuditStore();
    store.hold(); // the indexer's first append blocks: nothing reaches the store
    AuditConfig config = AuditConfig.defaults("kill-node", Path.of(args[1])).withJournal(Path.of(args[0]))
        .withCheckpoints(1000, Duration.ofHours(1));
    AuditLog log = AuditLog.start(store, config, Clock.systemUTC());
    PrintStream out = System.out;
    Samples s = new Samples("pg-kill");
    for (int t = 0; t < 4; t++) {
      int thread = t;
      Thread.ofPlatform().start(() -> {
        for (long i = 0; ; i++) {
          String id = log.commandDecided(s.session, s.command("UPDATE accounts SET n = " + i + " -- " + thread), s.allow).eventId();
          synchronized (out) {
            out.println("ACK " + id);
            out.flush();
          }
        }
      });
    }
    Thread.sleep(Long.MAX_VALUE);
  }
}
