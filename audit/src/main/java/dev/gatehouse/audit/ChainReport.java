package dev.gatehouse.audit;

import java.util.Objects;
import java.util.Optional;

/**
 * What {@link AuditVerifier} found in one chain.
 *
 * @param events rows read for the chain
 * @param lastSeq the highest seq read (0 for a chain with checkpoints but no events)
 * @param anchoredSeq the highest seq covered by a valid signed checkpoint that matches the chain
 * @param closed whether the chain ends with a {@link EventType#CHAIN_CLOSED} event (clean shutdown)
 * @param firstBreak the first broken link, when {@code status} is {@link Status#BROKEN}
 */
public record ChainReport(
    String chainId, Status status, long events, long lastSeq, long anchoredSeq, boolean closed, Optional<Break> firstBreak) {

  public enum Status {
    /** Every event links, hashes and is covered by a valid signed checkpoint. */
    INTACT,
    /**
     * Every event links and hashes, but the newest ones follow the last signed checkpoint: the writer
     * stopped without a clean shutdown (a crash, {@code kill -9}) or is still running. Those events
     * are consistent but cannot be proven complete: the window is at most the writer's checkpoint
     * policy (events and time). Not evidence of tampering by itself.
     */
    UNANCHORED_TAIL,
    /** Tampering (or corruption) was detected; {@link #firstBreak()} names the first broken link. */
    BROKEN
  }

  /** Kinds of broken link, each with what it usually means. */
  public enum Kind {
    /** An event's contents do not match its hash: the row was edited. */
    EDITED,
    /** Seq numbers jump: rows were deleted. */
    MISSING,
    /** An event does not carry the hash of its predecessor: rows were deleted, inserted or moved. */
    LINK_BROKEN,
    /** A seq appears again or goes backwards: rows were duplicated or reordered. */
    OUT_OF_ORDER,
    /** Events follow the event that closed the chain: they were added later. */
    AFTER_CLOSE,
    /** The chain ends before an event a signed checkpoint (or a later chain) vouches for: the tail was cut. */
    TRUNCATED,
    /** A signed checkpoint does not match the event at its seq: the chain was altered and its hashes recomputed. */
    CHECKPOINT_MISMATCH,
    /** A checkpoint's signature is invalid or by an untrusted key: it was forged or altered. */
    BAD_SIGNATURE,
    /** The chain has no signed checkpoint at all, though every chain's first batch is checkpointed: it was fabricated or its checkpoints deleted. */
    NOT_ANCHORED,
    /** More events follow the last checkpoint than the writer's policy allows: checkpoints were deleted. */
    CHECKPOINTS_MISSING
  }

  /** The first broken link: where, what kind, and a sentence for people. */
  public record Break(long seq, Kind kind, String message) {
    public Break {
      Objects.requireNonNull(kind, "kind == null");
      Objects.requireNonNull(message, "message == null");
    }
  }

  public ChainReport {
    Objects.requireNonNull(chainId, "chainId == null");
    Objects.requireNonNull(status, "status == null");
    Objects.requireNonNull(firstBreak, "firstBreak == null");
    if ((status == Status.BROKEN) != firstBreak.isPresent()) {
      throw new IllegalArgumentException("a report has a break exactly when its status is BROKEN");
    }
  }

  public boolean broken() {
    return status == Status.BROKEN;
  }

  /** One line for people: the chain, its state, and the first broken link or the unanchored window. */
  public String describe() {
    return switch (status) {
      case INTACT -> chainId + ": intact, " + lastSeq + " events, all covered by signed checkpoints"
          + (closed ? ", closed cleanly" : "");
      case UNANCHORED_TAIL -> chainId + ": consistent, " + lastSeq + " events; events " + (anchoredSeq + 1) + ".." + lastSeq
          + " follow the last signed checkpoint (writer crashed or still running) and cannot be proven complete";
      case BROKEN -> {
        Break b = firstBreak.orElseThrow();
        yield chainId + ": BROKEN at seq " + b.seq() + " (" + b.kind() + "): " + b.message();
      }
    };
  }
}
