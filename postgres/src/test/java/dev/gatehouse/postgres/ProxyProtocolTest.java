package dev.gatehouse.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ProxyProtocolTest {
  private static final byte[] SIGNATURE = {
    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A
  };
  private static final InetSocketAddress BALANCER = new InetSocketAddress("10.0.0.2", 40000);
  private static final byte[] STARTUP_AFTER = {0, 0, 0, 8, 4, (byte) 0xD2, 0x16, 0x2F};

  @Test
  void tcp4HeaderYieldsTheRealClientAndLeavesTheStartupPacketUnread() throws IOException {
    byte[] header =
        header(0x21, 0x11, bytes(192, 0, 2, 7, 198, 51, 100, 1, 0xC3, 0x50, 0x3C, 0x48));
    InputStream in = new ByteArrayInputStream(concat(header, STARTUP_AFTER));

    InetSocketAddress client = ProxyProtocol.readClientAddress(in, BALANCER);

    assertThat(client.getAddress().getHostAddress()).isEqualTo("192.0.2.7");
    assertThat(client.getPort()).isEqualTo(50000);
    assertThat(in.readAllBytes()).isEqualTo(STARTUP_AFTER);
  }

  @Test
  void tcp6HeaderWithTlvsIsReadFedOneByteAtATime() throws IOException {
    byte[] source = InetAddress.getByName("2001:db8::1").getAddress();
    byte[] destination = InetAddress.getByName("2001:db8::2").getAddress();
    byte[] tlv = {0x04, 0x00, 0x03, 'a', 'b', 'c'}; // PP2_TYPE_NOOP with 3 bytes, skipped
    byte[] block = concat(concat(source, destination), concat(bytes(0x1F, 0x90, 0x15, 0x38), tlv));
    InputStream in = new OneByteAtATime(concat(header(0x21, 0x21, block), STARTUP_AFTER));

    InetSocketAddress client = ProxyProtocol.readClientAddress(in, BALANCER);

    assertThat(client.getAddress()).isEqualTo(InetAddress.getByName("2001:db8::1"));
    assertThat(client.getPort()).isEqualTo(8080);
    assertThat(in.readAllBytes()).isEqualTo(STARTUP_AFTER);
  }

  @Test
  void localCommandReportsTheBalancerItself() {
    InputStream in = new ByteArrayInputStream(header(0x20, 0x00, new byte[0]));

    assertThat(ProxyProtocol.readClientAddress(in, BALANCER)).isEqualTo(BALANCER);
  }

  @Test
  void unspecifiedFamilyReportsTheConnectionPeer() {
    InputStream in = new ByteArrayInputStream(header(0x21, 0x00, new byte[0]));

    assertThat(ProxyProtocol.readClientAddress(in, BALANCER)).isEqualTo(BALANCER);
  }

  @Test
  void connectionWithoutTheSignatureIsRefused() {
    // A PostgreSQL startup packet sent by a client that bypassed the balancer's PROXY header.
    byte[] startup = {0, 0, 0, 8, 4, (byte) 0xD2, 0x16, 0x2F, 0, 0, 0, 0, 0, 0, 0, 0};

    assertThatThrownBy(() -> ProxyProtocol.readClientAddress(new ByteArrayInputStream(startup), BALANCER))
        .isInstanceOf(PostgresGatewayException.class)
        .hasMessageContaining("PROXY v2 signature");
  }

  @Test
  void versionOneTextHeaderIsRefusedWithAHint() {
    byte[] v1 = "PROXY TCP4 192.0.2.7 198.51.100.1 50000 5432\r\n".getBytes(StandardCharsets.US_ASCII);

    assertThatThrownBy(() -> ProxyProtocol.readClientAddress(new ByteArrayInputStream(v1), BALANCER))
        .hasMessageContaining("version 1")
        .hasMessageContaining("send PROXY protocol v2");
  }

  @Test
  void wrongVersionUnknownCommandAndShortAddressesAreRefused() {
    byte[] tcp4 = bytes(192, 0, 2, 7, 198, 51, 100, 1, 0xC3, 0x50, 0x3C, 0x48);
    assertThatThrownBy(() -> read(header(0x11, 0x11, tcp4))).hasMessageContaining("version is 1");
    assertThatThrownBy(() -> read(header(0x2F, 0x11, tcp4))).hasMessageContaining("unknown command");
    assertThatThrownBy(() -> read(header(0x21, 0x11, new byte[8]))).hasMessageContaining("needs 12");
    assertThatThrownBy(() -> read(header(0x21, 0x21, tcp4))).hasMessageContaining("needs 36");
    assertThatThrownBy(() -> read(header(0x21, 0x12, tcp4))).hasMessageContaining("not a stream");
    assertThatThrownBy(() -> read(header(0x21, 0x41, tcp4))).hasMessageContaining("unknown address family");
  }

  @Test
  void headerLongerThan536BytesIsRefusedBeforeItsBodyIsRead() {
    byte[] fixed = header(0x21, 0x11, new byte[0]);
    fixed[14] = (byte) 0x02; // announced length 521: 537 bytes in all
    fixed[15] = (byte) 0x09;

    // Only the 16 fixed bytes are available: the parser must refuse without waiting for more.
    assertThatThrownBy(() -> read(fixed)).hasMessageContaining("exceeds the maximum of 536");
  }

  @Test
  void truncatedHeaderIsRefused() {
    byte[] whole = header(0x21, 0x11, bytes(192, 0, 2, 7, 198, 51, 100, 1, 0xC3, 0x50, 0x3C, 0x48));
    byte[] cut = java.util.Arrays.copyOf(whole, whole.length - 3);

    assertThatThrownBy(() -> read(cut))
        .isInstanceOf(PostgresGatewayException.class)
        .hasMessageContaining("ended inside the header")
        .satisfies(e -> assertThat(((PostgresGatewayException) e).sqlstate()).isEqualTo("08P01"));
  }

  private static InetSocketAddress read(byte[] bytes) {
    return ProxyProtocol.readClientAddress(new ByteArrayInputStream(bytes), BALANCER);
  }

  private static byte[] header(int versionCommand, int familyTransport, byte[] rest) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(SIGNATURE);
    out.write(versionCommand);
    out.write(familyTransport);
    out.write(rest.length >>> 8);
    out.write(rest.length & 0xFF);
    out.writeBytes(rest);
    return out.toByteArray();
  }

  private static byte[] bytes(int... values) {
    byte[] out = new byte[values.length];
    for (int i = 0; i < values.length; i++) out[i] = (byte) values[i];
    return out;
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] out = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  /** Delivers one byte per read call, as a slow network would. */
  private static final class OneByteAtATime extends InputStream {
    private final byte[] data;
    private int position;

    OneByteAtATime(byte[] data) {
      this.data = data;
    }

    @Override
    public int read() {
      return position < data.length ? data[position++] & 0xFF : -1;
    }

    @Override
    public int read(byte[] b, int off, int len) {
      if (len == 0) return 0;
      if (position >= data.length) return -1;
      b[off] = data[position++];
      return 1;
    }
  }
}
