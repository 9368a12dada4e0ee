package dev.gatehouse.it;

import dev.gatehouse.testkit.OidcFixture;
import java.nio.file.Path;

/**
 * What an end-to-end test class starts once, in {@code @BeforeAll}: an OIDC provider served over
 * HTTP, a target database of its own and a gateway in front of it ({@link GatewayStack}, configured
 * in {@code dir} as {@code settings} say). {@link #close()}, in {@code @AfterAll}, stops the
 * gateway, then the target, then the provider; a start that fails stops what it had started.
 */
record EndToEnd(OidcFixture oidc, TargetDatabase target, GatewayStack stack) implements AutoCloseable {
  static EndToEnd start(Path dir) {
    return start(dir, GatewayStack.Settings.DEFAULT);
  }

  static EndToEnd start(Path dir, GatewayStack.Settings settings) {
    OidcFixture oidc = OidcFixture.start();
    TargetDatabase target = null;
    try {
      target = TargetDatabase.create();
      return new EndToEnd(oidc, target, GatewayStack.start(dir, oidc, GatewayStack.Target.of(target), settings));
    } catch (RuntimeException | Error e) {
      try {
        if (target != null) target.close();
      } finally {
        oidc.close();
      }
      throw e;
    }
  }

  @Override
  public void close() {
    try {
      stack.close();
    } finally {
      try {
        target.close();
      } finally {
        oidc.close();
      }
    }
  }
}
