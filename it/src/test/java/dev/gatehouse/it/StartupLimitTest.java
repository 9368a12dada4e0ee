package dev.gatehouse.it;

import static dev.gatehouse.it.GatewayStack.ALICE;
import static org.assertj.core.api.Assertions.assertThat;

import dev.gatehouse.testkit.Psql;
import java.io.IOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code listeners.postgres.maxStartups} from gatehouse.yaml: with 2, two clients that stay silent
 * in startup fill it, the next connection is refused at once with FATAL 53300, and sessions start
 * again once the silent ones are gone.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS) // a hang guard, not a timing assertion
class StartupLimitTest {
  @TempDir static Path dir;
  static EndToEnd e2e;
  static GatewayStack stack;

  @BeforeAll
  static void start() {
    e2e = EndToEnd.start(dir, GatewayStack.Settings.DEFAULT.withMaxStartups(2));
    stack = e2e.stack();
  }

  @AfterAll
  static void stop() {
    if (e2e != null) e2e.close();
  }

  @Test
  void theConfiguredNumberOfConnectionsInStartupIsTheLimit() throws IOException {
    try (Socket a = new Socket("127.0.0.1", stack.port()); Socket b = new Socket("127.0.0.1", stack.port())) {
      // Half a startup packet each: both stay in startup until their deadline.
      a.getOutputStream().write(new byte[] {0, 0, 0, 40, 0, 3});
      b.getOutputStream().write(new byte[] {0, 0, 0, 40, 0, 3});
      try (Socket c = new Socket("127.0.0.1", stack.port())) {
        c.setSoTimeout(60_000);
        String reply = new String(c.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        assertThat(reply).startsWith("E").contains("SFATAL").contains("C53300").contains("too many connections are starting up");
      }
    }
    Psql.Result r = stack.psql(ALICE).withArgs("-At").command("SELECT 'in again'");
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    assertThat(r.stdout()).contains("in again");
  }
}
