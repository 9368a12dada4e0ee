package dev.gatehouse.audit;

import java.security.PublicKey;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Checks every chain in an {@link AuditStore} and names the first broken link of each.
 *
 * <p>Per chain, in seq order: seq numbers run 1, 2, 3 … without gap or repeat (a deleted, duplicated
 * or moved row breaks this); each event carries its predecessor's hash (a deleted, inserted or
 * reordered row breaks this); each event's hash matches its contents (an edited row breaks this);
 * each checkpoint carries a valid Ed25519 signature by a trusted key, and matches the event at its
 * seq (a chain recomputed after an edit by someone without the key breaks this); the chain reaches
 * its last signed checkpoint (a cut tail breaks this); no more events follow the last checkpoint
 * than the writer's policy, recorded in the chain's first event, allows (deleted checkpoints break
 * this); nothing follows a clean close. Across chains: a chain's start names its node's previous
 * chain and an event of it, which must still be there with the hash named; when the start says that
 * event was the previous chain's last (every start since red-team round 18b, which signs a crashed
 * chain's tail first), nothing may follow it.
 *
 * <p>What cannot be detected, and how large the window is: the events after a chain's last signed
 * checkpoint are consistent but unproven, so someone with write access to the store can remove or
 * rewrite them undetected. A cleanly shut down chain has no such window. A chain whose writer
 * crashed (or is running) has at most {@code checkpointEvents - 1} such events (default 255), and
 * while the writer runs none of them is older than {@code checkpointInterval} (default 1 s). Such
 * chains are reported as {@link ChainReport.Status#UNANCHORED_TAIL}, not as broken; the node's next
 * start signs a crashed chain's tail. Every chain's first event names its node's previous chain and
 * that chain's last event, so deleting, rewriting or extending an older chain is caught as long as
 * a newer chain of the same node survives. Deleting a node's newest events together with their
 * checkpoints (or its newest chains entirely) is not detected from the store alone: the checkpoints
 * the writer also keeps outside the store ({@link Witness}: a log line each, and the node's local
 * witness file) are the evidence for that, and {@link #withWitnesses} checks them. A new chain's
 * start names the local witness rather than the store's newest checkpoint when the store no longer
 * holds it, so a restart on a cut store does not make the cut look whole.
 *
 * <p>Reads the store with streaming; memory grows with the number of checkpoints, not events.
 * Thread-safe if the store is.
 */
public final class AuditVerifier {
  private final AuditStore store;
  private final Map<String, PublicKey> trusted = new HashMap<>();
  private final List<Witness> witnesses;
  private final List<JournalEnd> journalEnds;

  /** @param trustedKeys the public keys whose checkpoints are accepted (several during key rotation) */
  public AuditVerifier(AuditStore store, Collection<PublicKey> trustedKeys) {
    this(store, trustedKeys, List.of(), List.of());
  }

  private AuditVerifier(AuditStore store, Collection<PublicKey> trustedKeys, List<Witness> witnesses, List<JournalEnd> journalEnds) {
    this.store = Objects.requireNonNull(store, "store == null");
    if (trustedKeys.isEmpty()) throw new IllegalArgumentException("no trusted public key: nothing could be verified");
    for (PublicKey k : trustedKeys) trusted.put(AuditSigner.keyId(k), k);
    this.witnesses = List.copyOf(witnesses);
    this.journalEnds = List.copyOf(journalEnds);
  }

  /**
   * A verifier that also holds the chains to checkpoints kept outside the store ({@link Witness}:
   * the gateway's log lines, the node's local witness file). Each must carry a valid signature by a
   * trusted key, else it is reported as rejected ({@link VerificationReport#rejectedWitnesses()})
   * and vouches for nothing; each valid one must be matched by the store's chain: the chain must
   * reach its seq (else {@link ChainReport.Kind#TRUNCATED}) with its hash there (else {@link
   * ChainReport.Kind#CHECKPOINT_MISMATCH}), so deleting a chain's newest events with their
   * checkpoints, or a whole chain, is caught. Read witnesses before the store: a running writer
   * logs a checkpoint only once the store holds it.
   */
  public AuditVerifier withWitnesses(Collection<Witness> checkpoints) {
    List<Witness> all = new ArrayList<>(witnesses);
    all.addAll(checkpoints);
    return new AuditVerifier(store, trusted.values(), all, journalEnds);
  }

  /**
   * A verifier that also holds the chains to the last events stopped gateways' journals hold ({@link
   * AuditLog#recoverJournalsForReading}): unsigned, but acknowledged by their writer and read outside
   * the store. The store's chain must reach each (else {@link ChainReport.Kind#TRUNCATED}) with its
   * hash there (else {@link ChainReport.Kind#CHECKPOINT_MISMATCH}), so a tail forged with recomputed
   * hashes while the gateway is stopped is caught before its next start signs the journal's end.
   */
  public AuditVerifier withJournalEnds(Collection<JournalEnd> ends) {
    List<JournalEnd> all = new ArrayList<>(journalEnds);
    all.addAll(ends);
    return new AuditVerifier(store, trusted.values(), witnesses, all);
  }

  /** Verifies every chain the store (or a valid witness) knows, and every witness. */
  public VerificationReport verify() {
    List<VerificationReport.RejectedWitness> rejected = new ArrayList<>();
    List<Witness> valid = new ArrayList<>();
    for (Witness w : witnesses) {
      Optional<String> why = rejection(w.checkpoint());
      if (why.isPresent()) {
        rejected.add(new VerificationReport.RejectedWitness(w.source(), w.checkpoint().chainId(), w.checkpoint().seq(), why.get()));
      } else {
        valid.add(w);
      }
    }
    java.util.TreeSet<String> ids = new java.util.TreeSet<>(store.chainIds());
    valid.forEach(w -> ids.add(w.checkpoint().chainId()));
    Map<String, Walk> walks = new TreeMap<>();
    for (String id : ids) walks.put(id, walk(id, valid));
    // A chain's start vouches for its predecessor on the same node: its last event (signed at that
    // start if it was not), or, after a store lost it, the checkpoint the local witness kept.
    for (Walk w : List.copyOf(walks.values())) {
      if (!w.mayVouch()) continue;
      Walk prev = walks.get(w.previousChain);
      if (prev == null) {
        prev = new Walk(w.previousChain);
        prev.problem(1, ChainReport.Kind.TRUNCATED, "chain " + w.chainId + " names this chain as its predecessor with "
            + w.previousSeq + " events, but the store holds none of it: it was deleted entirely");
        walks.put(w.previousChain, prev);
        continue;
      }
      prev.vouched("chain " + w.chainId, w.previousSeq, w.previousHash, w.previousLast, store);
    }
    for (JournalEnd end : journalEnds) {
      Walk w = walks.get(end.chainId());
      if (w == null) {
        w = new Walk(end.chainId());
        w.problem(1, ChainReport.Kind.TRUNCATED, "the journal in " + end.source() + " holds events up to seq " + end.seq()
            + " of this chain, but the store holds none of it: it was deleted entirely");
        walks.put(end.chainId(), w);
        continue;
      }
      // The journal's last event is its chain's last: what the store holds after it was added later.
      w.vouched("the journal in " + end.source(), end.seq(), end.hash(), true, store);
    }
    // Oldest chain first (a node's starts in the order they happened), chains without a start last, by id.
    return new VerificationReport(walks.values().stream()
        .sorted(java.util.Comparator.comparing((Walk w) -> w.started, java.util.Comparator.nullsLast(java.util.Comparator.naturalOrder())))
        .map(Walk::report).toList(), rejected);
  }

  /** Verifies one chain (without the cross-chain checks; witnesses that do not verify are passed over). */
  public ChainReport verify(String chainId) {
    return walk(chainId, witnesses.stream().filter(w -> rejection(w.checkpoint()).isEmpty()).toList()).report();
  }

  /** Why a checkpoint proves nothing, if it does not. */
  private Optional<String> rejection(SignedCheckpoint c) {
    PublicKey key = trusted.get(c.keyId());
    if (key == null) {
      return Optional.of("the checkpoint of chain " + c.chainId() + " at seq " + c.seq() + " is signed by key " + c.keyId()
          + ", which is not trusted");
    }
    if (!c.verifiedBy(key)) {
      return Optional.of("the checkpoint of chain " + c.chainId() + " at seq " + c.seq()
          + " does not carry a valid signature: it was forged or altered");
    }
    return Optional.empty();
  }

  private Walk walk(String chainId, List<Witness> valid) {
    Walk w = new Walk(chainId);
    List<SignedCheckpoint> checkpoints = new ArrayList<>();
    try {
      checkpoints.addAll(store.checkpoints(chainId));
    } catch (AuditException e) {
      if (e.unreadableSeq().isEmpty()) throw e;
      // A checkpoint row altered beyond reading vouches for nothing; the chain is judged without any.
      w.problem(e.unreadableSeq().getAsLong(), ChainReport.Kind.BAD_SIGNATURE, e.getMessage());
    }
    for (SignedCheckpoint c : checkpoints) w.checkpoint(c);
    for (Witness c : valid) {
      if (c.checkpoint().chainId().equals(chainId)) w.witness(c);
    }
    try (Stream<AuditEvent> events = store.events(chainId)) {
      events.forEachOrdered(w::event);
    } catch (AuditException e) {
      if (e.unreadableSeq().isEmpty()) throw e;
      long seq = e.unreadableSeq().getAsLong();
      w.rows++;
      w.lastSeq = Math.max(w.lastSeq, seq);
      w.eventProblem(seq, ChainReport.Kind.EDITED, e.getMessage());
    }
    w.finish();
    return w;
  }

  /** The state of one chain's walk; first problem by seq wins. */
  private final class Walk {
    final String chainId;
    final TreeMap<Long, SignedCheckpoint> valid = new TreeMap<>();
    /** Where the valid checkpoints that came from outside the store (and not from it) were found, by seq. */
    final Map<Long, String> witnessed = new HashMap<>();
    ChainReport.Break first;
    long rows;
    long expected = 1;
    String prev = AuditEvent.GENESIS;
    long lastSeq;
    long anchored;
    boolean closed;
    boolean eventsBroken;
    int checkpointEvents;
    String previousChain;
    long previousSeq;
    String previousHash;
    /** Whether the chain's start names its predecessor's last event ({@link ChainAttributes#PREVIOUS_LAST}). */
    boolean previousLast;
    boolean startAnchoredPending;
    /** When the chain started (its first event's time), if its first event is there: the order chains are reported in. */
    java.time.Instant started;

    Walk(String chainId) {
      this.chainId = chainId;
    }

    void checkpoint(SignedCheckpoint c) {
      Optional<String> rejected = rejection(c);
      if (rejected.isPresent()) {
        problem(c.seq(), ChainReport.Kind.BAD_SIGNATURE, rejected.get());
      } else {
        SignedCheckpoint same = valid.putIfAbsent(c.seq(), c);
        if (same != null && !same.hash().equals(c.hash())) {
          problem(c.seq(), ChainReport.Kind.BAD_SIGNATURE, "two validly signed checkpoints disagree about seq " + c.seq());
        }
      }
    }

    /** A checkpoint found outside the store, already verified: a store checkpoint at the same seq goes first. */
    void witness(Witness c) {
      SignedCheckpoint same = valid.putIfAbsent(c.checkpoint().seq(), c.checkpoint());
      if (same == null) {
        witnessed.put(c.checkpoint().seq(), c.source());
      } else if (!same.hash().equals(c.checkpoint().hash())) {
        problem(c.checkpoint().seq(), ChainReport.Kind.BAD_SIGNATURE, "two validly signed checkpoints disagree about seq "
            + c.checkpoint().seq() + " (the store's and the one witnessed in " + c.source() + ")");
      }
    }

    /** How to name the checkpoint at {@code seq} for people. */
    private String named(long seq) {
      String source = witnessed.get(seq);
      return "a checkpoint signed at " + valid.get(seq).time() + (source == null ? "" : " (witnessed in " + source
          + "; the store no longer holds it)");
    }

    void event(AuditEvent e) {
      rows++;
      if (eventsBroken) {
        lastSeq = Math.max(lastSeq, e.seq());
        return;
      }
      long s = e.seq();
      if (closed) {
        eventProblem(s, ChainReport.Kind.AFTER_CLOSE, "event " + s + " follows the event that closed the chain");
      } else if (s < expected) {
        eventProblem(s, ChainReport.Kind.OUT_OF_ORDER, "seq " + s + " appears after seq " + (expected - 1)
            + ": rows were duplicated or reordered");
      } else if (s > expected) {
        eventProblem(expected, ChainReport.Kind.MISSING, s == expected + 1
            ? "event " + expected + " is missing: it was deleted"
            : "events " + expected + ".." + (s - 1) + " are missing: they were deleted");
      } else if (!e.prevHash().equals(prev)) {
        eventProblem(s, ChainReport.Kind.LINK_BROKEN, "event " + s + " does not carry the hash of event " + (s - 1)
            + ": an event before it was removed, inserted or moved");
      } else if (!e.hashMatches()) {
        eventProblem(s, ChainReport.Kind.EDITED, "event " + s + " (" + e.type() + ") does not match its hash: it was edited");
      } else {
        SignedCheckpoint c = valid.get(s);
        if (c != null && !c.hash().equals(e.hash())) {
          eventProblem(s, ChainReport.Kind.CHECKPOINT_MISMATCH, (witnessed.containsKey(s) ? named(s) : "the signed checkpoint")
              + " at seq " + s + " does not match the event there: the chain was altered in events " + (anchored + 1) + ".." + s
              + " and its hashes recomputed");
        } else {
          if (c != null) anchored = s;
          if (s == 1 && e.type() == EventType.CHAIN_STARTED) {
            readPolicy(e.body().attributes());
            started = e.body().time();
          }
          if (e.type() == EventType.CHAIN_CLOSED) closed = true;
        }
      }
      if (!eventsBroken) {
        prev = e.hash();
        expected = s + 1;
      }
      lastSeq = Math.max(lastSeq, s);
    }

    void finish() {
      // These checks infer a break from what is absent; a break already found explains more.
      if (first == null) {
        Long last = valid.isEmpty() ? null : valid.lastKey();
        if (last == null) {
          problem(1, ChainReport.Kind.NOT_ANCHORED, "the chain has no validly signed checkpoint, though a writer signs "
              + "one with its first events: the chain was fabricated or its checkpoints deleted");
        } else if (last > expected - 1) {
          long end = expected - 1;
          problem(end + 1, ChainReport.Kind.TRUNCATED, (end == 0 ? "the store holds no event of the chain" : "the chain ends at seq "
              + end) + " but " + named(last) + " covers seq " + last + ": events " + (end + 1) + ".." + last + " were removed");
        } else if (closed && anchored < lastSeq) {
          problem(anchored + 1, ChainReport.Kind.CHECKPOINTS_MISSING, "the chain was closed cleanly but its final "
              + "checkpoint is gone: events " + (anchored + 1) + ".." + lastSeq + " are not covered");
        } else if (checkpointEvents > 0 && lastSeq - anchored >= checkpointEvents) {
          problem(anchored + 1, ChainReport.Kind.CHECKPOINTS_MISSING, (lastSeq - anchored) + " events follow the last "
              + "checkpoint, but the writer signs one at least every " + checkpointEvents + ": checkpoints were deleted");
        }
      }
    }

    /**
     * A later chain says this one held event {@code seq} with {@code hash} when it started, and, when
     * {@code last}, that this event was the chain's last: events after it were added later.
     */
    void vouched(String by, long seq, String hash, boolean last, AuditStore store) {
      if (first != null && first.seq() <= seq) return;
      if (lastSeq < seq) {
        problem(lastSeq + 1, ChainReport.Kind.TRUNCATED, "the chain ends at seq " + lastSeq + " but " + by
            + " recorded that event " + seq + " was acknowledged: events " + (lastSeq + 1) + ".." + seq + " were removed");
        return;
      }
      Optional<AuditEvent> e = store.find(AuditEvent.id(chainId, seq));
      if (e.isEmpty() || !e.get().hash().equals(hash)) {
        problem(anchored + 1, ChainReport.Kind.CHECKPOINT_MISMATCH, by + " recorded a different hash for event "
            + seq + ": events " + (anchored + 1) + ".." + seq + " were altered and their hashes recomputed");
      }
      if (last && lastSeq > seq) {
        problem(seq + 1, ChainReport.Kind.AFTER_CLOSE, by + " recorded event " + seq + " as this chain's last when "
            + "it started, but events " + (seq + 1) + ".." + lastSeq + " follow it: they were added later");
      }
    }

    private void readPolicy(Map<String, String> attrs) {
      try {
        checkpointEvents = Integer.parseInt(attrs.getOrDefault(ChainAttributes.CHECKPOINT_EVENTS, "0"));
      } catch (NumberFormatException e) {
        checkpointEvents = 0;
      }
      previousChain = attrs.get(ChainAttributes.PREVIOUS_CHAIN);
      if (previousChain != null) {
        try {
          previousSeq = Long.parseLong(attrs.getOrDefault(ChainAttributes.PREVIOUS_SEQ, "0"));
        } catch (NumberFormatException e) {
          previousChain = null;
        }
        previousHash = attrs.getOrDefault(ChainAttributes.PREVIOUS_HASH, "");
        previousLast = "true".equals(attrs.get(ChainAttributes.PREVIOUS_LAST));
      }
    }

    private void eventProblem(long seq, ChainReport.Kind kind, String message) {
      eventsBroken = true;
      problem(seq, kind, message);
    }

    private void problem(long seq, ChainReport.Kind kind, String message) {
      if (first == null || seq < first.seq()) first = new ChainReport.Break(seq, kind, message);
    }

    /** Only an anchored, intact start may vouch for another chain: otherwise anyone could write one. */
    boolean mayVouch() {
      return previousChain != null && anchored >= 1 && (first == null || first.seq() > 1);
    }

    ChainReport report() {
      ChainReport.Status status = first != null ? ChainReport.Status.BROKEN
          : anchored < lastSeq ? ChainReport.Status.UNANCHORED_TAIL
          : ChainReport.Status.INTACT;
      return new ChainReport(chainId, status, rows, lastSeq, anchored, closed, Optional.ofNullable(first));
    }
  }
}
