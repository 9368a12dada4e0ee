package dev.gatehouse.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The demo prints its tokens' lifetime as --token-ttl takes it: 90 s is not "0h". */
class DemoDurationTest {
  @Test
  void aLifetimeIsPrintedInTheLargestUnitThatDividesItExactly() {
    assertThat(DemoCommand.humanDuration(Duration.ofHours(8))).isEqualTo("8h");
    assertThat(DemoCommand.humanDuration(Duration.ofSeconds(90))).isEqualTo("90s");
    assertThat(DemoCommand.humanDuration(Duration.ofMinutes(90))).isEqualTo("90m");
    assertThat(DemoCommand.humanDuration(Duration.ofMinutes(120))).isEqualTo("2h");
  }
}
