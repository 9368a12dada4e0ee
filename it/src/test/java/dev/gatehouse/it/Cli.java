package dev.gatehouse.it;

import dev.gatehouse.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/**
 * Runs the {@code gatehouse} command in-process, as {@code Main.main} would but without exiting the
 * JVM, and returns its exit code and what it printed on standard output and standard error.
 *
 * <p>{@code Main.run(String...)} is package-private in the cli module, so it is called reflectively
 * (the integrator is asked to make it public). The process-wide {@code System.out} and {@code
 * System.err} are swapped while the command runs: not for concurrent use.
 */
final class Cli {
  record Result(int exitCode, String out, String err) {}

  private Cli() {}

  static synchronized Result run(String... args) {
    PrintStream oldOut = System.out;
    PrintStream oldErr = System.err;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    try {
      int code = Main.run(args);
      return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    } catch (RuntimeException e) {
      throw new AssertionError("gatehouse " + String.join(" ", args) + " threw instead of returning an exit code", e);
    } finally {
      System.out.flush();
      System.err.flush();
      System.setOut(oldOut);
      System.setErr(oldErr);
    }
  }
}
