package dev.gatehouse.postgres.wire;

import java.util.Arrays;

/**
 * CancelRequest: sent on a new connection to cancel the query running in the session the key
 * names. The secret key is 4 bytes in protocol 3.0 and up to 256 bytes in protocol 3.2. The key
 * never appears in {@link #toString()}.
 *
 * @param relayed passed on by another Gatehouse node, under {@link
 *     ProtocolVersion#PEER_CANCEL_REQUEST_CODE} rather than PostgreSQL's code: the receiver acts on
 *     it only if it minted the key, and never passes it on again (so a misconfigured cluster cannot
 *     bounce a cancel between its nodes)
 */
public record CancelRequest(int processId, byte[] secretKey, boolean relayed) implements FrontendMessage {
  /** The longest secret key protocol 3.2 allows. */
  public static final int MAX_SECRET_KEY_LENGTH = 256;

  /** A CancelRequest as clients send it. */
  public CancelRequest(int processId, byte[] secretKey) {
    this(processId, secretKey, false);
  }

  public CancelRequest {
    Values.bytes(secretKey, "secretKey");
    if (secretKey.length < 4 || secretKey.length > MAX_SECRET_KEY_LENGTH) {
      throw new IllegalArgumentException("secretKey.length not in [4, 256]");
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof CancelRequest c
        && c.processId == processId
        && c.relayed == relayed
        && Arrays.equals(c.secretKey, secretKey);
  }

  @Override
  public int hashCode() {
    return 31 * (31 * processId + Arrays.hashCode(secretKey)) + Boolean.hashCode(relayed);
  }

  @Override
  public String toString() {
    return "CancelRequest[processId=" + processId + ", secretKey=<redacted>" + (relayed ? ", relayed" : "") + "]";
  }
}
