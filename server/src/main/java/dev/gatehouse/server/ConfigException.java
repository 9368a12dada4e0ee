package dev.gatehouse.server;

/**
 * The configuration cannot be used. The message names the file, the key (a path such as
 * {@code resources[0].password}) and what is wrong; Gatehouse refuses to start on it.
 */
public final class ConfigException extends RuntimeException {
  private final String file;
  private final String key;
  private final String problem;

  public ConfigException(String file, String key, String problem) {
    super(file + ": " + (key.isEmpty() ? "" : key + ": ") + problem);
    this.file = file;
    this.key = key;
    this.problem = problem;
  }

  public String file() {
    return file;
  }

  public String key() {
    return key;
  }

  public String problem() {
    return problem;
  }
}
