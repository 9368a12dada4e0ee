package dev.gatehouse.audit;

import dev.gatehouse.core.ClientInfo;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;

/**
 * What an audit event says, before it is placed in a chain. Every field is raw, untrusted text as it
 * was seen (names, SQL): nothing here is escaped, so the hash covers exactly what happened; escaping
 * is the job of {@link AuditFormatter} when the event is shown to a person.
 *
 * <p>The time is truncated to microseconds, the precision every store keeps, so that an event read
 * back hashes to the same value. Collections are copied into a fixed order (sets sorted, maps sorted
 * by key) for the same reason. Immutable.
 *
 * @param time when the thing happened (taken on the caller's thread)
 * @param sessionId the session the event belongs to, if any
 * @param principal who acted, if known
 * @param resource the resource name as requested or admitted
 * @param client the client's address and self-description
 * @param command the command, for command events
 * @param decision what was decided, for decisions and refusals
 * @param outcome how a command ended, for {@link EventType#COMMAND_COMPLETED}
 * @param ref the id of the event this one completes (the decided command for an outcome)
 * @param attributes anything else worth keeping (a close reason, a session deadline), sorted by key
 */
public record EventBody(
    EventType type,
    Instant time,
    Optional<String> sessionId,
    Optional<Actor> principal,
    Optional<String> resource,
    Optional<ClientInfo> client,
    Optional<CommandRecord> command,
    Optional<Ruling> decision,
    Optional<Result> outcome,
    Optional<String> ref,
    Map<String, String> attributes) {

  public EventBody {
    Objects.requireNonNull(type, "type == null");
    time = Objects.requireNonNull(time, "time == null").truncatedTo(ChronoUnit.MICROS);
    Objects.requireNonNull(sessionId, "sessionId == null");
    Objects.requireNonNull(principal, "principal == null");
    Objects.requireNonNull(resource, "resource == null");
    Objects.requireNonNull(client, "client == null");
    Objects.requireNonNull(command, "command == null");
    Objects.requireNonNull(decision, "decision == null");
    Objects.requireNonNull(outcome, "outcome == null");
    Objects.requireNonNull(ref, "ref == null");
    attributes = sortedCopy(attributes);
  }

  /** An event with only a type, a time and attributes; the other fields can be added with the withers. */
  public static EventBody of(EventType type, Instant time, Map<String, String> attributes) {
    return new EventBody(type, time, Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(),
        Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), attributes);
  }

  /**
   * Who acted, as the verified token said.
   *
   * @param groups sorted
   * @param kind {@code HUMAN} or {@code MACHINE}
   */
  public record Actor(String subject, String issuer, String displayName, String kind, List<String> groups) {
    public Actor {
      Objects.requireNonNull(subject, "subject == null");
      Objects.requireNonNull(issuer, "issuer == null");
      Objects.requireNonNull(displayName, "displayName == null");
      Objects.requireNonNull(kind, "kind == null");
      groups = sorted(groups);
    }
  }

  /**
   * A command as audited.
   *
   * @param text the command text with secret-bearing literals already redacted by the classifier
   * @param kinds statement kinds in order of appearance
   * @param objects sorted
   * @param functions sorted
   * @param flags flag names, sorted
   * @param details protocol facts (statement and portal names), sorted by key
   */
  public record CommandRecord(
      String protocol,
      String text,
      List<String> kinds,
      List<String> objects,
      List<String> functions,
      List<String> flags,
      Map<String, String> details) {
    public CommandRecord {
      Objects.requireNonNull(protocol, "protocol == null");
      Objects.requireNonNull(text, "text == null");
      kinds = List.copyOf(kinds);
      objects = sorted(objects);
      functions = sorted(functions);
      flags = sorted(flags);
      details = sortedCopy(details);
    }

    /** This record with another text, its lists and details shared (they are immutable). */
    public CommandRecord withText(String text) {
      return new CommandRecord(protocol, text, kinds, objects, functions, flags, details);
    }
  }

  /** What was decided: the effect, the rule that decided, and the reason shown to the user, if any. */
  public record Ruling(Effect effect, String rule, Optional<String> reason) {
    public enum Effect {
      ALLOW,
      DENY,
      REQUIRE_APPROVAL
    }

    public Ruling {
      Objects.requireNonNull(effect, "effect == null");
      Objects.requireNonNull(rule, "rule == null");
      Objects.requireNonNull(reason, "reason == null");
    }
  }

  /**
   * How a command ended.
   *
   * @param status the name of an {@link dev.gatehouse.core.Outcome.Status}: {@code OK}, {@code ERROR},
   *     {@code REFUSED}, {@code ABORTED}, {@code UNEXECUTED} or {@code UNKNOWN}
   * @param rows rows returned or affected, -1 when unknown
   * @param errorCode the target's native error code
   */
  public record Result(String status, long rows, Optional<String> errorCode, long durationMillis) {
    public Result {
      Objects.requireNonNull(status, "status == null");
      Objects.requireNonNull(errorCode, "errorCode == null");
    }
  }

  /** An unmodifiable sorted copy (no copy of the order when it is sorted already: the usual case). */
  private static List<String> sorted(List<String> values) {
    Objects.requireNonNull(values, "list == null");
    List<String> copy = List.copyOf(values); // an unmodifiable list as it is, not copied; throws on nulls
    for (int i = 1; i < copy.size(); i++) {
      if (copy.get(i - 1).compareTo(copy.get(i)) > 0) {
        String[] a = copy.toArray(new String[0]);
        java.util.Arrays.sort(a);
        return List.of(a);
      }
    }
    return copy;
  }

  private static Map<String, String> sortedCopy(Map<String, String> map) {
    Objects.requireNonNull(map, "map == null");
    if (map.isEmpty()) return java.util.Collections.emptySortedMap();
    TreeMap<String, String> copy = new TreeMap<>();
    map.forEach((k, v) -> copy.put(Objects.requireNonNull(k, "map key == null"), Objects.requireNonNull(v, "map value == null")));
    return java.util.Collections.unmodifiableSortedMap(copy);
  }
}
