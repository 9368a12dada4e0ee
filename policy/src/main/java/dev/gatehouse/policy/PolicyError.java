package dev.gatehouse.policy;

import java.util.Objects;
import java.util.Optional;

/**
 * One problem found in a policy or test-case file, located the way an editor wants it.
 *
 * @param file the file name as given (or a source name such as {@code demo-policy.yaml}); empty
 *     when the error is not about one file (two files defining the same rule name report the second)
 * @param line 1-based line, 0 when unknown
 * @param column 1-based column, 0 when unknown
 * @param path the key path inside the document, e.g. {@code rules[3].commands.sql.kinds[0]}; empty
 *     for errors about the document as a whole
 * @param message what check failed, e.g. {@code unknown statement kind "DRP"}
 */
public record PolicyError(String file, int line, int column, String path, String message) {
  public PolicyError {
    Objects.requireNonNull(file, "file == null");
    Objects.requireNonNull(path, "path == null");
    Objects.requireNonNull(message, "message == null");
    if (line < 0) throw new IllegalArgumentException("line < 0");
    if (column < 0) throw new IllegalArgumentException("column < 0");
  }

  static PolicyError general(String message) {
    return new PolicyError("", 0, 0, "", message);
  }

  /** The line, when known. */
  public Optional<Integer> lineNumber() {
    return line == 0 ? Optional.empty() : Optional.of(line);
  }

  /** {@code file:line:column: path: message}, the shape compilers and editors understand. */
  @Override
  public String toString() {
    StringBuilder b = new StringBuilder();
    if (!file.isEmpty()) {
      b.append(file);
      if (line > 0) b.append(':').append(line).append(':').append(column);
      b.append(": ");
    }
    if (!path.isEmpty()) b.append(path).append(": ");
    return b.append(message).toString();
  }
}
