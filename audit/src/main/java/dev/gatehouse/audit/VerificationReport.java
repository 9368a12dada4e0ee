package dev.gatehouse.audit;

import java.util.List;

/** The result of verifying every chain in a store, sorted by chain id. */
public record VerificationReport(List<ChainReport> chains) {
  public VerificationReport {
    chains = List.copyOf(chains);
  }

  /** True when no chain is broken (chains with an unanchored tail count as not broken). */
  public boolean intact() {
    return chains.stream().noneMatch(ChainReport::broken);
  }

  public List<ChainReport> broken() {
    return chains.stream().filter(ChainReport::broken).toList();
  }
}
