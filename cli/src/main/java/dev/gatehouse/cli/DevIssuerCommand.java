package dev.gatehouse.cli;

import dev.gatehouse.identity.DevelopmentIssuer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code gatehouse dev-issuer}: a development OIDC provider FOR TRYING GATEHOUSE AND BENCHMARKS ONLY.
 * It serves discovery and JWKS on loopback, writes a token for each {@code --user} into a directory,
 * and runs until stopped. It vouches for anyone: never configure it as a trusted issuer of a
 * gateway that guards anything real.
 */
@Command(name = "dev-issuer", mixinStandardHelpOptions = true,
    description = "Run a development OIDC provider on loopback (FOR TESTS AND BENCHMARKS ONLY) and write tokens for the given users.")
final class DevIssuerCommand implements Callable<Integer> {
  @Option(names = "--port", defaultValue = "0", description = "Port on 127.0.0.1 (default: any free port).") int port;
  @Option(names = "--audience", defaultValue = "gatehouse", description = "Audience of the tokens (default: ${DEFAULT-VALUE}).") String audience;
  @Option(names = "--user", required = true, description = "NAME[:GROUP[,GROUP...]] (repeatable): write NAME.token for this user.") List<String> users;
  @Option(names = "--out", defaultValue = "data/dev-issuer", description = "Directory for the tokens and issuer.url (default: ${DEFAULT-VALUE}).") Path out;
  @Option(names = "--ttl", defaultValue = "8h", description = "Token lifetime (default: ${DEFAULT-VALUE}).") String ttl;

  @Override
  public Integer call() throws Exception {
    Files.createDirectories(out);
    try (DevelopmentIssuer issuer = DevelopmentIssuer.start(port)) {
      Duration lifetime = DemoCommand.parseDuration(ttl);
      for (String spec : users) {
        String[] parts = spec.split(":", 2);
        String name = parts[0];
        if (!name.matches("[A-Za-z0-9._-]{1,64}")) throw new IllegalArgumentException("--user: bad name \"" + name + "\"");
        Set<String> groups = new LinkedHashSet<>();
        if (parts.length == 2 && !parts[1].isBlank()) groups.addAll(List.of(parts[1].split(",")));
        issuer.register(new DevelopmentIssuer.DemoUser(name, name + "@dev.gatehouse.local", groups));
        Path file = out.resolve(name + ".token");
        Files.deleteIfExists(file);
        try {
          Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        } catch (UnsupportedOperationException e) {
          Files.createFile(file);
        }
        Files.writeString(file, issuer.mint(name, name + "@dev.gatehouse.local", groups, audience, lifetime));
      }
      Files.writeString(out.resolve("issuer.url"), issuer.issuer().toString() + "\n");
      System.out.println("development issuer (FOR TESTS ONLY) at " + issuer.issuer() + "; tokens in " + out);
      System.out.flush();
      CountDownLatch stop = new CountDownLatch(1);
      Runtime.getRuntime().addShutdownHook(new Thread(stop::countDown, "dev-issuer-shutdown"));
      stop.await();
    }
    return 0;
  }
}
