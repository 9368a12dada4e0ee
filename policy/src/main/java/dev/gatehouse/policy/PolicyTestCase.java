package dev.gatehouse.policy;

import dev.gatehouse.core.Classification;
import dev.gatehouse.core.Command;
import dev.gatehouse.core.Principal;
import dev.gatehouse.core.ResourceType;
import java.time.Instant;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * One case of {@code gatehouse policy test}: who, where, what, and (in a case file) the expected
 * decision. Built from a case file by {@link PolicyTestRunner#readCases}, or directly by the CLI
 * for a one-off evaluation (then {@code expect} is empty).
 *
 * @param subject the principal's subject ({@code as:} in a case file)
 * @param displayName the principal's display name (defaults to the subject in a case file)
 * @param resource the resource name; tags and type come from the catalog when it knows the name,
 *     else from {@code resourceTags} and {@code resourceType}
 * @param at when the case happens; empty means now
 * @param expect the expected effect; empty: evaluate and report only
 * @param rule the expected rule name; empty: any rule
 */
public record PolicyTestCase(
    String name,
    String subject,
    String displayName,
    Set<String> groups,
    String issuer,
    Principal.Kind kind,
    Map<String, Object> claims,
    String resource,
    ResourceType resourceType,
    Map<String, String> resourceTags,
    Optional<Instant> at,
    Input input,
    Optional<Effect> expect,
    Optional<String> rule) {

  public PolicyTestCase {
    Objects.requireNonNull(name, "name == null");
    Objects.requireNonNull(subject, "subject == null");
    Objects.requireNonNull(displayName, "displayName == null");
    groups = Set.copyOf(groups);
    Objects.requireNonNull(issuer, "issuer == null");
    Objects.requireNonNull(kind, "kind == null");
    claims = Map.copyOf(claims);
    Objects.requireNonNull(resource, "resource == null");
    Objects.requireNonNull(resourceType, "resourceType == null");
    resourceTags = Map.copyOf(resourceTags);
    Objects.requireNonNull(at, "at == null");
    Objects.requireNonNull(input, "input == null");
    Objects.requireNonNull(expect, "expect == null");
    Objects.requireNonNull(rule, "rule == null");
  }

  /** What is being judged. */
  public sealed interface Input {
    /** Opening a session: judged by {@code admit}. */
    record Connect() implements Input {}

    /** SQL text, classified by the runner's classifier (the CLI plugs in the real parser). */
    record Sql(String text) implements Input {
      public Sql {
        Objects.requireNonNull(text, "text == null");
      }
    }

    /** A command classified by hand, for tests that need no parser or for other protocols. */
    record Classified(Command command) implements Input {
      public Classified {
        Objects.requireNonNull(command, "command == null");
      }

      public static Classified of(String protocol, Classification classification) {
        return new Classified(new Command(protocol, "", classification, Map.of()));
      }
    }
  }
}
