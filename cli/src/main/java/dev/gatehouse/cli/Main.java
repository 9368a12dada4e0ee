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
    description = "Identity-aware access gateway: audit, guardrails, approvals, masking, recording.",
    subcommands = {})
public final class Main {
  public static void main(String[] args) {
    System.exit(run(args));
  }

  static int run(String... args) {
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
