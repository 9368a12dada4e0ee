package dev.gatehouse.audit;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;
import java.util.concurrent.CountDownLatch;
import java.util.stream.Stream;

/**
 * A real, if simple, {@link AuditStore} in memory, for the audit module's own tests: it can be told
 * to fail or to hold appends, and it exposes its rows for tampering.
 */
public final class InMemoryAuditStore implements AuditStore {
  final List<AuditEvent> rows = new ArrayList<>();
  final List<SignedCheckpoint> checkpoints = new ArrayList<>();
  private volatile RuntimeException failure;
  /** Thrown by the next append only (then cleared): an Error such as OutOfMemoryError. */
  private volatile Error errorOnce;
  private volatile CountDownLatch gate;
  private volatile CountDownLatch entered = new CountDownLatch(1);
  private int appends;

  /** Every later append throws {@code failure}, or succeeds again with null. */
  public void failWith(RuntimeException failure) {
    this.failure = failure;
  }

  /** The next append throws {@code error} (as a heap running out would), the ones after it work. */
  public void errorOnce(Error error) {
    this.errorOnce = error;
  }

  /** Appends block until the returned latch is counted down. */
  public CountDownLatch hold() {
    entered = new CountDownLatch(1);
    gate = new CountDownLatch(1);
    return gate;
  }

  /** Counted down when an append reaches the gate. */
  public CountDownLatch entered() {
    return entered;
  }

  public synchronized int appends() {
    return appends;
  }

  @Override
  public void append(List<AuditEvent> events, Optional<SignedCheckpoint> checkpoint) {
    CountDownLatch g = gate;
    if (g != null) {
      entered.countDown();
      try {
        g.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted");
      }
    }
    RuntimeException f = failure;
    if (f != null) throw f;
    Error once = errorOnce;
    if (once != null) {
      errorOnce = null;
      throw once;
    }
    synchronized (this) {
      appends++;
      rows.addAll(events);
      checkpoint.ifPresent(checkpoints::add);
    }
  }

  @Override
  public synchronized List<String> chainIds() {
    TreeSet<String> ids = new TreeSet<>();
    rows.forEach(e -> ids.add(e.chainId()));
    checkpoints.forEach(c -> ids.add(c.chainId()));
    return List.copyOf(ids);
  }

  @Override
  public synchronized Stream<AuditEvent> events(String chainId) {
    // A stable sort keeps rows with equal seq in insertion order, as the JDBC stores do.
    return rows.stream().filter(e -> e.chainId().equals(chainId))
        .sorted(Comparator.comparingLong(AuditEvent::seq)).toList().stream();
  }

  @Override
  public synchronized List<SignedCheckpoint> checkpoints(String chainId) {
    return checkpoints.stream().filter(c -> c.chainId().equals(chainId))
        .sorted(Comparator.comparingLong(SignedCheckpoint::seq)).toList();
  }

  @Override
  public synchronized Optional<AuditEvent> find(String eventId) {
    return rows.stream().filter(e -> e.id().equals(eventId)).findFirst();
  }

  @Override
  public synchronized List<AuditEvent> search(AuditQuery q) {
    List<AuditEvent> hits = rows.stream().filter(e -> {
      EventBody b = e.body();
      return q.principal().map(p -> b.principal().filter(a -> a.subject().equals(p) || a.displayName().equals(p)).isPresent()).orElse(true)
          && q.resource().map(r -> b.resource().filter(r::equals).isPresent()).orElse(true)
          && q.from().map(f -> !b.time().isBefore(f)).orElse(true)
          && q.to().map(t -> b.time().isBefore(t)).orElse(true)
          && q.session().map(s -> b.sessionId().equals(Optional.of(s))).orElse(true)
          && q.text().map(t -> b.command().filter(c -> c.text().toLowerCase().contains(t.toLowerCase())).isPresent()).orElse(true);
    }).toList();
    return hits.subList(Math.max(0, hits.size() - q.limit()), hits.size());
  }

  @Override
  public synchronized List<AuditEvent> tail(int limit) {
    return List.copyOf(rows.subList(Math.max(0, rows.size() - limit), rows.size()));
  }

  @Override
  public synchronized List<AuditEvent> after(String eventId, int limit) {
    for (int i = 0; i < rows.size(); i++) {
      if (rows.get(i).id().equals(eventId)) {
        return List.copyOf(rows.subList(i + 1, Math.min(rows.size(), i + 1 + limit)));
      }
    }
    return List.of();
  }

  @Override
  public synchronized Optional<SignedCheckpoint> latestCheckpoint(String nodeId) {
    return checkpoints.stream().filter(c -> c.chainId().startsWith(nodeId + ":"))
        .max(Comparator.comparing(SignedCheckpoint::time));
  }

  private volatile Durability durability = Durability.PROCESS;

  /** What the store claims to give (the audit log fsyncs its journal and waits for commits in MACHINE). */
  public InMemoryAuditStore withDurability(Durability value) {
    durability = value;
    return this;
  }

  @Override
  public Durability durability() {
    return durability;
  }

  @Override
  public void close() {}

  /** Tampering with the rows, as someone with write access to a store would. */
  public StoreTamper tamper() {
    InMemoryAuditStore s = this;
    return new StoreTamper() {
      @Override
      public void setCommandText(String chainId, long seq, String text) {
        synchronized (s) {
          int i = index(chainId, seq);
          rows.set(i, ChainBuilder.withText(rows.get(i), text));
        }
      }

      @Override
      public void deleteEvent(String chainId, long seq) {
        synchronized (s) {
          rows.remove(index(chainId, seq));
        }
      }

      @Override
      public void swapSeq(String chainId, long a, long b) {
        synchronized (s) {
          int ia = index(chainId, a);
          int ib = index(chainId, b);
          AuditEvent ea = rows.get(ia);
          AuditEvent eb = rows.get(ib);
          rows.set(ia, ea.at(ea.chainId(), b));
          rows.set(ib, eb.at(eb.chainId(), a));
        }
      }

      @Override
      public void deleteEventsFrom(String chainId, long seq) {
        synchronized (s) {
          rows.removeIf(e -> e.chainId().equals(chainId) && e.seq() >= seq);
        }
      }

      @Override
      public void deleteCheckpointsFrom(String chainId, long seq) {
        synchronized (s) {
          checkpoints.removeIf(c -> c.chainId().equals(chainId) && c.seq() >= seq);
        }
      }

      @Override
      public void replaceEvent(AuditEvent event) {
        synchronized (s) {
          rows.set(index(event.chainId(), event.seq()), event);
        }
      }

      @Override
      public void replaceCheckpoint(SignedCheckpoint checkpoint) {
        synchronized (s) {
          for (int i = 0; i < checkpoints.size(); i++) {
            SignedCheckpoint c = checkpoints.get(i);
            if (c.chainId().equals(checkpoint.chainId()) && c.seq() == checkpoint.seq()) {
              checkpoints.set(i, checkpoint);
              return;
            }
          }
          throw new IllegalArgumentException("no checkpoint at " + checkpoint.seq());
        }
      }

      private int index(String chainId, long seq) {
        for (int i = 0; i < rows.size(); i++) {
          if (rows.get(i).chainId().equals(chainId) && rows.get(i).seq() == seq) return i;
        }
        throw new IllegalArgumentException("no event " + chainId + ":" + seq);
      }
    };
  }
}
