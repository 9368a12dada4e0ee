package dev.gatehouse.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class PeerNodeTest {
  @Test
  void aPeerReachedInClearMustBeOnLoopback() {
    assertThat(new PeerNode(1, "127.0.0.1", 15432, TargetTls.disabled()).address()).isEqualTo("127.0.0.1:15432");
    assertThat(new PeerNode(1, "::1", 15432, TargetTls.disabled()).address()).isEqualTo("[::1]:15432");
    assertThat(new PeerNode(1, "localhost", 15432, TargetTls.disabled()).host()).isEqualTo("localhost");
    assertThatThrownBy(() -> new PeerNode(1, "gh-1.internal", 15432, TargetTls.disabled()))
        .hasMessageContaining("TLS disabled, which is allowed only towards a loopback address");
    assertThatThrownBy(() -> new PeerNode(1, "10.0.0.5", 15432, TargetTls.disabled()))
        .hasMessageContaining("cancel keys are secrets");
    assertThat(new PeerNode(1, "gh-1.internal", 15432, TargetTls.verifyFull()).tls().enabled()).isTrue();
  }

  @Test
  void idsAndPortsAreChecked() {
    assertThatThrownBy(() -> new PeerNode(256, "127.0.0.1", 15432, TargetTls.disabled())).hasMessageContaining("0..255");
    assertThatThrownBy(() -> new PeerNode(-1, "127.0.0.1", 15432, TargetTls.disabled())).hasMessageContaining("0..255");
    assertThatThrownBy(() -> new PeerNode(1, "127.0.0.1", 0, TargetTls.disabled())).hasMessageContaining("port");
    assertThatThrownBy(() -> new PeerNode(1, " ", 15432, TargetTls.disabled())).hasMessageContaining("blank");
  }

  @Test
  void aNodeNeitherListsItselfNorTwoPeersWithOneId() {
    PostgresListenerConfig base = PostgresListenerConfig.loopback(0);
    PeerNode one = new PeerNode(1, "127.0.0.1", 15433, TargetTls.disabled());
    assertThat(base.withNode(2, List.of(one)).peers()).containsOnlyKeys(1);
    assertThat(base.withNode(2, List.of(one)).nodeId()).isEqualTo(2);
    assertThatThrownBy(() -> base.withNode(1, List.of(one))).hasMessageContaining("lists itself");
    assertThatThrownBy(() -> base.withNode(2, List.of(one, new PeerNode(1, "127.0.0.1", 15434, TargetTls.disabled()))))
        .hasMessageContaining("two peers have node id 1");
    // The other with-ers keep the peers.
    assertThat(base.withNode(2, List.of(one)).withMaxStartups(7).withStartupTimeout(java.time.Duration.ofSeconds(3))
        .peers()).containsOnlyKeys(1);
  }
}
