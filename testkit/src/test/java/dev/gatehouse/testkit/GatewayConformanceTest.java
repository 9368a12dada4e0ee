package dev.gatehouse.testkit;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.gatehouse.testkit.InMemoryGateway.Flaw;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/** The suite passes for a gateway that behaves, and each flaw it is meant to catch makes it fail. */
class GatewayConformanceTest {

  @Nested
  class WellBehavedGateway implements GatewayConformance {
    private final InMemoryGateway gateway = new InMemoryGateway();

    @Override
    public GatewayUnderTest gateway() {
      return gateway;
    }
  }

  private static GatewayConformance suiteFor(Flaw flaw) {
    InMemoryGateway g = new InMemoryGateway(flaw);
    return () -> g;
  }

  @Test
  void gatewayThatLogsTokensFailsTheCredentialCheck() {
    assertThatThrownBy(() -> suiteFor(Flaw.LOGS_TOKENS).credentialsNeverAppearInLogsAuditOrClientMessages())
        .isInstanceOf(AssertionError.class)
        .hasMessageContaining("the gateway's logs");
  }

  @Test
  void gatewayThatDropsTheSessionOnADenialFailsTheDenialCheck() {
    assertThatThrownBy(() -> suiteFor(Flaw.DENIAL_KILLS_SESSION).deniedCommandYieldsTheNativeErrorAndLeavesTheSessionUsable())
        .isInstanceOf(AssertionError.class)
        .hasMessageContaining("connection closed by a denial");
  }

  @Test
  void gatewayThatSkipsOutcomeEventsFailsTheAuditSequenceCheck() {
    assertThatThrownBy(() -> suiteFor(Flaw.SKIPS_COMPLETION_EVENTS).auditHoldsEverySessionEventInOrder())
        .isInstanceOf(AssertionError.class)
        .hasMessageContaining("audit sequence");
  }

  @Test
  void gatewayThatHidesADroppedTargetFailsTheDropCheck() {
    assertThatThrownBy(() -> suiteFor(Flaw.HIDES_DROPPED_TARGET).droppedTargetConnectionIsReportedCleanly())
        .isInstanceOf(AssertionError.class)
        .hasMessageContaining("reply after the target dropped the connection");
  }
}
