package dev.gatehouse.policy;

import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * What a {@link ReloadingPolicy} is running, for {@code /readyz}, metrics and logs.
 *
 * @param version the digest of the policy in force
 * @param loadedAt when the policy in force was loaded
 * @param files the files it was loaded from
 * @param lastError the errors of the most recent reload when it was rejected (the previous policy
 *     stayed in force); cleared by the next successful reload
 * @param lastErrorAt when that reload was rejected
 */
public record PolicyStatus(
    String version, Instant loadedAt, List<String> files, Optional<String> lastError, Optional<Instant> lastErrorAt) {
  public PolicyStatus {
    Objects.requireNonNull(version, "version == null");
    Objects.requireNonNull(loadedAt, "loadedAt == null");
    files = List.copyOf(files);
    Objects.requireNonNull(lastError, "lastError == null");
    Objects.requireNonNull(lastErrorAt, "lastErrorAt == null");
  }

  /** False while the files on disk hold a policy that was rejected. */
  public boolean current() {
    return lastError.isEmpty();
  }
}
