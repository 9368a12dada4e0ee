package dev.gatehouse.postgres.wire;

import java.util.Arrays;
import java.util.Optional;

/**
 * SASLInitialResponse: a {@code 'p'} message carrying the chosen SASL mechanism and, optionally,
 * the client's first message. On the wire an absent response is a length of -1; here it is an
 * empty {@link Optional}. {@link #toString()} never shows the response.
 */
public record SASLInitialResponse(String mechanism, Optional<byte[]> data)
    implements FrontendMessage {
  public SASLInitialResponse {
    Values.text(mechanism, "mechanism");
    java.util.Objects.requireNonNull(data, "data == null");
  }

  public SASLInitialResponse(String mechanism, byte[] data) {
    this(mechanism, Optional.of(Values.bytes(data, "data")));
  }

  /**
   * Reads a {@code 'p'} message sent in answer to AuthenticationSASL.
   *
   * @throws ProtocolException if the body is not a mechanism name and a length-prefixed response
   */
  public static SASLInitialResponse parse(PasswordMessage message) {
    var reader = new BodyReader(message.data(), "SASLInitialResponse");
    String mechanism = reader.cstring();
    Optional<byte[]> data = reader.nullableBytes32();
    reader.expectEnd();
    return new SASLInitialResponse(mechanism, data);
  }

  /** The same bytes as a generic {@code 'p'} message. */
  public PasswordMessage toPasswordMessage() {
    return new PasswordMessage(FrontendCodec.encode(this).body());
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof SASLInitialResponse s
        && s.mechanism.equals(mechanism)
        && s.data.isPresent() == data.isPresent()
        && (data.isEmpty() || Arrays.equals(s.data.get(), data.get()));
  }

  @Override
  public int hashCode() {
    return 31 * mechanism.hashCode() + data.map(Arrays::hashCode).orElse(-1);
  }

  @Override
  public String toString() {
    return "SASLInitialResponse[mechanism=" + mechanism + ", data=<redacted>]";
  }
}
