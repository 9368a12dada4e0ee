package dev.gatehouse.audit;

import java.util.List;
import java.util.Objects;

/**
 * The result of verifying every chain in a store, sorted by chain id, and the witnesses (checkpoints
 * found outside the store) that were rejected because their signature does not verify.
 */
public record VerificationReport(List<ChainReport> chains, List<RejectedWitness> rejectedWitnesses) {
  public VerificationReport {
    chains = List.copyOf(chains);
    rejectedWitnesses = List.copyOf(rejectedWitnesses);
  }

  public VerificationReport(List<ChainReport> chains) {
    this(chains, List.of());
  }

  /**
   * A witness that vouches for nothing: forged, altered, or signed by a key not trusted (an earlier
   * key: pass its public half too).
   *
   * @param source where it was found ({@link Witness#source()})
   */
  public record RejectedWitness(String source, String chainId, long seq, String reason) {
    public RejectedWitness {
      Objects.requireNonNull(source, "source == null");
      Objects.requireNonNull(chainId, "chainId == null");
      Objects.requireNonNull(reason, "reason == null");
    }

    /** One line for people. */
    public String describe() {
      return "witness " + source + ": REJECTED: " + reason + "; it vouches for nothing";
    }
  }

  /**
   * True when no chain is broken (chains with an unanchored tail count as not broken) and no witness
   * was rejected: a forged or altered witness is itself evidence of tampering, with the logs.
   */
  public boolean intact() {
    return chains.stream().noneMatch(ChainReport::broken) && rejectedWitnesses.isEmpty();
  }

  public List<ChainReport> broken() {
    return chains.stream().filter(ChainReport::broken).toList();
  }
}
