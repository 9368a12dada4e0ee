package dev.gatehouse.audit;

import dev.gatehouse.core.AuditHandle;
import dev.gatehouse.core.Outcome;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;

/**
 * The gateway stand-in that {@link CutOffEndsTest} kills with sessions and statements in flight:
 * three sessions open (one of them closed again), statements decided and completed, decided and not
 * completed, and refused. Everything stays in the journal (the store never commits). Prints one line,
 * {@code READY <ids>}, then waits to be killed.
 *
 * <p>Arguments: journal folder, key file.
 */
public final class CutOffChild {
  private CutOffChild() {}

  public static void main(String[] args) throws Exception {
    InMemoryAuditStore store = new InMemoryAuditStore();
    store.hold();
    AuditConfig config = AuditConfig.defaults("cut-node", Path.of(args[1])).withJournal(Path.of(args[0]));
    AuditLog log = AuditLog.start(store, config, Clock.systemUTC());
    Samples a = new Samples("pg-a");
    Samples b = new Samples("pg-b");
    Samples c = new Samples("pg-c");
    log.sessionOpened(a.session);
    log.sessionOpened(b.session);
    log.sessionOpened(c.session);
    AuditHandle done = log.commandDecided(a.session, a.command("SELECT 1"), a.allow);
    log.commandCompleted(a.session, done, Outcome.ok(1, Duration.ofMillis(2)));
    AuditHandle running = log.commandDecided(a.session, a.command("UPDATE accounts SET n = n + 1"), a.allow);
    log.commandDecided(a.session, a.command("DROP TABLE accounts"), a.deny);
    AuditHandle closedWith = log.commandDecided(b.session, b.command("SELECT 2"), b.allow);
    log.commandCompleted(b.session, closedWith, Outcome.ok(1, Duration.ofMillis(1)));
    log.sessionClosed(b.session, "client terminated");
    AuditHandle other = log.commandDecided(c.session, c.command("SELECT pg_sleep(600)"), c.allow);
    System.out.println("READY " + running.eventId() + " " + other.eventId() + " " + done.eventId() + " "
        + a.session.id().value() + " " + b.session.id().value() + " " + c.session.id().value());
    System.out.flush();
    Thread.sleep(Long.MAX_VALUE);
  }
}
