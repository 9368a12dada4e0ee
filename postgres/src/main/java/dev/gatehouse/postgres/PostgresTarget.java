package dev.gatehouse.postgres;

import dev.gatehouse.core.Secret;
import java.util.Objects;

/**
 * A PostgreSQL server Gatehouse connects to on behalf of its callers, with the credentials only
 * Gatehouse holds. Immutable value; {@link #toString()} shows the password redacted (core's
 * {@link Secret} does that).
 *
 * <p>The backend connection is built from this record alone: nothing a client sends ever reaches
 * the host, port, database or user used towards the target.
 *
 * @param host host name or IP address of the target
 * @param port TCP port, 1 to 65535
 * @param database the database to open on the target
 * @param user the role Gatehouse logs in as
 * @param password that role's password; empty for trust authentication
 * @param tls how the connection to the target is protected
 * @param acceptPrivilegedRole when true, a role with superuser-like powers is accepted (with
 *     warnings) instead of refused when the resource is registered; see {@link TargetInspector}
 */
public record PostgresTarget(
    String host,
    int port,
    String database,
    String user,
    Secret password,
    TargetTls tls,
    boolean acceptPrivilegedRole) {

  public PostgresTarget {
    Objects.requireNonNull(host, "host == null");
    Objects.requireNonNull(database, "database == null");
    Objects.requireNonNull(user, "user == null");
    Objects.requireNonNull(password, "password == null");
    Objects.requireNonNull(tls, "tls == null");
    if (host.isBlank()) throw new IllegalArgumentException("host is blank");
    if (port < 1 || port > 65535) throw new IllegalArgumentException("port out of range 1..65535: " + port);
    if (database.isEmpty()) throw new IllegalArgumentException("database is empty");
    if (user.isEmpty()) throw new IllegalArgumentException("user is empty");
    // A NUL would end the string early in the startup packet and let the rest be read as another
    // parameter; no legitimate name contains one.
    checkNoNul("host", host);
    checkNoNul("database", database);
    checkNoNul("user", user);
  }

  /** {@code host:port}, for logs and audit (IPv6 literals in brackets). */
  public String address() {
    return address(host, port);
  }

  /** {@code host:port} with an IPv6 literal in brackets, as every log line of this module writes it. */
  static String address(String host, int port) {
    return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
  }

  /** A copy with another TLS setting. */
  public PostgresTarget withTls(TargetTls newTls) {
    return new PostgresTarget(host, port, database, user, password, newTls, acceptPrivilegedRole);
  }

  private static void checkNoNul(String name, String value) {
    if (value.indexOf('\0') >= 0) throw new IllegalArgumentException(name + " contains a NUL character");
  }
}
