package dev.gatehouse.postgres;

import dev.gatehouse.core.Secret;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A throw-away PostgreSQL 15 cluster that demands real authentication, for the backend connector's
 * tests: the machine's own server trusts every local connection, which would test nothing.
 *
 * <p>It runs {@code initdb} and {@code pg_ctl} from {@code /usr/lib/postgresql/15/bin} in a temp
 * directory owned by {@code postgres} (as root they must run as that user: PostgreSQL refuses to
 * run as root), on a free port, with TLS on (a CA and a server certificate for {@code localhost}
 * and {@code 127.0.0.1} made with the openssl CLI) and this pg_hba.conf:
 *
 * <pre>
 *   postgres     trust          (administration by the fixture, and the "trust" tests)
 *   scram_user   scram-sha-256  (password {@link #SCRAM_PASSWORD})
 *   md5_user     md5            (password {@link #MD5_PASSWORD})
 *   clear_user   password       (cleartext; password {@link #CLEAR_PASSWORD})
 *   everyone     scram-sha-256
 * </pre>
 *
 * <p>One instance per test class: {@link #start()} in {@code @BeforeAll}, {@link #close()} in
 * {@code @AfterAll} (stops the server, removes the directory). A JVM shutdown hook stops it too if
 * the test run dies first.
 */
final class ScramTargetFixture implements AutoCloseable {
  static final String SCRAM_USER = "scram_user";
  static final String SCRAM_PASSWORD = "Scr4m-p\u00E4ss-\u2168"; // non-ASCII: exercises SASLprep
  static final String MD5_USER = "md5_user";
  static final String MD5_PASSWORD = "md5-pass-word";
  static final String CLEAR_USER = "clear_user";
  static final String CLEAR_PASSWORD = "clear-pass-word";
  static final String DATABASE = "postgres";

  private static final Path BIN = Path.of("/usr/lib/postgresql/15/bin");

  private final Path dir;
  private final int port;
  private final Thread shutdownHook;

  private ScramTargetFixture(Path dir, int port) {
    this.dir = dir;
    this.port = port;
    this.shutdownHook = new Thread(this::stopQuietly, "scram-target-fixture-stop");
  }

  /** Creates, configures and starts the cluster; blocks until it accepts connections. */
  static ScramTargetFixture start() {
    try {
      Path dir = Files.createTempDirectory("gatehouse-pg-");
      ScramTargetFixture fixture = new ScramTargetFixture(dir, freePort());
      fixture.create();
      Runtime.getRuntime().addShutdownHook(fixture.shutdownHook);
      fixture.run(List.of(BIN.resolve("pg_ctl").toString(), "-D", fixture.data().toString(), "-w", "-t", "60",
          "-l", fixture.dir.resolve("server.log").toString(), "start"));
      fixture.setUpRoles();
      return fixture;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  int port() {
    return port;
  }

  /** The CA that signed the server's certificate (PEM). */
  Path caFile() {
    return dir.resolve("ca.crt");
  }

  /** A CA that signed nothing this server presents. */
  Path otherCaFile() {
    return dir.resolve("other-ca.crt");
  }

  /** A target on this cluster over 127.0.0.1. */
  PostgresTarget target(String user, String password, TargetTls tls) {
    return new PostgresTarget("127.0.0.1", port, DATABASE, user, Secret.of(password), tls, false);
  }

  /** TLS verified against this cluster's CA, for the name {@code localhost}. */
  TargetTls verifiedTls() {
    return new TargetTls(TargetTls.Mode.VERIFY_FULL, Optional.of(caFile()), Optional.of("localhost"));
  }

  /** Runs SQL as the superuser {@code postgres}, over JDBC without TLS. */
  void execute(String... statements) {
    try (Connection connection =
            DriverManager.getConnection(
                "jdbc:postgresql://127.0.0.1:" + port + "/" + DATABASE + "?user=postgres&sslmode=disable");
        Statement statement = connection.createStatement()) {
      for (String sql : statements) statement.execute(sql);
    } catch (SQLException e) {
      throw new IllegalStateException("fixture SQL failed: " + e.getMessage(), e);
    }
  }

  /** Everything the server logged so far. */
  String serverLog() {
    try {
      Path log = dir.resolve("server.log");
      return Files.exists(log) ? Files.readString(log) : "";
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void close() {
    stopQuietly();
    try {
      Runtime.getRuntime().removeShutdownHook(shutdownHook);
    } catch (IllegalStateException alreadyShuttingDown) {
      // the hook is running or ran: nothing left to do
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private Path data() {
    return dir.resolve("data");
  }

  private void create() throws IOException {
    makeCertificates();
    if (runningAsRoot()) run(List.of("chown", "-R", "postgres:postgres", dir.toString()));
    run(List.of(BIN.resolve("initdb").toString(), "-D", data().toString(), "-U", "postgres",
        "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"));
    Files.writeString(
        data().resolve("pg_hba.conf"),
        """
        # written by ScramTargetFixture
        local all postgres                 trust
        host  all postgres    127.0.0.1/32 trust
        host  all scram_user  127.0.0.1/32 scram-sha-256
        host  all md5_user    127.0.0.1/32 md5
        host  all clear_user  127.0.0.1/32 password
        host  all all         127.0.0.1/32 scram-sha-256
        """);
    Files.writeString(
        data().resolve("postgresql.conf"),
        "\n# ScramTargetFixture\n"
            + "listen_addresses = '127.0.0.1'\n"
            + "port = " + port + "\n"
            + "unix_socket_directories = '" + dir + "'\n"
            + "ssl = on\n"
            + "ssl_cert_file = '" + dir.resolve("server.crt") + "'\n"
            + "ssl_key_file = '" + dir.resolve("server.key") + "'\n"
            + "fsync = off\n"
            + "shared_buffers = 16MB\n"
            + "max_connections = 20\n"
            + "log_connections = on\n",
        java.nio.file.StandardOpenOption.APPEND);
    if (runningAsRoot()) run(List.of("chown", "-R", "postgres:postgres", dir.toString()));
  }

  private void setUpRoles() {
    execute(
        "SET password_encryption = 'scram-sha-256'",
        "CREATE ROLE " + SCRAM_USER + " LOGIN PASSWORD '" + SCRAM_PASSWORD + "'",
        "CREATE ROLE " + CLEAR_USER + " LOGIN PASSWORD '" + CLEAR_PASSWORD + "'",
        "SET password_encryption = 'md5'",
        "CREATE ROLE " + MD5_USER + " LOGIN PASSWORD '" + MD5_PASSWORD + "'");
  }

  /** A CA, a server certificate it signs for localhost/127.0.0.1, and an unrelated CA. */
  private void makeCertificates() {
    String d = dir.toString();
    run(List.of("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-keyout", d + "/ca.key", "-out", d + "/ca.crt", "-days", "2", "-subj", "/CN=Gatehouse Test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"));
    run(List.of("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-keyout", d + "/other-ca.key", "-out", d + "/other-ca.crt", "-days", "2",
        "-subj", "/CN=Unrelated CA", "-addext", "basicConstraints=critical,CA:TRUE"));
    run(List.of("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", d + "/server.key", "-out", d + "/server.csr", "-subj", "/CN=localhost"));
    try {
      Files.writeString(dir.resolve("server.ext"),
          "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
              + "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    // sha384 so the channel binding test proves the hash follows the certificate's algorithm
    run(List.of("openssl", "x509", "-req", "-in", d + "/server.csr", "-CA", d + "/ca.crt", "-CAkey",
        d + "/ca.key", "-CAcreateserial", "-out", d + "/server.crt", "-days", "2", "-sha384",
        "-extfile", d + "/server.ext"));
    run(List.of("chmod", "600", d + "/server.key"));
  }

  private void stopQuietly() {
    if (!Files.exists(data().resolve("postmaster.pid"))) return;
    try {
      run(List.of(BIN.resolve("pg_ctl").toString(), "-D", data().toString(), "-m", "immediate", "-w", "stop"));
    } catch (RuntimeException e) {
      System.err.println("ScramTargetFixture: stop failed: " + e.getMessage());
    }
  }

  /** Runs a command (as postgres for PostgreSQL's own tools when we are root); fails loudly. */
  private void run(List<String> command) {
    List<String> full = new ArrayList<>();
    if (runningAsRoot() && command.get(0).startsWith(BIN.toString())) {
      full.addAll(List.of("runuser", "-u", "postgres", "--"));
    }
    full.addAll(command);
    try {
      Process process = new ProcessBuilder(full).redirectErrorStream(true).start();
      process.getOutputStream().close();
      byte[] output = process.getInputStream().readAllBytes();
      if (!process.waitFor(120, TimeUnit.SECONDS) || process.exitValue() != 0) {
        process.destroyForcibly();
        throw new IllegalStateException(
            "command failed: " + String.join(" ", full) + "\n" + new String(output) + "\n" + serverLog());
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while running " + command.get(0), e);
    }
  }

  private static boolean runningAsRoot() {
    return "root".equals(System.getProperty("user.name"));
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }
}
