package dev.gatehouse.core;

import java.util.Objects;

/** The answer to a connection: a session, or a refusal the protocol turns into its native error. */
public sealed interface Admission {
  record Admitted(Session session) implements Admission {
    public Admitted {
      Objects.requireNonNull(session, "session == null");
    }
  }

  /**
   * @param message safe to show to the client: names the resource and why, never a secret
   * @param rule the policy rule, or a fixed name for refusals before policy ({@code authentication})
   * @param detail what the audit log and the gateway's log record: the message, or more than the
   *     client may hear (why policy refused a resource the client is not told exists); never a secret
   */
  record Refused(Reason reason, String rule, String message, String detail) implements Admission {
    public Refused {
      Objects.requireNonNull(reason, "reason == null");
      Objects.requireNonNull(rule, "rule == null");
      Objects.requireNonNull(message, "message == null");
      Objects.requireNonNull(detail, "detail == null");
    }

    /** A refusal whose client hears all there is to record. */
    public Refused(Reason reason, String rule, String message) {
      this(reason, rule, message, message);
    }
  }

  enum Reason {
    /** The token was missing or rejected (PostgreSQL 28P01). */
    INVALID_TOKEN,
    /** No such resource, or not of the protocol asked (PostgreSQL 3D000 would leak; use 28000). */
    UNKNOWN_RESOURCE,
    /** Policy refused this principal this resource (PostgreSQL 28000). */
    FORBIDDEN,
    /** A per-user or per-resource connection cap is reached (PostgreSQL 53300). */
    TOO_MANY_CONNECTIONS,
    /** The audit log cannot take events, so nothing may be admitted (PostgreSQL 57P03). */
    UNAVAILABLE
  }
}
