package dev.gatehouse.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.gatehouse.core.Secret;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class PostgresTargetTest {

  @Test
  void toStringNeverShowsThePassword() {
    PostgresTarget target =
        new PostgresTarget("db.internal", 5432, "app", "gatehouse", Secret.of("hunter2-secret"), TargetTls.verifyFull(), false);

    assertThat(target.toString()).doesNotContain("hunter2-secret").contains("db.internal");
  }

  @Test
  void invalidTargetsAreRefusedWithTheFailedCheck() {
    Secret pw = Secret.of("x");
    TargetTls tls = TargetTls.disabled();
    assertThatThrownBy(() -> new PostgresTarget(" ", 5432, "d", "u", pw, tls, false)).hasMessage("host is blank");
    assertThatThrownBy(() -> new PostgresTarget("h", 0, "d", "u", pw, tls, false)).hasMessageContaining("port out of range");
    assertThatThrownBy(() -> new PostgresTarget("h", 70000, "d", "u", pw, tls, false)).hasMessageContaining("port out of range");
    assertThatThrownBy(() -> new PostgresTarget("h", 5432, "", "u", pw, tls, false)).hasMessage("database is empty");
    assertThatThrownBy(() -> new PostgresTarget("h", 5432, "d", "u\0x", pw, tls, false)).hasMessage("user contains a NUL character");
    assertThatThrownBy(() -> new PostgresTarget("h", 5432, "d\0user", "u", pw, tls, false)).hasMessage("database contains a NUL character");
  }

  @Test
  void tlsSettingsThatCannotTakeEffectAreRefused() {
    assertThatThrownBy(() -> new TargetTls(TargetTls.Mode.DISABLE, Optional.of(Path.of("/ca.pem")), Optional.empty()))
        .hasMessageContaining("DISABLE but caFile or serverName is set");
    assertThatThrownBy(() -> new TargetTls(TargetTls.Mode.VERIFY_FULL, Optional.empty(), Optional.of(" ")))
        .hasMessage("serverName is blank");
  }

  @Test
  void addressBracketsIpv6Literals() {
    Secret pw = Secret.of("x");
    assertThat(new PostgresTarget("::1", 5432, "d", "u", pw, TargetTls.disabled(), false).address()).isEqualTo("[::1]:5432");
    assertThat(new PostgresTarget("db", 6432, "d", "u", pw, TargetTls.disabled(), false).address()).isEqualTo("db:6432");
  }
}
