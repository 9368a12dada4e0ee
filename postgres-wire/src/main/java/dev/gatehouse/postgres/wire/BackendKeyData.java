package dev.gatehouse.postgres.wire;

import java.util.Arrays;

/**
 * BackendKeyData: the key a client must present in a CancelRequest. The secret key is 4 bytes in
 * protocol 3.0 and up to 256 bytes in protocol 3.2; it never appears in {@link #toString()}.
 */
public record BackendKeyData(int processId, byte[] secretKey) implements BackendMessage {
  public static final byte TYPE = 'K';

  public BackendKeyData {
    Values.bytes(secretKey, "secretKey");
    if (secretKey.length < 4 || secretKey.length > CancelRequest.MAX_SECRET_KEY_LENGTH) {
      throw new IllegalArgumentException("secretKey.length not in [4, 256]");
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof BackendKeyData k
        && k.processId == processId
        && Arrays.equals(k.secretKey, secretKey);
  }

  @Override
  public int hashCode() {
    return 31 * processId + Arrays.hashCode(secretKey);
  }

  @Override
  public String toString() {
    return "BackendKeyData[processId=" + processId + ", secretKey=<redacted>]";
  }
}
