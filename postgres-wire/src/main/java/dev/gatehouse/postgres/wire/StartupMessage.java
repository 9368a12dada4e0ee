package dev.gatehouse.postgres.wire;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * StartupMessage: the protocol version the client asks for and its startup parameters ({@code
 * user}, {@code database}, {@code application_name}, {@code options}, ...), in the order the client
 * sent them. Parameter names and values are plain text; deciding which ones are acceptable is the
 * proxy's job. The codec refuses only a packet no reader could take one way: a name sent twice, two
 * names equal ignoring case, a user or database name longer than {@link
 * FrontendCodec#MAX_NAME_BYTES} bytes (which PostgreSQL would cut short).
 */
public record StartupMessage(int protocolVersion, Map<String, String> parameters)
    implements FrontendMessage {
  public StartupMessage {
    Objects.requireNonNull(parameters, "parameters == null");
    var copy = new LinkedHashMap<String, String>();
    parameters.forEach(
        (name, value) -> {
          Values.text(name, "parameter name");
          if (name.isEmpty()) {
            // An empty name is the list terminator on the wire; it cannot be sent as a name.
            throw new IllegalArgumentException("parameter name is empty");
          }
          copy.put(name, Values.text(value, "parameter value"));
        });
    parameters = Collections.unmodifiableMap(copy);
    if (protocolVersion == ProtocolVersion.SSL_REQUEST_CODE
        || protocolVersion == ProtocolVersion.GSSENC_REQUEST_CODE
        || protocolVersion == ProtocolVersion.CANCEL_REQUEST_CODE) {
      throw new IllegalArgumentException("protocolVersion is a request code, not a version");
    }
  }

  /** A protocol 3.0 startup message. */
  public static StartupMessage of(Map<String, String> parameters) {
    return new StartupMessage(ProtocolVersion.V3_0, parameters);
  }

  public Optional<String> parameter(String name) {
    return Optional.ofNullable(parameters.get(name));
  }
}
