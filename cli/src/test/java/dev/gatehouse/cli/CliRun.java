package dev.gatehouse.cli;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * What one run of the {@code gatehouse} command printed and returned, and the two ways tests start
 * it: in this JVM through {@link Main#run} (standard output and error swapped for buffers while it
 * runs, so tests using it must not run in parallel), or in a child JVM with this test class path,
 * as a user would (needed where the output depends on per-JVM state such as log-once latches).
 */
record CliRun(int exit, String out, String err) {

  /** Runs {@code gatehouse args...} in this JVM. */
  static CliRun inProcess(String... args) {
    PrintStream out = System.out;
    PrintStream err = System.err;
    ByteArrayOutputStream outBytes = new ByteArrayOutputStream();
    ByteArrayOutputStream errBytes = new ByteArrayOutputStream();
    int exit;
    try (PrintStream o = new PrintStream(outBytes, true, StandardCharsets.UTF_8);
         PrintStream e = new PrintStream(errBytes, true, StandardCharsets.UTF_8)) {
      System.setOut(o);
      System.setErr(e);
      exit = Main.run(args);
    } finally {
      System.setOut(out);
      System.setErr(err);
    }
    return new CliRun(exit, outBytes.toString(StandardCharsets.UTF_8), errBytes.toString(StandardCharsets.UTF_8));
  }

  /** Runs {@code gatehouse args...} in a new JVM (the same java, this test's class path). */
  static CliRun childProcess(String... args) throws IOException, InterruptedException {
    String java = ProcessHandle.current().info().command().orElseThrow(() -> new IllegalStateException("no java command"));
    List<String> command = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED",
        "-cp", System.getProperty("java.class.path"), Main.class.getName()));
    command.addAll(List.of(args));
    Process p = new ProcessBuilder(command).start();
    p.getOutputStream().close(); // no input: a command waiting for some would see end of file
    // Drain both pipes concurrently so a chatty child never blocks on a full pipe.
    byte[][] errBytes = new byte[1][];
    Thread err = Thread.ofVirtual().start(() -> errBytes[0] = readAll(p.getErrorStream()));
    byte[] outBytes = readAll(p.getInputStream());
    if (!p.waitFor(120, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IllegalStateException("gatehouse " + String.join(" ", args) + " did not end within 120 s");
    }
    err.join();
    return new CliRun(p.exitValue(), new String(outBytes, StandardCharsets.UTF_8), new String(errBytes[0], StandardCharsets.UTF_8));
  }

  /** The non-empty lines of standard output. */
  List<String> outLines() {
    return out.lines().filter(l -> !l.isBlank()).toList();
  }

  /** A file on the test class path, as a path the CLI can open. */
  static Path resource(String name) {
    URL url = Objects.requireNonNull(CliRun.class.getResource(name), () -> name + " is not on the test class path");
    try {
      return Path.of(url.toURI());
    } catch (URISyntaxException | IllegalArgumentException e) {
      throw new IllegalStateException(name + " is not a plain file: " + url, e);
    }
  }

  /**
   * The reference policy as a file: the demo policy shipped in the policy module's resources
   * (copied out when it sits inside a jar).
   */
  static Path demoPolicy(Path dir) {
    String name = "/dev/gatehouse/policy/demo-policy.yaml";
    URL url = Objects.requireNonNull(CliRun.class.getResource(name), () -> name + " is not on the class path");
    if (url.getProtocol().equals("file")) return resource(name);
    try (InputStream in = url.openStream()) {
      Path copy = dir.resolve("demo-policy.yaml");
      Files.copy(in, copy);
      return copy;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static byte[] readAll(InputStream in) {
    try (in) {
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
