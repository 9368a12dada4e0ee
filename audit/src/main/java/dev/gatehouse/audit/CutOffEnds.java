package dev.gatehouse.audit;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;

/**
 * The ends that a gateway killed or crashed could not record, recorded by the node's next start in
 * its new chain (review round 44, F5: an auditor found sessions with no {@link
 * EventType#SESSION_CLOSED} and forwarded statements with no {@link EventType#COMMAND_COMPLETED},
 * and could not tell them from ones still running).
 *
 * <p>For a chain that ended without {@link EventType#CHAIN_CLOSED}, reads its stored events (after
 * recovery the store holds all of them, up to the journal's last) and finds the sessions opened and
 * not closed, and the allowed {@link EventType#COMMAND_DECIDED} events with no outcome. For each
 * session it makes a {@code SESSION_CLOSED} event, and for each such statement a {@code
 * COMMAND_COMPLETED} event with status {@code UNKNOWN} (forwarded, so it may have taken effect; the
 * target rolled back what was uncommitted when the connection dropped), both with the session's
 * parts copied from the event they close, a {@code ref} to it, and a {@code reason} saying what
 * happened. A statement whose outcome was counted lost ({@link EventType#EVENTS_LOST}) is among them
 * too: its outcome is as unknown.
 *
 * <p>What the stored chain says is taken as it is: the events are not verified here (that is {@code
 * gatehouse audit verify}'s task, which reports any tampering with them). Events stored after the
 * journal's last one are someone else's additions and are passed over.
 */
final class CutOffEnds {
  /** Why a cut-off session ended. */
  static final String SESSION_REASON = "the gateway stopped without closing the session, killed or crashed";
  /** What a cut-off statement's outcome says. */
  static final String COMMAND_REASON = "forwarded, and no outcome was recorded before the gateway stopped, killed or crashed:"
      + " it may have taken effect";

  /** How the reason of every event made here ends. */
  static final String RECORDED_BY = "; recorded by the node's next start)";

  private CutOffEnds() {}

  /**
   * The chains of the same node that started after {@code chainId}, each naming the one before it as
   * its predecessor ({@link ChainAttributes#PREVIOUS_CHAIN}), in the store.
   */
  private static List<String> followers(AuditStore store, String chainId) {
    String node = chainId.substring(0, chainId.lastIndexOf(':') + 1);
    Map<String, List<String>> next = new java.util.HashMap<>(); // predecessor -> the chains naming it
    for (String id : store.chainIds()) {
      if (!id.startsWith(node) || id.equals(chainId)) continue;
      store.find(AuditEvent.id(id, 1)).filter(e -> e.body().type() == EventType.CHAIN_STARTED)
          .map(e -> e.body().attributes().get(ChainAttributes.PREVIOUS_CHAIN))
          .ifPresent(p -> next.computeIfAbsent(p, k -> new ArrayList<>()).add(id));
    }
    List<String> out = new ArrayList<>();
    java.util.ArrayDeque<String> todo = new java.util.ArrayDeque<>(next.getOrDefault(chainId, List.of()));
    while (!todo.isEmpty()) {
      String c = todo.poll();
      if (out.contains(c)) continue;
      out.add(c);
      todo.addAll(next.getOrDefault(c, List.of()));
    }
    return out;
  }

  /**
   * The events that end what {@code cut} left open, timed {@code now}; empty when {@code stopping}
   * turned true before the chain was read to its end.
   */
  static Optional<List<EventBody>> of(AuditStore store, ChainWriter.CutOff cut, Instant now, BooleanSupplier stopping) {
    Map<String, AuditEvent> sessions = new LinkedHashMap<>();
    Map<String, AuditEvent> commands = new LinkedHashMap<>();
    long lastSeq = cut.last().seq();
    try (Stream<AuditEvent> events = store.events(cut.chainId())) {
      var it = events.iterator();
      while (it.hasNext()) {
        if (stopping.getAsBoolean()) return Optional.empty();
        AuditEvent e = it.next();
        if (e.seq() > lastSeq) break;
        EventBody b = e.body();
        switch (b.type()) {
          case SESSION_OPENED -> b.sessionId().ifPresent(id -> sessions.put(id, e));
          case SESSION_CLOSED -> b.sessionId().ifPresent(sessions::remove);
          case COMMAND_DECIDED -> {
            if (b.decision().map(d -> d.effect() == EventBody.Ruling.Effect.ALLOW).orElse(false)) commands.put(e.id(), e);
          }
          case COMMAND_COMPLETED -> b.ref().ifPresent(commands::remove);
          default -> {}
        }
      }
    }
    // What a later start recorded already, when it was itself cut off before it was done (review
    // round 46: the ends were lost for good): its chain follows this one on the node.
    java.util.Set<String> ended = new java.util.HashSet<>();
    for (String follower : followers(store, cut.chainId())) {
      if (stopping.getAsBoolean()) return Optional.empty();
      try (Stream<AuditEvent> events = store.events(follower)) {
        var it = events.iterator();
        while (it.hasNext()) {
          EventBody b = it.next().body();
          if (b.attributes().getOrDefault("reason", "").endsWith(RECORDED_BY)) b.ref().ifPresent(ended::add);
        }
      }
    }
    String where = " (chain " + cut.chainId() + " ends at seq " + lastSeq + ", " + cut.last().body().time()
        + RECORDED_BY;
    List<EventBody> ends = new ArrayList<>(commands.size() + sessions.size());
    // Outcomes first, as a session's own close follows its statements'.
    for (AuditEvent d : commands.values()) {
      if (ended.contains(d.id())) continue;
      EventBody b = d.body();
      long ranMillis = Math.max(0, Duration.between(b.time(), cut.last().body().time()).toMillis());
      ends.add(new EventBody(EventType.COMMAND_COMPLETED, now, b.sessionId(), b.principal(), b.resource(), b.client(),
          Optional.empty(), Optional.empty(), Optional.of(new EventBody.Result("UNKNOWN", -1, Optional.empty(), ranMillis)),
          Optional.of(d.id()), Map.of("reason", COMMAND_REASON + where)));
    }
    for (AuditEvent o : sessions.values()) {
      if (ended.contains(o.id())) continue;
      EventBody b = o.body();
      ends.add(new EventBody(EventType.SESSION_CLOSED, now, b.sessionId(), b.principal(), b.resource(), b.client(),
          Optional.empty(), Optional.empty(), Optional.empty(), Optional.of(o.id()), Map.of("reason", SESSION_REASON + where)));
    }
    return Optional.of(ends);
  }
}
