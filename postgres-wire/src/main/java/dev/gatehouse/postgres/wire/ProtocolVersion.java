package dev.gatehouse.postgres.wire;

/**
 * Protocol version numbers and the special request codes that take the place of a version in
 * startup-phase packets (PostgreSQL documentation, "Message Formats": StartupMessage, SSLRequest,
 * GSSENCRequest, CancelRequest).
 */
public final class ProtocolVersion {
  private ProtocolVersion() {}

  /** Protocol 3.0: major 3 in the high 16 bits, minor 0 in the low. */
  public static final int V3_0 = 3 << 16;
  /** Protocol 3.2 (PostgreSQL 18): variable-length cancel keys. */
  public static final int V3_2 = (3 << 16) | 2;
  /** The code an SSLRequest carries instead of a protocol version. */
  public static final int SSL_REQUEST_CODE = 80877103;
  /** The code a GSSENCRequest carries instead of a protocol version. */
  public static final int GSSENC_REQUEST_CODE = 80877104;
  /** The code a CancelRequest carries instead of a protocol version. */
  public static final int CANCEL_REQUEST_CODE = 80877102;
  /**
   * Gatehouse's own code for a CancelRequest that one Gatehouse node passes to the node that minted
   * its key: the same body as a CancelRequest, under a major version (0x4748, "GH") that PostgreSQL
   * does not use, so no PostgreSQL code can ever collide with it. The node receiving it acts on it
   * only if the key is its own and never passes it on again. A PostgreSQL server answers it with
   * "unsupported frontend protocol".
   */
  public static final int PEER_CANCEL_REQUEST_CODE = (0x4748 << 16) | 5678;

  public static int major(int version) {
    return version >>> 16;
  }

  public static int minor(int version) {
    return version & 0xffff;
  }
}
