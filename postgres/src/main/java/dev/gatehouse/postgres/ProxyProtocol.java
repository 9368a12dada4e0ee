package dev.gatehouse.postgres;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.Arrays;
import java.util.Objects;

/**
 * Reads the binary PROXY protocol version 2 header a load balancer puts in front of a TCP
 * connection (HAProxy's "The PROXY protocol", section 2.2), so the audit shows the real client
 * address instead of the balancer's.
 *
 * <p>Call it only for a connection whose peer is one of the configured, trusted load balancers:
 * anyone else could claim any address. The caller decides that before calling and closes the
 * connection when this throws.
 *
 * <p>Decisions:
 *
 * <ul>
 *   <li>The header is read exactly, never beyond its announced length, so the PostgreSQL startup
 *       packet that follows stays in the stream.
 *   <li>The whole header may be at most {@value #MAX_HEADER_LENGTH} bytes (16 fixed plus at most
 *       520 of addresses and TLVs): the specification guarantees a sender fits it in 536 bytes,
 *       and a bound keeps an untrusted length from making us wait for or buffer 64 KiB.
 *   <li>TLVs (type-length-value extensions) are skipped unread.
 *   <li>{@code LOCAL} (a health check by the balancer itself) and {@code PROXY} with the {@code
 *       UNSPEC} or {@code UNIX} family report the connection's own peer address, as the
 *       specification tells receivers to do.
 *   <li>Version 1 (the text form, {@code "PROXY TCP4 ..."}) is refused with a message saying so:
 *       configure the balancer for version 2 (HAProxy {@code send-proxy-v2}).
 * </ul>
 *
 * <p>Stateless and thread-safe; the stream is read by the calling thread only.
 */
public final class ProxyProtocol {
  /** The spec's upper bound for a header a receiver must accept in one piece. */
  public static final int MAX_HEADER_LENGTH = 536;

  private static final byte[] SIGNATURE = {
    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A
  };
  private static final byte[] V1_PREFIX = {'P', 'R', 'O', 'X', 'Y'};

  private static final int COMMAND_LOCAL = 0x0;
  private static final int COMMAND_PROXY = 0x1;
  private static final int FAMILY_UNSPEC = 0x0;
  private static final int FAMILY_INET = 0x1;
  private static final int FAMILY_INET6 = 0x2;
  private static final int FAMILY_UNIX = 0x3;
  private static final int TRANSPORT_UNSPEC = 0x0;
  private static final int TRANSPORT_STREAM = 0x1;

  private ProxyProtocol() {}

  /**
   * Reads one PROXY v2 header from {@code in}, which must be positioned at the first byte the
   * trusted peer sent.
   *
   * @param in the connection's input, not buffered beyond the header by this method
   * @param peer the address the TCP connection comes from (the load balancer)
   * @return the real client's address: the header's source address for {@code PROXY} over TCP,
   *     {@code peer} for {@code LOCAL} and for address families that carry no IP address
   * @throws PostgresGatewayException (SQLSTATE 08P01) for a missing, malformed, truncated or
   *     oversized header
   */
  public static InetSocketAddress readClientAddress(InputStream in, InetSocketAddress peer) {
    Objects.requireNonNull(in, "in == null");
    Objects.requireNonNull(peer, "peer == null");
    try {
      byte[] fixed = readExactly(in, 16);
      if (Arrays.equals(fixed, 0, V1_PREFIX.length, V1_PREFIX, 0, V1_PREFIX.length)) {
        throw malformed(
            "got a version 1 (text) header; only version 2 (binary) is accepted:"
                + " configure the load balancer to send PROXY protocol v2");
      }
      if (!Arrays.equals(fixed, 0, SIGNATURE.length, SIGNATURE, 0, SIGNATURE.length)) {
        throw malformed("the connection does not start with the PROXY v2 signature");
      }
      int version = (fixed[12] & 0xF0) >>> 4;
      int command = fixed[12] & 0x0F;
      int family = (fixed[13] & 0xF0) >>> 4;
      int transport = fixed[13] & 0x0F;
      int length = ((fixed[14] & 0xFF) << 8) | (fixed[15] & 0xFF);
      if (version != 2) throw malformed("version is " + version + ", expected 2");
      if (command != COMMAND_LOCAL && command != COMMAND_PROXY) {
        throw malformed("unknown command " + command);
      }
      if (16 + length > MAX_HEADER_LENGTH) {
        throw malformed(
            "header length " + (16 + length) + " exceeds the maximum of " + MAX_HEADER_LENGTH);
      }
      byte[] rest = readExactly(in, length);
      if (command == COMMAND_LOCAL) return peer; // TLVs and addresses, if any, are ignored
      if (transport != TRANSPORT_UNSPEC && transport != TRANSPORT_STREAM) {
        throw malformed("transport " + transport + " is not a stream (TCP)");
      }
      return switch (family) {
        case FAMILY_UNSPEC, FAMILY_UNIX -> {
          if (family == FAMILY_UNIX && length < 216) throw malformed("UNIX address block is short");
          yield peer;
        }
        case FAMILY_INET -> {
          if (transport != TRANSPORT_STREAM) throw malformed("TCP4 without STREAM transport");
          if (length < 12) throw malformed("TCP4 address block is " + length + " bytes, needs 12");
          yield address(rest, 4, 8);
        }
        case FAMILY_INET6 -> {
          if (transport != TRANSPORT_STREAM) throw malformed("TCP6 without STREAM transport");
          if (length < 36) throw malformed("TCP6 address block is " + length + " bytes, needs 36");
          yield address(rest, 16, 32);
        }
        default -> throw malformed("unknown address family " + family);
      };
    } catch (EOFException e) {
      throw malformed("the connection ended inside the header");
    } catch (IOException e) {
      throw new PostgresGatewayException("08P01", "PROXY protocol header: " + e.getMessage(), e);
    }
  }

  /** Source address of {@code size} bytes at 0, source port right after both addresses. */
  private static InetSocketAddress address(byte[] block, int size, int portOffset) {
    try {
      InetAddress source = InetAddress.getByAddress(Arrays.copyOfRange(block, 0, size));
      int port = ((block[portOffset] & 0xFF) << 8) | (block[portOffset + 1] & 0xFF);
      return new InetSocketAddress(source, port);
    } catch (UnknownHostException e) {
      throw new AssertionError("4 or 16 bytes are always an IP address", e);
    }
  }

  private static byte[] readExactly(InputStream in, int length) throws IOException {
    byte[] bytes = in.readNBytes(length);
    if (bytes.length != length) throw new EOFException();
    return bytes;
  }

  private static PostgresGatewayException malformed(String message) {
    return new PostgresGatewayException("08P01", "PROXY protocol header refused: " + message);
  }
}
