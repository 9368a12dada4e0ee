package dev.gatehouse.testkit;

import dev.gatehouse.core.Outcome;
import java.util.Objects;
import java.util.Optional;

/**
 * One audit event as the {@link GatewayConformance} suite reads it, whatever the store's format. An
 * adapter maps the gateway's stored events onto this.
 *
 * @param type what happened
 * @param sessionId the gateway's session id; empty for {@link Type#ADMISSION_REFUSED}
 * @param subject the caller's subject; empty when the token itself was rejected
 * @param resource the resource name asked for
 * @param command for {@link Type#COMMAND_DECIDED} and {@link Type#COMMAND_COMPLETED}: the command
 *     text as stored (for a completion, the text of the decision it completes)
 * @param effect for {@link Type#COMMAND_DECIDED}: the decision
 * @param rule the rule that decided (decisions and refusals)
 * @param outcome for {@link Type#COMMAND_COMPLETED}: how the command ended
 * @param text every other stored text of the event (reasons, messages, details), for the suite's
 *     check that no credential was stored
 */
public record AuditRecord(
    Type type,
    Optional<String> sessionId,
    Optional<String> subject,
    String resource,
    Optional<String> command,
    Optional<Effect> effect,
    Optional<String> rule,
    Optional<Outcome.Status> outcome,
    String text) {

  public enum Type {
    SESSION_OPENED,
    ADMISSION_REFUSED,
    COMMAND_DECIDED,
    COMMAND_COMPLETED,
    SESSION_CLOSED
  }

  public enum Effect {
    ALLOW,
    DENY,
    REQUIRE_APPROVAL
  }

  public AuditRecord {
    Objects.requireNonNull(type, "type == null");
    Objects.requireNonNull(sessionId, "sessionId == null");
    Objects.requireNonNull(subject, "subject == null");
    Objects.requireNonNull(resource, "resource == null");
    Objects.requireNonNull(command, "command == null");
    Objects.requireNonNull(effect, "effect == null");
    Objects.requireNonNull(rule, "rule == null");
    Objects.requireNonNull(outcome, "outcome == null");
    Objects.requireNonNull(text, "text == null");
  }

  /** Whether this event belongs to the given session. */
  public boolean of(String session) {
    return sessionId.filter(session::equals).isPresent();
  }
}
