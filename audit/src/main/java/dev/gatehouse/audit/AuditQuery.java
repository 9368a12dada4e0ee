package dev.gatehouse.audit;

import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * A search over stored events. Present criteria must all match.
 *
 * @param principal matches the principal's subject or display name exactly
 * @param resource matches the resource name exactly
 * @param from events at or after this time
 * @param to events strictly before this time
 * @param text a substring of the command text, case-insensitive for ASCII letters
 * @param session matches the session id exactly (as Gatehouse's log lines give it)
 * @param limit at most this many events (the newest)
 */
public record AuditQuery(
    Optional<String> principal,
    Optional<String> resource,
    Optional<Instant> from,
    Optional<Instant> to,
    Optional<String> text,
    Optional<String> session,
    int limit) {
  public static final int MAX_LIMIT = 10_000;

  public AuditQuery {
    Objects.requireNonNull(principal, "principal == null");
    Objects.requireNonNull(resource, "resource == null");
    Objects.requireNonNull(from, "from == null");
    Objects.requireNonNull(to, "to == null");
    Objects.requireNonNull(text, "text == null");
    Objects.requireNonNull(session, "session == null");
    if (limit < 1) throw new IllegalArgumentException("limit < 1");
    if (limit > MAX_LIMIT) throw new IllegalArgumentException("limit > " + MAX_LIMIT);
  }

  /** Everything, newest {@code limit}; narrow it with the withers. */
  public static AuditQuery all(int limit) {
    return new AuditQuery(Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(),
        Optional.empty(), limit);
  }

  public AuditQuery withPrincipal(String value) {
    return new AuditQuery(Optional.of(value), resource, from, to, text, session, limit);
  }

  public AuditQuery withResource(String value) {
    return new AuditQuery(principal, Optional.of(value), from, to, text, session, limit);
  }

  public AuditQuery withFrom(Instant value) {
    return new AuditQuery(principal, resource, Optional.of(value), to, text, session, limit);
  }

  public AuditQuery withTo(Instant value) {
    return new AuditQuery(principal, resource, from, Optional.of(value), text, session, limit);
  }

  public AuditQuery withText(String value) {
    return new AuditQuery(principal, resource, from, to, Optional.of(value), session, limit);
  }

  public AuditQuery withSession(String value) {
    return new AuditQuery(principal, resource, from, to, text, Optional.of(value), limit);
  }
}
