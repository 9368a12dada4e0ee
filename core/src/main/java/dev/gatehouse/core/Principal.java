package dev.gatehouse.core;

import java.time.Instant;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Who is calling, as established by a verified token.
 *
 * @param subject the stable identifier, unique within the issuer (for machines, the mapped subject,
 *     e.g. {@code repo:acme/api:ref:refs/heads/main})
 * @param displayName a human-friendly name (e-mail, preferred username), for logs and audit
 * @param groups groups from the issuer's configured claim and mappings
 * @param kind human or machine
 * @param issuer the configured name of the trusted issuer that vouched for this principal
 * @param claims the verified claims (never the token itself)
 * @param expiresAt when the token that proved this identity expires
 */
public record Principal(
    String subject,
    String displayName,
    Set<String> groups,
    Kind kind,
    String issuer,
    Map<String, Object> claims,
    Instant expiresAt) {

  public enum Kind {
    HUMAN,
    MACHINE
  }

  public Principal {
    Objects.requireNonNull(subject, "subject == null");
    Objects.requireNonNull(displayName, "displayName == null");
    groups = Set.copyOf(groups);
    Objects.requireNonNull(kind, "kind == null");
    Objects.requireNonNull(issuer, "issuer == null");
    claims = Map.copyOf(claims);
    Objects.requireNonNull(expiresAt, "expiresAt == null");
    if (subject.isBlank()) throw new IllegalArgumentException("subject is blank");
  }

  public boolean inGroup(String group) {
    return groups.contains(group);
  }
}
