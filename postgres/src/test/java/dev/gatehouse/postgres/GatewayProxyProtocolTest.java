package dev.gatehouse.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** A trusted load balancer's PROXY protocol v2 header makes the audit show the real client. */
class GatewayProxyProtocolTest {
  private static final byte[] SIGNATURE = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

  @Test
  void theAuditShowsTheAddressTheTrustedBalancerReports() throws Exception {
    try (GatewayHarness h = new GatewayHarness(
        PostgresListenerConfig.loopback(0).withProxyProtocolFrom(Set.of("127.0.0.1")));
        RawClient c = new RawClient(h.gateway.port())) {
      ByteBuffer header = ByteBuffer.allocate(16 + 12)
          .put(SIGNATURE).put((byte) 0x21).put((byte) 0x11).putShort((short) 12)
          .put(new byte[] {(byte) 203, 0, 113, 7}).put(new byte[] {127, 0, 0, 1})
          .putShort((short) 40000).putShort((short) 15432);
      c.sendBytes(header.array());
      c.login(GatewayHarness.TOKEN);
      assertThat(h.audit.all(GatewayHarness.Event.Opened.class)).singleElement()
          .satisfies(o -> assertThat(o.session().client().address()).isEqualTo("203.0.113.7:40000"));
    }
  }

  @Test
  void behindTheBalancerTheStartupLimitPerSourceCountsTheClientItNames() throws Exception {
    try (GatewayHarness h = new GatewayHarness(PostgresListenerConfig.loopback(0).withStartupTimeout(java.time.Duration.ofSeconds(60))
        .withProxyProtocolFrom(Set.of("127.0.0.1")).withMaxStartups(8).withMaxStartupsPerSource(2))) {
      List<RawClient> silent = new ArrayList<>();
      try {
        for (int i = 0; i < 2; i++) {
          RawClient c = new RawClient(h.gateway.port());
          silent.add(c);
          c.sendBytes(header(new byte[] {(byte) 203, 0, 113, 7})); // then nothing: in startup
        }
        // All connections come from the balancer's address; only the client it names is counted,
        // once its header is read.
        java.net.InetAddress client = java.net.InetAddress.getByAddress(new byte[] {(byte) 203, 0, 113, 7});
        assertThat(GatewayHarness.eventually(() -> h.gateway.startingFrom(client) == 2)).isTrue();
        try (RawClient third = new RawClient(h.gateway.port())) {
          third.sendBytes(header(new byte[] {(byte) 203, 0, 113, 7}));
          assertThat(RawClient.firstError(third.untilClosed())).get().satisfies(e -> {
            assertThat(e.sqlstate()).isEqualTo("53300");
            assertThat(e.message()).contains("from your address");
          });
        }
        try (RawClient other = new RawClient(h.gateway.port())) {
          other.sendBytes(header(new byte[] {(byte) 198, 51, 100, 9}));
          other.login(GatewayHarness.TOKEN);
        }
      } finally {
        for (RawClient c : silent) c.close();
      }
    }
  }

  private static byte[] header(byte[] clientIpv4) {
    return ByteBuffer.allocate(16 + 12)
        .put(SIGNATURE).put((byte) 0x21).put((byte) 0x11).putShort((short) 12)
        .put(clientIpv4).put(new byte[] {127, 0, 0, 1})
        .putShort((short) 40000).putShort((short) 15432).array();
  }

  @Test
  void withoutTrustTheHeaderIsNotHonoured() throws Exception {
    try (GatewayHarness h = new GatewayHarness(); RawClient c = new RawClient(h.gateway.port())) {
      c.sendBytes(ByteBuffer.allocate(16).put(SIGNATURE).put((byte) 0x21).put((byte) 0x11).putShort((short) 0).array());
      // A protocol error that says what was sent and where trust is configured (round 24: it read
      // as a startup packet of 218 MB, 54000).
      assertThat(RawClient.firstError(c.untilClosed())).get().satisfies(e -> {
        assertThat(e.sqlstate()).isEqualTo("08P01");
        assertThat(e.message()).contains("PROXY protocol header").contains("proxyProtocolFrom");
      });
      assertThat(h.audit.all(GatewayHarness.Event.Opened.class)).isEmpty();
    }
  }

  @Test
  void aVersionOneHeaderIsAProtocolErrorThatSaysSo() throws Exception {
    try (GatewayHarness h = new GatewayHarness(); RawClient c = new RawClient(h.gateway.port())) {
      c.sendBytes("PROXY TCP4 203.0.113.7 127.0.0.1 40000 15432\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      assertThat(RawClient.firstError(c.untilClosed())).get().satisfies(e -> {
        assertThat(e.sqlstate()).isEqualTo("08P01");
        assertThat(e.message()).contains("PROXY protocol header");
      });
    }
  }
}
