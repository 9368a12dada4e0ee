package dev.gatehouse.store;

import dev.gatehouse.audit.AuditConfig;
import dev.gatehouse.audit.AuditLog;
import dev.gatehouse.audit.Samples;
import dev.gatehouse.core.AuditHandle;
import dev.gatehouse.core.Outcome;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;

/**
 * The gateway stand-in that {@link KillDurabilityTest} kills: appends durable events from several
 * threads forever and prints {@code ACK <event id>} for each one the audit log acknowledged.
 *
 * <p>Arguments: store URL, database user (or "-"), key file, node id.
 */
public final class DurabilityChild {
  private DurabilityChild() {}

  public static void main(String[] args) throws Exception {
    StoreConfig config = StoreConfig.of(args[0], args[1].equals("-") ? Optional.empty() : Optional.of(args[1]), Optional.empty());
    JdbcStore store = JdbcStore.open(config);
    AuditLog log = AuditLog.start(store.audit(),
        AuditConfig.defaults(args[3], Path.of(args[2])).withCheckpoints(64, Duration.ofMillis(250)), Clock.systemUTC());
    PrintStream out = System.out;
    synchronized (out) {
      out.println("CHAIN " + log.chainId().orElse("?"));
      out.flush();
    }
    Samples s = new Samples("pg-kill");
    for (int t = 0; t < 4; t++) {
      int thread = t;
      Thread.ofPlatform().start(() -> {
        for (long i = 0; ; i++) {
          AuditHandle h = log.commandDecided(s.session, s.command("UPDATE accounts SET n = " + i + " -- " + thread), s.allow);
          synchronized (out) {
            out.println("ACK " + h.eventId());
            out.flush();
          }
          log.commandCompleted(s.session, h, Outcome.ok(1, Duration.ofMillis(1)));
        }
      });
    }
    Thread.sleep(Long.MAX_VALUE);
  }
}
