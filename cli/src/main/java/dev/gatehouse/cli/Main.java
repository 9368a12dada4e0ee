package dev.gatehouse.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code gatehouse} command. Each subcommand is a class of its own; this one only lists them.
 * Exit codes: 0 success, 1 the operation found a problem (a failed verification, a policy test
 * mismatch), 2 usage or configuration error.
 */
@Command(
    name = "gatehouse",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = "Identity-aware access gateway: audit, guardrails and masking (approvals and session recording are planned).",
    subcommands = {ServeCommand.class, DemoCommand.class, AuditCommand.class, PolicyCommand.class, DevIssuerCommand.class})
public final class Main {
  public static void main(String[] args) {
    // Before any logger exists: the demo keeps the terminal for its instructions and logs to a file.
    if (args.length > 0 && args[0].equals("demo") && System.getProperty("gatehouse.log.appender") == null) {
      System.setProperty("gatehouse.log.appender", "FILE");
      System.setProperty("gatehouse.log.file", demoDir(args).resolve("gatehouse.log").toString());
    }
    // Tools other than serve and demo print results on stdout: their logs go to stderr, warnings only.
    if (args.length > 0 && !args[0].equals("serve") && !args[0].equals("demo")
        && System.getProperty("gatehouse.log.appender") == null) {
      System.setProperty("gatehouse.log.appender", "STDERR");
      if (System.getProperty("gatehouse.log.level") == null) System.setProperty("gatehouse.log.level", "WARN");
    }
    System.exit(run(args));
  }

  private static java.nio.file.Path demoDir(String[] args) {
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--dir") && i + 1 < args.length) return java.nio.file.Path.of(args[i + 1]);
      if (args[i].startsWith("--dir=")) return java.nio.file.Path.of(args[i].substring(6));
    }
    return java.nio.file.Path.of("data", "demo");
  }

  /** Runs the CLI in this JVM and returns the exit code (for embedding and tests; {@link #main} exits). */
  public static int run(String... args) {
    CommandLine cli = new CommandLine(new Main());
    cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
      commandLine.getErr().println("gatehouse: " + e.getMessage());
      return 2;
    });
    return cli.execute(args);
  }

  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = Main.class.getPackage().getImplementationVersion();
      return new String[] {"gatehouse " + (v == null ? "development build" : v)};
    }
  }
}
