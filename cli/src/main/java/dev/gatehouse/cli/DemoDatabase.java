package dev.gatehouse.cli;

import dev.gatehouse.core.Secret;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The demo's target: an embedded PostgreSQL 15 (nothing to install but a JDK) holding a small shop
 * with personal data. The gateway logs in as one of two roles, one per access level
 * (docs/postgres.md, "The target role: least privilege"): {@code gatehouse_demo}, an unprivileged
 * role that owns the demo tables (resource {@code pg-demo}), and {@code gatehouse_demo_read}, which
 * may only read them (resource {@code pg-demo-read}, the analysts'). Both must authenticate with
 * SCRAM-SHA-256; their passwords are random per start and known only to the gateway.
 *
 * <p>Its data directory is {@code DIR/postgres/data}, new at every start. A demo stopped with
 * {@code kill -9} cannot stop its PostgreSQL, so a watcher process ({@code sh}, started beside it)
 * stops it when the demo's process is gone, and the next start stops one that was left running
 * (a watcher killed too).
 */
final class DemoDatabase implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(DemoDatabase.class);
  private static final SecureRandom RANDOM = new SecureRandom();
  /**
   * Run by {@code sh -c} with the demo's process id, the data directory and the postmaster's process
   * id: waits for the demo's process to end, then asks that postmaster for a fast shutdown (SIGINT),
   * if the process of that id is still a postgres of this data directory (not another that took its
   * id since).
   */
  static final String WATCHER = """
      while kill -0 "$1" 2>/dev/null; do sleep 1; done
      case "$(ps -o command= -p "$3" 2>/dev/null)" in
        *postgres" -D $2 "*) kill -INT "$3" 2>/dev/null ;;
      esac
      exit 0
      """;
  static final String ROLE = "gatehouse_demo";
  /** The role that may only read the demo tables, and tables the owner role creates later. */
  static final String READ_ROLE = "gatehouse_demo_read";
  /** The functions that create a large object, which PostgreSQL lets every role run. */
  static final List<String> LARGE_OBJECT_MAKERS = List.of("lo_create(oid)", "lo_creat(integer)", "lo_from_bytea(oid, bytea)",
      "lo_import(text)", "lo_import(text, oid)");
  static final String DATABASE = "shop";

  private final EmbeddedPostgres postgres;
  private final Secret password;
  private final Secret readPassword;

  private DemoDatabase(EmbeddedPostgres postgres, Secret password, Secret readPassword) {
    this.postgres = postgres;
    this.password = password;
    this.readPassword = readPassword;
  }

  static DemoDatabase start(Path dir) throws IOException, SQLException {
    if (Files.isSymbolicLink(dir)) throw new IOException(dir + " is a symbolic link: the demo keeps its PostgreSQL in a folder of its own");
    Files.createDirectories(dir);
    privateFolder(dir);
    Path hba = dir.resolve("pg_hba.conf");
    Files.writeString(hba, SCRAM_ONLY);
    Path data = dir.resolve("data");
    stopLeftOver(data);
    deleteTree(data); // initdb wants it empty; one a killed demo left behind holds nothing to keep
    // The superuser gets a random password at initdb (its --pwfile), which only this process knows,
    // for the set-up, and none afterwards: no moment in which a local user could log in as it
    // (red-team rounds 26 and 27: a trust line for the set-up let one in, and a session opened
    // then outlived the reload that removed the line).
    Secret superuser = randomSecret();
    Path pwfile = dir.resolve("superuser.pwfile");
    Files.deleteIfExists(pwfile);
    Files.createFile(pwfile, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    Files.writeString(pwfile, superuser.reveal() + "\n");
    EmbeddedPostgres pg;
    try {
      pg = EmbeddedPostgres.builder()
          .setDataDirectory(data)
          .setCleanDataDirectory(true)
          // The binaries are unpacked here, not into the shared $TMPDIR/embedded-pg, which the
          // library makes writable by everyone: another local user renamed its folder and had the
          // demo run a postgres of theirs as the demo's user (red-team round 28). The library makes
          // this folder writable by everyone too, but its parent (dir, 0700) lets nobody else in.
          .setOverrideWorkingDirectory(dir.resolve("binaries").toFile())
          .setLocaleConfig("pwfile", pwfile.toAbsolutePath().toString()) // passed to initdb as --pwfile=…
          .setConnectConfig("password", superuser.reveal())
          .setServerConfig("listen_addresses", "127.0.0.1")
          .setServerConfig("hba_file", hba.toAbsolutePath().toString())
          .setServerConfig("password_encryption", "scram-sha-256")
          .setServerConfig("max_connections", "200")
          .start();
    } finally {
      Files.deleteIfExists(pwfile);
    }
    watch(data, postmaster(data).map(ProcessHandle::pid));
    Secret password = randomSecret();
    Secret readPassword = randomSecret();
    try (Connection c = connect(pg.getPort(), "postgres", "postgres", superuser);
        Statement s = c.createStatement()) {
      // The passwords are hex, so quoting them as literals is safe.
      for (String[] role : new String[][] {{ROLE, password.reveal()}, {READ_ROLE, readPassword.reveal()}}) {
        s.execute("CREATE ROLE " + role[0] + " LOGIN PASSWORD '" + role[1] + "' NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS");
      }
      s.execute("CREATE DATABASE " + DATABASE + " OWNER " + ROLE);
      // PostgreSQL lets every role create large objects: in the demo's database only the owner
      // role may (red-team round 41: the read role created one). Only a superuser may revoke it.
      try (Connection shop = connect(pg.getPort(), DATABASE, "postgres", superuser); Statement t = shop.createStatement()) {
        for (String f : LARGE_OBJECT_MAKERS) {
          t.execute("REVOKE EXECUTE ON FUNCTION " + f + " FROM PUBLIC");
          t.execute("GRANT EXECUTE ON FUNCTION " + f + " TO " + ROLE);
        }
      }
      // Set up: from now on the superuser cannot log in at all.
      s.execute("ALTER ROLE postgres PASSWORD NULL");
    }
    superuserLockedOut(pg.getPort(), superuser);
    try (Connection c = connect(pg.getPort(), DATABASE, ROLE, password);
        Statement s = c.createStatement()) {
      s.execute(resource("demo-data.sql"));
      // The read role reads the tables, those made later through pg-demo too, and nothing more:
      // no temporary tables either (PUBLIC may make them by default), nor CREATE in public
      // (PostgreSQL 15 grants PUBLIC none).
      s.execute("REVOKE TEMPORARY ON DATABASE " + DATABASE + " FROM PUBLIC");
      s.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO " + READ_ROLE);
      s.execute("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO " + READ_ROLE);
    }
    return new DemoDatabase(pg, password, readPassword);
  }

  /**
   * Makes {@code dir} readable, writable and searchable by its owner only, who must be this
   * process's user: what is below it (the PostgreSQL binaries the demo runs, its data, the
   * set-up's password file) is then out of every other local user's reach.
   */
  private static void privateFolder(Path dir) throws IOException {
    java.nio.file.attribute.UserPrincipal me = dir.getFileSystem().getUserPrincipalLookupService()
        .lookupPrincipalByName(System.getProperty("user.name"));
    // The folder that holds it too (the demo's --dir): whoever may rename what is in it could put
    // a folder of theirs in place of this one (red-team round 29: a --dir of another user's).
    Path parent = dir.toAbsolutePath().getParent();
    for (Path p : parent == null ? List.of(dir) : List.of(parent, dir)) {
      java.nio.file.attribute.UserPrincipal owner = Files.getOwner(p, java.nio.file.LinkOption.NOFOLLOW_LINKS);
      if (!owner.equals(me)) {
        throw new IOException(p + " belongs to " + owner.getName() + ", not to " + me.getName()
            + ": the demo keeps the PostgreSQL it runs only in folders of its own user");
      }
      if (Files.isSymbolicLink(p)) throw new IOException(p + " is a symbolic link: the demo keeps its PostgreSQL in a folder of its own");
    }
    java.util.Set<java.nio.file.attribute.PosixFilePermission> perms = Files.getPosixFilePermissions(parent == null ? dir : parent);
    if (perms.contains(java.nio.file.attribute.PosixFilePermission.GROUP_WRITE)
        || perms.contains(java.nio.file.attribute.PosixFilePermission.OTHERS_WRITE)) {
      throw new IOException(parent + " may be written by other users: give the demo a --dir only you can write");
    }
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
  }

  private static Secret randomSecret() {
    byte[] random = new byte[24];
    RANDOM.nextBytes(random);
    return Secret.of(HexFormat.of().formatHex(random));
  }

  /** The target's pg_hba.conf: SCRAM for everyone, over loopback only. */
  private static final String SCRAM_ONLY = """
      # Everyone proves a password with SCRAM; the superuser's is removed once the demo is set up.
      host all all 127.0.0.1/32 scram-sha-256
      host all all ::1/128 scram-sha-256
      """;

  /** Checks that the superuser, its password removed, cannot log in; the demo does not start otherwise. */
  private static void superuserLockedOut(int port, Secret formerPassword) throws IOException {
    try (Connection c = connect(port, "postgres", "postgres", formerPassword)) {
      throw new IOException("the demo's PostgreSQL still lets its superuser in after its password was removed");
    } catch (SQLException refused) {
      // as it should
    }
  }

  /**
   * Stops the PostgreSQL a demo killed with {@code kill -9} left running in {@code data} (its watcher
   * killed as well): the postmaster its {@code postmaster.pid} names, when that process is a
   * {@code postgres} still running. Fast shutdown (SIGINT), up to 30 s.
   */
  static void stopLeftOver(Path data) throws IOException {
    Optional<ProcessHandle> postmaster = postmaster(data);
    if (postmaster.isEmpty()) return;
    long pid = postmaster.get().pid();
    LOG.info("stopping the PostgreSQL (pid {}) an earlier demo left running in {}", pid, data);
    try {
      new ProcessBuilder("kill", "-INT", Long.toString(pid)).redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor();
      postmaster.get().onExit().get(30, java.util.concurrent.TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while stopping the PostgreSQL an earlier demo left running", e);
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      throw new IOException("the PostgreSQL an earlier demo left running (pid " + pid + ", data directory " + data
          + ") did not stop within 30 s; stop it and start the demo again", e);
    }
  }

  private static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root, java.nio.file.LinkOption.NOFOLLOW_LINKS)) return;
    try (var paths = Files.walk(root)) {
      for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(p);
    }
  }

  /**
   * The running postmaster of {@code data}: the process its {@code postmaster.pid} names, when that
   * file names this data directory (its second line) and the process is a {@code postgres} whose
   * command line names it too, so that a stale file naming a process that took the id since (or
   * another cluster's postmaster) is never taken for it.
   */
  static Optional<ProcessHandle> postmaster(Path data) throws IOException {
    Path pidFile = data.resolve("postmaster.pid");
    if (!Files.isRegularFile(pidFile)) return Optional.empty();
    List<String> lines = Files.readAllLines(pidFile, StandardCharsets.UTF_8);
    if (lines.size() < 2) return Optional.empty();
    long pid;
    try {
      pid = Long.parseLong(lines.get(0).strip());
    } catch (NumberFormatException e) {
      return Optional.empty();
    }
    String dir = data.toAbsolutePath().normalize().toString();
    if (!Path.of(lines.get(1).strip()).toAbsolutePath().normalize().toString().equals(dir)) return Optional.empty();
    return ProcessHandle.of(pid).filter(ProcessHandle::isAlive)
        .filter(h -> h.info().command().map(c -> Path.of(c).getFileName().toString().equals("postgres")).orElse(false))
        .filter(h -> h.info().arguments().map(a -> List.of(a).contains(dir)).orElse(false));
  }

  /** Starts the {@link #WATCHER}; where there is no {@code sh} (Windows), the demo goes without. */
  private static void watch(Path data, Optional<Long> postmaster) {
    if (postmaster.isEmpty()) {
      LOG.warn("no watcher for the demo's PostgreSQL (its postmaster was not found): if the demo is killed with kill -9, stop it yourself");
      return;
    }
    try {
      new ProcessBuilder("sh", "-c", WATCHER, "gatehouse-demo-watcher", Long.toString(ProcessHandle.current().pid()),
          data.toAbsolutePath().toString(), Long.toString(postmaster.get()))
          .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    } catch (IOException e) {
      LOG.warn("no watcher for the demo's PostgreSQL ({}): if the demo is killed with kill -9, stop it yourself", e.getMessage());
    }
  }

  int port() {
    return postgres.getPort();
  }

  /** The owner role's password (resource pg-demo). */
  Secret password() {
    return password;
  }

  /** The read role's password (resource pg-demo-read). */
  Secret readPassword() {
    return readPassword;
  }

  private static Connection connect(int port, String database, String user, Secret password) throws SQLException {
    Properties p = new Properties();
    p.setProperty("user", user);
    if (!password.isEmpty()) p.setProperty("password", password.reveal());
    return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/" + database, p);
  }

  private static String resource(String name) throws IOException {
    try (InputStream in = DemoDatabase.class.getResourceAsStream(name)) {
      if (in == null) throw new IOException("missing resource " + name);
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  @Override
  public void close() throws IOException {
    postgres.close();
  }
}
