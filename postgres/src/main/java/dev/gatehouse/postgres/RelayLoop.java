package dev.gatehouse.postgres;

import dev.gatehouse.core.Blocking;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.CancelledKeyException;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * The event loop that relays plaintext sessions: a few {@link Group}s, each one {@link Selector}
 * that all channels of its sessions are registered with, for reading. One thread of a group, its
 * leader, waits in the selector and runs the handler of each channel that has bytes, on its own
 * stack: reading what arrived, deciding, auditing and writing the other side happen without a
 * thread switch, and one wake-up serves every session that became ready at once. A thread that
 * sleeps and wakes for every statement of every session (two per session, one per direction) is
 * what this replaces; on a machine with few cores those switches cost more than the relay itself
 * (bench/README.md, session 5).
 *
 * <p>A handler may have to wait: for room in the expectation queue, for the shape of a result it
 * masks, for a journal sync, for a slow client to take bytes, for the rest of a large message.
 * Code about to wait calls {@link Blocking#aboutToBlock()}; on a loop thread that hands the
 * selector to another thread of the group (a spare, or a new one) before the wait starts (the
 * leader/follower pattern), so one waiting session never stalls the others. The waiting thread
 * finishes its handler and becomes a spare. A watchdog hands the selector on as well when a
 * leader has been busy with one batch for longer than {@link #STALL} (a wait nobody announced),
 * so a missed announcement costs latency, never a stalled loop.
 *
 * <p>A channel's handler never runs on two threads at once ({@link Pump}); its other direction
 * has its own handler and may run meanwhile, as it would on its own thread.
 *
 * <p>Of the channels that are ready at once, the handlers of those registered as {@code first}
 * run before the others: the sessions' client sides, whose statements give the targets work. A
 * target answering a statement is most of the machine's time per statement; started first, it
 * runs on another core while the leader relays the rest of the batch, where a target whose
 * statement waited behind the answers to other clients would leave that core idle. In pgbench's
 * prepared mode at 16 clients on 2 cores this was worth up to 8% of throughput while the cores
 * were short of work, and nothing while they were not; running the target sides first cost 8%
 * (bench/README.md, session 14).
 *
 * <p>Thread-safe.
 */
final class RelayLoop implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(RelayLoop.class);
  /** A leader busy with one batch for longer than this is taken to be waiting. */
  static final long STALL = TimeUnit.MILLISECONDS.toNanos(50);
  /**
   * Reads a handler makes in one run at most, so a session that streams (a large result, a long
   * pipeline) takes turns with the others instead of keeping the loop; the selector brings it back
   * while its socket has bytes.
   */
  static final int READS_PER_RUN = 4;
  private static final long STALL_LOG_INTERVAL = TimeUnit.MINUTES.toNanos(1);
  /**
   * Threads kept waiting to lead, per group, after a wait ended; more end. Enough for every session
   * of a busy loop to wait at once (durability: machine waits for each statement) without a thread
   * started per wait; a parked thread costs a stack, no heap.
   */
  private static final int MAX_SPARES = 32;

  private final Group[] groups;
  private final AtomicInteger next = new AtomicInteger();
  /** Hand-overs the watchdog made: waits nobody announced. */
  private final AtomicLong stalls = new AtomicLong();
  private final Thread watchdog;
  private final long stall;
  private volatile boolean closed;

  /**
   * @param name names the threads
   * @param groups selectors, each led by one thread at a time (the number of cores is a good start)
   */
  RelayLoop(String name, int groups) {
    this(name, groups, STALL);
  }

  /** As above, with another time after which a busy leader counts as waiting (tests). */
  RelayLoop(String name, int groups, long stallNanos) {
    if (groups < 1) throw new IllegalArgumentException("groups < 1");
    this.stall = stallNanos;
    this.groups = new Group[groups];
    try {
      for (int i = 0; i < groups; i++) this.groups[i] = new Group(name + "-" + i);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open a selector", e);
    }
    for (Group g : this.groups) g.startThread();
    watchdog = Thread.ofPlatform().daemon().name(name + "-watchdog").start(this::watch);
  }

  /** The group a new session's channels go to (both of a session's to the same one). */
  Group group() {
    return groups[Math.floorMod(next.getAndIncrement(), groups.length)];
  }

  /** How often a handler waited without announcing it, so that the watchdog handed its loop on. */
  long stalls() {
    return stalls.get();
  }

  @Override
  public void close() {
    closed = true;
    LockSupport.unpark(watchdog);
    for (Group g : groups) g.close();
  }

  private void watch() {
    long[] seen = new long[groups.length];
    while (!closed) {
      LockSupport.parkNanos(Math.min(stall / 2, STALL));
      for (int i = 0; i < groups.length; i++) seen[i] = groups[i].checkStall(seen[i]);
    }
  }

  /** The handler of one channel: reads what it has, handles it, returns when it would wait. */
  interface Handler {
    /** @return false when the channel is done: its handler never runs again */
    boolean ready();

    /**
     * Whether the handler has input it did not take although its channel has no byte for it (TLS
     * holding decrypted plaintext): it then runs again soon, as the selector would not wake it.
     * Asked after a run that returned true, on the same thread.
     */
    default boolean pending() {
      return false;
    }
  }

  /** One selector, the sessions registered with it, and the threads that take turns leading it. */
  final class Group {
    private final String name;
    private final Selector selector;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition leaderWanted = lock.newCondition();
    private final ConcurrentLinkedQueue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    // Guarded by lock.
    private LoopThread leader;
    private int spares;
    private int threads;
    /** When the leader's current batch started (0 while it waits in the selector); guarded by lock when set to 0. */
    private volatile long busySince;
    /** When the watchdog last logged a stall of this group (guarded by lock). */
    private long lastStallLog = System.nanoTime() - STALL_LOG_INTERVAL;
    /** Counts the leader's batches, so the watchdog tells a long batch from many short ones. */
    private volatile long turn;

    private Group(String name) throws IOException {
      this.name = name;
      this.selector = Selector.open();
    }

    /**
     * Registers {@code channel} (non-blocking) for reading; {@code handler} runs once at once (for
     * bytes read ahead before the registration) and then each time the channel has bytes.
     */
    Pump register(SocketChannel channel, Handler handler) {
      return register(channel, handler, false);
    }

    /**
     * As {@link #register(SocketChannel, Handler)}; with {@code first}, the handler runs before
     * those of channels registered without it when both are ready at once (a client's side).
     */
    Pump register(SocketChannel channel, Handler handler, boolean first) {
      Pump pump = new Pump(this, handler, first);
      execute(() -> {
        try {
          pump.key = channel.register(selector, SelectionKey.OP_READ, pump);
        } catch (IOException | CancelledKeyException e) {
          // closed already: the handler's read finds out and ends the session
        }
        pump.dispatch();
      });
      return pump;
    }

    /** Runs {@code task} on the group's leader, before it next waits in the selector. */
    void execute(Runnable task) {
      tasks.add(task);
      if (Thread.currentThread() != leaderThread()) selector.wakeup();
    }

    private LoopThread leaderThread() {
      lock.lock();
      try {
        return leader;
      } finally {
        lock.unlock();
      }
    }

    private void startThread() {
      lock.lock();
      try {
        threads++;
        new LoopThread(this, name + "-t" + threads).start();
      } finally {
        lock.unlock();
      }
    }

    /** Makes {@code t} the leader when there is none; else it waits as a spare. False: {@code t} ends. */
    private boolean lead(LoopThread t) {
      lock.lock();
      try {
        while (true) {
          if (closed) return false;
          if (leader == null) {
            leader = t;
            t.leading = true;
            return true;
          }
          if (spares >= MAX_SPARES) {
            threads--;
            return false;
          }
          spares++;
          leaderWanted.awaitUninterruptibly();
          spares--;
        }
      } finally {
        lock.unlock();
      }
    }

    /** {@code t} is about to wait: another thread leads from now on. */
    void handOff(LoopThread t) {
      lock.lock();
      try {
        if (leader == t) handOffLocked(t);
      } finally {
        lock.unlock();
      }
      selector.wakeup(); // a task queued for the old leader must not wait for the next event
    }

    /** The leader's loop: tasks, then the selector, then the handlers of the ready channels. */
    private void serve(LoopThread t) {
      List<SelectionKey> firsts = new ArrayList<>();
      List<SelectionKey> rest = new ArrayList<>();
      Consumer<SelectionKey> collect = k -> (k.attachment() instanceof Pump p && p.first ? firsts : rest).add(k);
      while (true) {
        Runnable task;
        // Only the tasks queued so far: a handler that runs again at once (Handler#pending) queues
        // itself anew, and must take turns with the channels the selector finds ready.
        for (int n = tasks.isEmpty() ? 0 : tasks.size(); n > 0 && t.leading && (task = tasks.poll()) != null; n--) {
          // A task is a batch of its own for the watchdog: a registration runs the channel's
          // handler once, which may wait unannounced as any run may.
          turn++;
          busySince = System.nanoTime();
          runSafely(task);
          forgetSession(t);
        }
        lock.lock();
        try {
          if (!t.leading) return;
          busySince = 0;
        } finally {
          lock.unlock();
        }
        try {
          // The ready keys are only collected here: a handler run inside select() would keep the
          // selector locked against the next leader if it handed the loop on.
          if (tasks.isEmpty()) selector.select(collect);
          else selector.selectNow(collect);
        } catch (IOException e) {
          log.warn("selector of {} failed: {}", name, e.toString());
        } catch (ClosedSelectorException e) {
          return;
        }
        if (!t.leading) {
          // Handed on while selecting (the watchdog): the channels are still ready for the leader.
          firsts.clear();
          rest.clear();
          return;
        }
        turn++;
        busySince = System.nanoTime();
        // A handed-on leader stops; the channels it left are still ready for the next (level-triggered).
        if (dispatch(firsts, t)) dispatch(rest, t);
        firsts.clear();
        rest.clear();
        forgetSession(t);
      }
    }

    /** Runs the handlers of {@code keys} while {@code t} leads; false when it stopped leading. */
    private static boolean dispatch(List<SelectionKey> keys, LoopThread t) {
      for (int i = 0, n = keys.size(); i < n; i++) {
        if (!t.leading) return false;
        if (keys.get(i).attachment() instanceof Pump pump) pump.dispatch();
      }
      return t.leading;
    }

    private void runSafely(Runnable task) {
      try {
        task.run();
      } catch (RuntimeException e) {
        log.error("internal error in a task of the relay loop", e);
      }
    }

    /** Watchdog: hands the selector on when the leader has run one batch for longer than {@link #STALL}. */
    private long checkStall(long seenTurn) {
      long since = busySince;
      long now = turn;
      if (since == 0 || now != seenTurn || System.nanoTime() - since < stall) return now;
      lock.lock();
      try {
        LoopThread stuck = leader;
        if (stuck != null && busySince != 0 && turn == now) {
          long total = stalls.incrementAndGet();
          long nowNanos = System.nanoTime();
          if (nowNanos - lastStallLog >= STALL_LOG_INTERVAL && log.isInfoEnabled()) {
            // At most one line a minute: a loaded machine can make every long batch look like a wait.
            lastStallLog = nowNanos;
            log.info("relay loop {}: a handler ran for more than {} ms without saying it waits; another thread leads"
                + " ({} times since the gateway started). It was at: {}",
                name, TimeUnit.NANOSECONDS.toMillis(stall), total, where(stuck));
          }
          handOffLocked(stuck);
        }
      } finally {
        lock.unlock();
      }
      return now;
    }

    /** The top of a thread's stack, for the log line of a stall. */
    private static String where(Thread t) {
      StringBuilder b = new StringBuilder();
      StackTraceElement[] stack = t.getStackTrace();
      for (int i = 0; i < Math.min(12, stack.length); i++) b.append(i == 0 ? "" : " < ").append(stack[i]);
      return b.toString();
    }

    private void handOffLocked(LoopThread t) {
      t.leading = false;
      leader = null;
      busySince = 0;
      if (spares > 0) {
        leaderWanted.signal();
      } else {
        threads++;
        new LoopThread(this, name + "-t" + threads).start();
      }
    }

    private void close() {
      lock.lock();
      try {
        leaderWanted.signalAll();
      } finally {
        lock.unlock();
      }
      try {
        selector.wakeup();
        selector.close();
      } catch (IOException e) {
        // closing is all we wanted
      }
    }
  }

  /**
   * A thread of a group: leads it, or waits to, or finishes a handler that had to wait. Hears
   * {@link Blocking#aboutToBlock()} and hands the selector on.
   */
  static final class LoopThread extends Thread implements Blocking.Aware {
    private final Group group;
    /** Whether this thread leads its group; set under the group's lock, read by this thread. */
    volatile boolean leading;
    /** The session id this thread's logging context (MDC) holds, or null ({@link #logSession}); this thread only. */
    private String logged;
    private Selector waitSelector;

    LoopThread(Group group, String name) {
      super(null, null, name, 0, false);
      setDaemon(true);
      this.group = group;
    }

    @Override
    public void run() {
      try {
        while (group.lead(this)) {
          forgetSession(this); // a handler that had to wait ran on here while another thread led
          group.serve(this);
        }
      } finally {
        if (waitSelector != null) {
          try {
            waitSelector.close();
          } catch (IOException e) {
            // nothing to release beyond it
          }
        }
      }
    }

    @Override
    public void aboutToBlock() {
      if (leading) group.handOff(this);
    }

    /** This thread's own selector, for waiting on one channel after handing its group on. */
    Selector waitSelector() throws IOException {
      if (waitSelector == null) waitSelector = Selector.open();
      return waitSelector;
    }
  }

  /**
   * Puts the session id into the logging context (MDC) of the current thread for a handler run.
   * A loop thread keeps it after the run, until a run of another session or the end of its batch
   * ({@link #forgetSession}): consecutive runs of one session's handlers put it once, and no run
   * removes it (two map operations on a thread-local map per run were 1% of the loop threads' time).
   *
   * @return true when the current thread is a loop thread, which keeps the id; false when the
   *     caller must remove it after the run
   */
  static boolean logSession(String id) {
    if (Thread.currentThread() instanceof LoopThread t) {
      if (t.logged != id) {
        MDC.put("session", id);
        t.logged = id;
      }
      return true;
    }
    MDC.put("session", id);
    return false;
  }

  /** Takes the session id out of a loop thread's logging context: what it runs next belongs to no session. */
  private static void forgetSession(LoopThread t) {
    if (t.logged != null) {
      MDC.remove("session");
      t.logged = null;
    }
  }

  /**
   * One registered channel and its handler, which runs on one thread at a time: when the channel
   * is ready while its handler still runs on a thread that had to wait, the channel is muted and
   * the handler runs once more when that thread is done.
   */
  static final class Pump {
    private static final int IDLE = 0;
    private static final int BUSY = 1;
    private static final int MISSED = 2;

    private final Group group;
    private final Handler handler;
    /** Whether its handler runs before the others of a batch ({@link Group#register(SocketChannel, Handler, boolean)}). */
    private final boolean first;
    private final AtomicInteger state = new AtomicInteger();
    /** Set by the leader at registration; read by the leader only. */
    private SelectionKey key;
    private volatile boolean cancelled;

    private Pump(Group group, Handler handler, boolean first) {
      this.group = group;
      this.handler = handler;
      this.first = first;
    }

    /** Runs the handler soon, whether or not the channel has bytes (the session ended, say). */
    void poke() {
      if (!cancelled) group.execute(this::dispatch);
    }

    /** No more handler runs; the channel is left open (its owner closes it). */
    void cancel() {
      cancelled = true;
      group.execute(() -> {
        if (key != null) key.cancel();
      });
    }

    /** On the leader: runs the handler, or notes that it must run again when its current run ends. */
    private void dispatch() {
      while (true) {
        if (cancelled) return;
        int s = state.get();
        if (s == IDLE) {
          if (state.compareAndSet(IDLE, BUSY)) break;
        } else if (s == BUSY) {
          interest(0); // level-triggered: a ready channel whose handler is busy would spin the leader
          if (state.compareAndSet(BUSY, MISSED)) return;
        } else {
          return;
        }
      }
      try {
        interest(SelectionKey.OP_READ);
        if (!handler.ready()) cancel();
        else if (handler.pending()) group.execute(this::dispatch);
      } catch (RuntimeException e) {
        log.error("internal error in a relay handler", e);
      } finally {
        if (state.getAndSet(IDLE) == MISSED) group.execute(this::dispatch);
      }
    }

    private void interest(int ops) {
      SelectionKey k = key;
      if (k == null || !k.isValid()) return;
      try {
        if (k.interestOps() != ops) k.interestOps(ops);
      } catch (CancelledKeyException e) {
        // the channel closed: the handler finds out
      }
    }
  }
}
