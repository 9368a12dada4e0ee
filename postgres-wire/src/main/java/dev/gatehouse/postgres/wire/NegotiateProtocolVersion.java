package dev.gatehouse.postgres.wire;

import java.util.List;

/**
 * NegotiateProtocolVersion: the server supports protocol 3.{@code newestMinor} at most and did
 * not recognise these {@code _pq_.} startup options.
 */
public record NegotiateProtocolVersion(int newestMinor, List<String> unrecognizedOptions)
    implements BackendMessage {
  public static final byte TYPE = 'v';

  public NegotiateProtocolVersion {
    unrecognizedOptions = List.copyOf(Values.nonNull(unrecognizedOptions, "unrecognizedOptions"));
    unrecognizedOptions.forEach(o -> Values.text(o, "option"));
  }
}
