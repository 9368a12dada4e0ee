package dev.gatehouse.core;

import java.util.Map;
import java.util.Objects;

/**
 * One unit the target would execute: a SQL statement execution, an SSH exec, an HTTP request.
 *
 * @param protocol short protocol tag ({@code sql}, {@code ssh}, {@code http})
 * @param text what the audit log keeps: the command text with secret-bearing literals redacted
 * @param classification what the parser found
 * @param details protocol facts worth auditing (prepared statement and portal names, ...); never
 *     parameter values unless configured
 */
public record Command(String protocol, String text, Classification classification, Map<String, String> details) {
  public Command {
    Objects.requireNonNull(protocol, "protocol == null");
    Objects.requireNonNull(text, "text == null");
    Objects.requireNonNull(classification, "classification == null");
    details = Map.copyOf(details);
  }
}
