package dev.gatehouse.cli;

import dev.gatehouse.server.ConfigLoader;
import dev.gatehouse.server.Gatehouse;
import dev.gatehouse.server.SecretRef;
import java.nio.file.Path;
import java.time.Clock;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code gatehouse serve}: runs the gateway until SIGTERM/SIGINT, then stops it cleanly. */
@Command(name = "serve", mixinStandardHelpOptions = true, description = "Run the gateway.")
final class ServeCommand implements Callable<Integer> {
  @Option(names = {"-c", "--config"}, defaultValue = "gatehouse.yaml", description = "Configuration file (default: ${DEFAULT-VALUE}).")
  Path config;

  @Override
  public Integer call() throws InterruptedException {
    ConfigLoader.Loaded loaded = new ConfigLoader(SecretRef.systemEnv()).load(config);
    Gatehouse gatehouse = Gatehouse.start(loaded, Clock.systemUTC());
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      gatehouse.close();
      stopped.countDown();
    }, "gatehouse-shutdown"));
    stopped.await();
    return 0;
  }
}
