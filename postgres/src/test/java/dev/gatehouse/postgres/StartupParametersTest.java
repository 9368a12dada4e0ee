package dev.gatehouse.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

class StartupParametersTest {
  @Test
  void allowedParametersPassAndTheBackendAlwaysGetsTheFixedSettings() {
    Map<String, String> sent = new LinkedHashMap<>();
    sent.put("user", "alice");
    sent.put("database", "pg-prod");
    sent.put("application_name", "psql\u0007évil" + "x".repeat(100));
    sent.put("client_encoding", "utf-8");
    sent.put("DateStyle", "ISO, DMY");
    sent.put("TimeZone", "Europe/Berlin");
    sent.put("extra_float_digits", "3");
    StartupParameters p = StartupParameters.check(sent);
    assertThat(p.database()).isEqualTo("pg-prod");
    assertThat(p.application()).startsWith("psql??vil").hasSize(63);
    assertThat(p.backend()).containsEntry("client_encoding", "UTF8")
        .containsEntry("standard_conforming_strings", "on")
        .containsEntry("DateStyle", "ISO, DMY")
        .containsEntry("TimeZone", "Europe/Berlin")
        .containsEntry("extra_float_digits", "3")
        .doesNotContainKeys("user", "database");
  }

  @Test
  void userAndDatabaseAreMeantOnlyByTheirExactNamesAsPostgresMatchesThem() {
    // PostgreSQL takes "USER" for a setting of that name (unknown), not for the user: so does Gatehouse.
    for (String name : new String[] {"USER", "User", "DATABASE", "Database"}) {
      Map<String, String> sent = new LinkedHashMap<>();
      sent.put("user", "alice");
      sent.put("database", "pg-prod");
      sent.put(name, "other");
      assertThatThrownBy(() -> StartupParameters.check(sent)).as(name)
          .isInstanceOf(PostgresGatewayException.class)
          .hasMessageContaining("\"" + name + "\" is not allowed")
          .satisfies(e -> assertThat(((PostgresGatewayException) e).sqlstate()).isEqualTo("42704"));
    }
    // Settings keep PostgreSQL's case-insensitive names.
    assertThat(StartupParameters.check(Map.of("user", "a", "database", "d", "datestyle", "ISO")).backend())
        .containsEntry("DateStyle", "ISO");
  }

  @Test
  void valuesOutsideTheAllowListAreRefusedNamingTheParameter() {
    for (Map.Entry<String, String> bad : Map.of(
        "client_encoding", "SJIS", "DateStyle", "SQL, DMY", "TimeZone", "UTC' ; DROP",
        "extra_float_digits", "99").entrySet()) {
      assertThatThrownBy(() -> StartupParameters.check(Map.of("user", "a", "database", "d", bad.getKey(), bad.getValue())))
          .isInstanceOf(PostgresGatewayException.class)
          .hasMessageContaining(bad.getKey())
          .satisfies(e -> assertThat(((PostgresGatewayException) e).sqlstate()).isEqualTo("22023"));
    }
  }

  @Test
  void plaintextListenersAreAllowedOnlyOnLoopback() {
    assertThatThrownBy(() -> new PostgresListenerConfig("0.0.0.0", 15432, Optional.empty(), false, Set.of(),
        Duration.ofSeconds(10), 1 << 20, 10_000, 0, 512))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("plaintext is allowed only on a loopback address");
    assertThat(new PostgresListenerConfig("::1", 15432, Optional.empty(), false, Set.of(),
        Duration.ofSeconds(10), 1 << 20, 10_000, 0, 512).bindHost()).isEqualTo("::1");
  }
}
