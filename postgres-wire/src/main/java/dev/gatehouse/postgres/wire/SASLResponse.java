package dev.gatehouse.postgres.wire;

import java.util.Arrays;

/**
 * SASLResponse: a {@code 'p'} message carrying the client's next SASL message (for SCRAM, the
 * client-final-message with its proof). {@link #toString()} never shows it.
 */
public record SASLResponse(byte[] data) implements FrontendMessage {
  public SASLResponse {
    Values.bytes(data, "data");
  }

  /** Reads a {@code 'p'} message sent in answer to AuthenticationSASLContinue. */
  public static SASLResponse parse(PasswordMessage message) {
    return new SASLResponse(message.data());
  }

  /** The same bytes as a generic {@code 'p'} message. */
  public PasswordMessage toPasswordMessage() {
    return new PasswordMessage(data);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof SASLResponse s && Arrays.equals(s.data, data);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(data);
  }

  @Override
  public String toString() {
    return "SASLResponse[<redacted " + data.length + " bytes>]";
  }
}
