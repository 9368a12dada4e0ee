package dev.gatehouse.server;

import dev.gatehouse.core.Secret;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A reference to a secret in the configuration: {@code ${env:NAME}} or {@code ${file:/path}}. The
 * configuration never holds the secret itself, so the file can be committed and shown; the value is
 * read when the configuration loads. A literal where a reference belongs is a configuration error.
 *
 * @param reference the reference text as written
 */
public record SecretRef(String reference) {
  private static final Pattern FORM = Pattern.compile("\\$\\{(env|file):([^}]+)}");

  public SecretRef {
    Objects.requireNonNull(reference, "reference == null");
  }

  /** Whether the text has the form of a reference (it may still fail to resolve). */
  public boolean wellFormed() {
    return FORM.matcher(reference.strip()).matches();
  }

  /**
   * Resolves the reference. File contents lose one trailing newline (editors add it).
   *
   * @param env the environment to read {@code env:} references from
   * @param base directory that relative {@code file:} paths are resolved against
   * @throws IllegalArgumentException with a message naming the reference, never the value
   */
  public Secret resolve(Function<String, String> env, Path base) {
    Matcher m = FORM.matcher(reference.strip());
    if (!m.matches()) {
      throw new IllegalArgumentException(
          "write a reference such as ${env:NAME} or ${file:/path}, not the secret itself");
    }
    String name = m.group(2).strip();
    if (m.group(1).equals("env")) {
      String value = env.apply(name);
      if (value == null) throw new IllegalArgumentException("environment variable " + name + " is not set");
      return Secret.of(value);
    }
    Path path = base.resolve(name);
    try {
      String value = Files.readString(path, StandardCharsets.UTF_8);
      if (value.endsWith("\n")) value = value.substring(0, value.length() - 1);
      if (value.endsWith("\r")) value = value.substring(0, value.length() - 1);
      return Secret.of(value);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read secret file " + path + " (" + e.getClass().getSimpleName() + ")");
    }
  }

  public static Function<String, String> systemEnv() {
    Map<String, String> env = System.getenv();
    return env::get;
  }

  @Override
  public String toString() {
    return reference;
  }
}
