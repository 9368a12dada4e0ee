package dev.gatehouse.core;

import java.time.Instant;
import java.util.Objects;

/**
 * One client connection to one resource, admitted by the {@link Checkpoint}.
 *
 * @param deadline when the session must end: the token's expiry plus the configured grace
 */
public record Session(
    SessionId id, Principal principal, Resource resource, ClientInfo client, Instant start, Instant deadline) {
  public Session {
    Objects.requireNonNull(id, "id == null");
    Objects.requireNonNull(principal, "principal == null");
    Objects.requireNonNull(resource, "resource == null");
    Objects.requireNonNull(client, "client == null");
    Objects.requireNonNull(start, "start == null");
    Objects.requireNonNull(deadline, "deadline == null");
  }
}
