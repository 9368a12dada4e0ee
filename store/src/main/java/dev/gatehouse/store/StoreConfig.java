package dev.gatehouse.store;

import dev.gatehouse.audit.Durability;
import dev.gatehouse.core.Secret;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/**
 * Where the store lives and how hard it must try.
 *
 * @param url {@code jdbc:sqlite:/path/to/gatehouse.db} (a file; parent directories are created) or
 *     {@code jdbc:postgresql://host:port/database[?options]}
 * @param user database user (PostgreSQL)
 * @param password database password (PostgreSQL); never shown
 * @param durability what an acknowledged audit append survives (see {@link JdbcStore})
 * @param poolSize connections kept open (the audit writer uses one at a time; the rest serve reads)
 */
public record StoreConfig(String url, Optional<String> user, Optional<Secret> password, Durability durability, int poolSize) {
  public static final int DEFAULT_POOL_SIZE = 4;

  public StoreConfig {
    Objects.requireNonNull(url, "url == null");
    Objects.requireNonNull(user, "user == null");
    Objects.requireNonNull(password, "password == null");
    Objects.requireNonNull(durability, "durability == null");
    if (poolSize < 1) throw new IllegalArgumentException("poolSize < 1");
  }

  /** The embedded default: a SQLite file, {@link Durability#PROCESS}. */
  public static StoreConfig sqlite(Path file) {
    return new StoreConfig("jdbc:sqlite:" + file.toAbsolutePath(), Optional.empty(), Optional.empty(),
        Durability.PROCESS, DEFAULT_POOL_SIZE);
  }

  /** A store at {@code url} with default durability and pool size. */
  public static StoreConfig of(String url, Optional<String> user, Optional<Secret> password) {
    return new StoreConfig(url, user, password, Durability.PROCESS, DEFAULT_POOL_SIZE);
  }

  public StoreConfig withDurability(Durability value) {
    return new StoreConfig(url, user, password, value, poolSize);
  }

  /** The dialect the URL names; refuses anything else. */
  public Dialect dialect() {
    if (url.startsWith("jdbc:sqlite:")) return Dialect.SQLITE;
    if (url.startsWith("jdbc:postgresql:")) return Dialect.POSTGRESQL;
    throw new StoreException("store URL " + redactedUrl() + " is neither jdbc:sqlite: nor jdbc:postgresql:");
  }

  /**
   * The URL without anything that may carry credentials: the query string (pgjdbc accepts {@code
   * ?password=}) and any {@code user:password@} part. Safe for messages and logs.
   */
  public String redactedUrl() {
    String u = url;
    int q = u.indexOf('?');
    if (q >= 0) u = u.substring(0, q) + "?…";
    int scheme = u.indexOf("//");
    int at = u.indexOf('@');
    if (scheme >= 0 && at > scheme) {
      int slash = u.indexOf('/', scheme + 2);
      if (slash < 0 || at < slash) u = u.substring(0, scheme + 2) + "…@" + u.substring(at + 1);
    }
    return u;
  }

  @Override
  public String toString() {
    return "StoreConfig[url=" + redactedUrl() + ", user=" + user.orElse("") + ", password="
        + (password.isPresent() ? "[redacted]" : "none") + ", durability=" + durability + ", poolSize=" + poolSize + "]";
  }
}
