package dev.gatehouse.core;

import java.time.Duration;
import java.util.Objects;

/**
 * Caps on live sessions, and how long a session may outlive its token.
 *
 * @param perUser live sessions one principal (issuer + subject) may hold across all resources; 0 = unlimited
 * @param perResource live sessions one resource may carry; 0 = unlimited
 * @param tokenGrace how long a session may run past its token's expiry
 */
public record SessionLimits(int perUser, int perResource, Duration tokenGrace) {
  public static final SessionLimits DEFAULT = new SessionLimits(50, 500, Duration.ZERO);

  public SessionLimits {
    if (perUser < 0) throw new IllegalArgumentException("perUser < 0");
    if (perResource < 0) throw new IllegalArgumentException("perResource < 0");
    Objects.requireNonNull(tokenGrace, "tokenGrace == null");
    if (tokenGrace.isNegative()) throw new IllegalArgumentException("tokenGrace < 0");
  }
}
