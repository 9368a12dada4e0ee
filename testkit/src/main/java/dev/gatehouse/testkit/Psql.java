package dev.gatehouse.testkit;

import dev.gatehouse.core.Secret;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Runs the real {@code psql} binary, as a user would, and returns what it printed.
 *
 * <p>An immutable invocation: each {@code with…} method returns a changed copy; {@link #command} and
 * {@link #script} run it. psql always runs with {@code -X} (no {@code ~/.psqlrc}) and {@code -w}
 * (never prompt for a password: a missing one fails instead of hanging), with the {@code PG*}
 * variables of the calling environment removed (so a developer's {@code PGPASSWORD} or {@code
 * PGHOST} cannot leak into a test), English messages and a 10 s connect timeout unless given.
 * When the timeout passes, psql and everything it started are killed and the call throws: no
 * process is ever left behind.
 *
 * <p>Thread-safe (immutable); each run starts its own process.
 */
public final class Psql {
  /** Environment variable naming a directory that holds psql and pgbench, searched first. */
  public static final String ENV_BIN = "GATEHOUSE_PG_BIN";

  private static final Pattern PASSWORD_IN_CONNINFO = Pattern.compile("(?i)(password\\s*=\\s*)('(?:\\\\.|[^'])*'|\\S+)");

  /** What psql did. {@code stdout} and {@code stderr} are decoded as UTF-8. */
  public record Result(int exitCode, String stdout, String stderr) {
    public Result {
      Objects.requireNonNull(stdout, "stdout == null");
      Objects.requireNonNull(stderr, "stderr == null");
    }

    public boolean succeeded() {
      return exitCode == 0;
    }

    /**
     * The SQLSTATE of the first error or fatal message on stderr; psql prints it only with
     * {@link Psql#withVerboseErrors()} (or {@code \set VERBOSITY verbose} in a script). Errors
     * while connecting come from libpq without a SQLSTATE, so a refused connection has none here:
     * read those codes with pgjdbc ({@code SQLException.getSQLState()}).
     */
    public Optional<String> sqlState() {
      Matcher m = SQLSTATE.matcher(stderr);
      return m.find() ? Optional.of(m.group(1)) : Optional.empty();
    }
  }

  private static final Pattern SQLSTATE = Pattern.compile("(?m)^(?:psql:[^\\n]*?)?(?:ERROR|FATAL|PANIC):  ([0-9A-Z]{5}): ");

  private final Path binary;
  private final String conninfo;
  private final Map<String, String> env;
  private final Optional<Secret> password;
  private final boolean onErrorStop;
  private final java.time.Duration timeout;
  private final List<String> extraArgs;

  private Psql(Path binary, String conninfo, Map<String, String> env, Optional<Secret> password, boolean onErrorStop,
      java.time.Duration timeout, List<String> extraArgs) {
    this.binary = binary;
    this.conninfo = conninfo;
    this.env = Map.copyOf(env);
    this.password = password;
    this.onErrorStop = onErrorStop;
    this.timeout = timeout;
    this.extraArgs = List.copyOf(extraArgs);
  }

  /**
   * An invocation of psql against a libpq conninfo string ({@code "host=127.0.0.1 port=15432
   * dbname=pg-prod user=alice sslmode=disable"}). Give the password with {@link #withPassword},
   * not in the conninfo. Defaults: ON_ERROR_STOP on, 30 s timeout, unaligned tuples-only output
   * off (psql's own defaults).
   *
   * @throws TestkitException when no psql binary can be found
   */
  public static Psql connect(String conninfo) {
    Objects.requireNonNull(conninfo, "conninfo == null");
    return new Psql(psql(), conninfo, Map.of(), Optional.empty(), true, java.time.Duration.ofSeconds(30), List.of());
  }

  /** Sends this password (PGPASSWORD) when the server asks; never shown by {@link #toString}. */
  public Psql withPassword(Secret password) {
    Objects.requireNonNull(password, "password == null");
    return new Psql(binary, conninfo, env, Optional.of(password), onErrorStop, timeout, extraArgs);
  }

  /** Sets an environment variable for psql ({@code PGSSLROOTCERT}, {@code PGAPPNAME}, ...). */
  public Psql withEnv(String name, String value) {
    Objects.requireNonNull(name, "name == null");
    Objects.requireNonNull(value, "value == null");
    if (name.equals("PGPASSWORD")) throw new IllegalArgumentException("use withPassword for PGPASSWORD");
    Map<String, String> next = new LinkedHashMap<>(env);
    next.put(name, value);
    return new Psql(binary, conninfo, next, password, onErrorStop, timeout, extraArgs);
  }

  /** {@code -v ON_ERROR_STOP=1} (the default) or {@code =0}: whether a failed statement ends the script. */
  public Psql withOnErrorStop(boolean stop) {
    return new Psql(binary, conninfo, env, password, stop, timeout, extraArgs);
  }

  /** How long psql may run before it is killed and the call fails. */
  public Psql withTimeout(java.time.Duration timeout) {
    Objects.requireNonNull(timeout, "timeout == null");
    if (timeout.isNegative() || timeout.isZero()) throw new IllegalArgumentException("timeout <= 0");
    return new Psql(binary, conninfo, env, password, onErrorStop, timeout, extraArgs);
  }

  /** {@code -v VERBOSITY=verbose}: error messages carry their SQLSTATE, read by {@link Result#sqlState()}. */
  public Psql withVerboseErrors() {
    return withArgs("-v", "VERBOSITY=verbose");
  }

  /** Extra command-line arguments, e.g. {@code "-At"} for bare values, {@code "-e"} to echo. */
  public Psql withArgs(String... args) {
    List<String> next = new ArrayList<>(extraArgs);
    next.addAll(List.of(args));
    return new Psql(binary, conninfo, env, password, onErrorStop, timeout, next);
  }

  /** Runs SQL given with {@code -c} (one simple-protocol Query message, however many statements). */
  public Result command(String sql) {
    Objects.requireNonNull(sql, "sql == null");
    return run(List.of("-c", sql), new byte[0]);
  }

  /** Runs a script fed on standard input, as {@code psql -f -}: statement by statement, meta-commands allowed. */
  public Result script(String script) {
    Objects.requireNonNull(script, "script == null");
    return run(List.of("-f", "-"), script.getBytes(StandardCharsets.UTF_8));
  }

  /** As {@link #script(String)}, with the bytes as given: not necessarily UTF-8 (bad input on purpose). */
  public Result script(byte[] script) {
    Objects.requireNonNull(script, "script == null");
    return run(List.of("-f", "-"), script.clone());
  }

  /** The psql binary that runs. */
  public Path binary() {
    return binary;
  }

  private Result run(List<String> sqlArgs, byte[] stdin) {
    List<String> cmd = new ArrayList<>();
    cmd.add(binary.toString());
    cmd.add("-X");
    cmd.add("-w");
    cmd.add("-v");
    cmd.add("ON_ERROR_STOP=" + (onErrorStop ? "1" : "0"));
    cmd.addAll(extraArgs);
    cmd.addAll(sqlArgs);
    cmd.add("-d");
    cmd.add(conninfo);
    ProcessBuilder pb = new ProcessBuilder(cmd);
    Map<String, String> environment = pb.environment();
    environment.keySet().removeIf(k -> k.startsWith("PG"));
    environment.put("LC_ALL", "C.UTF-8");
    environment.put("LC_MESSAGES", "C");
    environment.put("PGCONNECT_TIMEOUT", "10");
    environment.putAll(env);
    password.ifPresent(p -> environment.put("PGPASSWORD", p.reveal()));
    return Processes.run(pb, stdin, timeout, "psql against " + redacted(conninfo));
  }

  /** The psql binary: {@value #ENV_BIN}, then PATH, then the usual PostgreSQL locations. */
  public static Path psql() {
    return find("psql").orElseThrow(() -> new TestkitException(
        "psql not found on PATH, in $" + ENV_BIN + " or under /usr/lib/postgresql/*/bin; install postgresql-client"));
  }

  /** The pgbench binary, searched like {@link #psql()} (Debian: package postgresql-contrib or postgresql). */
  public static Path pgbench() {
    return find("pgbench").orElseThrow(() -> new TestkitException(
        "pgbench not found on PATH, in $" + ENV_BIN + " or under /usr/lib/postgresql/*/bin; install postgresql-contrib"));
  }

  /** Finds a PostgreSQL client program by name. */
  public static Optional<Path> find(String program) {
    Objects.requireNonNull(program, "program == null");
    List<Path> candidates = new ArrayList<>();
    Optional.ofNullable(System.getenv(ENV_BIN)).filter(s -> !s.isBlank()).ifPresent(d -> candidates.add(Path.of(d)));
    Optional.ofNullable(System.getenv("PATH")).ifPresent(path -> {
      for (String dir : path.split(java.io.File.pathSeparator)) {
        if (!dir.isBlank()) candidates.add(Path.of(dir));
      }
    });
    // Debian installs versioned binaries here; the newest client talks to every older server.
    Path debian = Path.of("/usr/lib/postgresql");
    if (Files.isDirectory(debian)) {
      try (Stream<Path> versions = Files.list(debian)) {
        versions.sorted(Comparator.comparing(Psql::versionOf).reversed()).forEach(v -> candidates.add(v.resolve("bin")));
      } catch (IOException ignored) {
        // An unreadable directory only means fewer candidates.
      }
    }
    for (String dir : List.of("/opt/homebrew/opt/libpq/bin", "/usr/local/opt/libpq/bin", "/opt/homebrew/bin", "/usr/local/bin")) {
      candidates.add(Path.of(dir));
    }
    return candidates.stream().map(d -> d.resolve(program)).filter(Files::isExecutable).findFirst();
  }

  private static int versionOf(Path dir) {
    try {
      return Integer.parseInt(dir.getFileName().toString());
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  static String redacted(String conninfo) {
    return PASSWORD_IN_CONNINFO.matcher(conninfo).replaceAll("$1[redacted]");
  }

  @Override
  public String toString() {
    return "Psql[" + redacted(conninfo) + (password.isPresent() ? ", with password" : "") + "]";
  }

  /**
   * Running a child process to completion, bounded in time, leaving nothing behind (its
   * descendants are killed too); also for tests that run other programs than psql.
   */
  public static final class Processes {
    private Processes() {}

    public static Result run(ProcessBuilder pb, byte[] stdin, java.time.Duration timeout, String what) {
      Process process;
      try {
        process = pb.start();
      } catch (IOException e) {
        throw new TestkitException("could not start " + what + ": " + e.getMessage(), e);
      }
      try {
        // Both pipes are drained while the process runs, or a chatty child blocks on a full pipe.
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Thread outReader = Thread.ofVirtual().start(() -> drain(process.getInputStream(), out));
        Thread errReader = Thread.ofVirtual().start(() -> drain(process.getErrorStream(), err));
        Thread writer = Thread.ofVirtual().start(() -> {
          try (OutputStream in = process.getOutputStream()) {
            in.write(stdin);
          } catch (IOException ignored) {
            // The child exited without reading all of its input; its exit code tells why.
          }
        });
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
          kill(process);
          outReader.join(2000);
          errReader.join(2000);
          throw new TestkitException(what + " did not finish within " + timeout + " and was killed; stdout so far: "
              + text(out) + "; stderr so far: " + text(err));
        }
        writer.join(2000);
        outReader.join();
        errReader.join();
        return new Result(process.exitValue(), text(out), text(err));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new TestkitException("interrupted while waiting for " + what, e);
      } finally {
        kill(process);
      }
    }

    static void kill(Process process) {
      process.descendants().forEach(ProcessHandle::destroyForcibly);
      if (process.isAlive()) {
        process.destroyForcibly();
        try {
          process.waitFor(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }

    private static void drain(InputStream in, ByteArrayOutputStream sink) {
      byte[] buf = new byte[8192];
      try (in) {
        int n;
        while ((n = in.read(buf)) >= 0) {
          synchronized (sink) {
            sink.write(buf, 0, n);
          }
        }
      } catch (IOException ignored) {
        // The stream closes when the process is killed; what was read so far is kept.
      }
    }

    private static String text(ByteArrayOutputStream sink) {
      synchronized (sink) {
        return sink.toString(StandardCharsets.UTF_8);
      }
    }
  }
}
