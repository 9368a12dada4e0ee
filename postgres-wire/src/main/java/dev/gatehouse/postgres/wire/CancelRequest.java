package dev.gatehouse.postgres.wire;

import java.util.Arrays;

/**
 * CancelRequest: sent on a new connection to cancel the query running in the session the key
 * names. The secret key is 4 bytes in protocol 3.0 and up to 256 bytes in protocol 3.2. The key
 * never appears in {@link #toString()}.
 */
public record CancelRequest(int processId, byte[] secretKey) implements FrontendMessage {
  /** The longest secret key protocol 3.2 allows. */
  public static final int MAX_SECRET_KEY_LENGTH = 256;

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
        && Arrays.equals(c.secretKey, secretKey);
  }

  @Override
  public int hashCode() {
    return 31 * processId + Arrays.hashCode(secretKey);
  }

  @Override
  public String toString() {
    return "CancelRequest[processId=" + processId + ", secretKey=<redacted>]";
  }
}
