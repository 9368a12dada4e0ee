package dev.gatehouse.postgres.wire;

/** NotificationResponse: a NOTIFY on {@code channel} from the session {@code processId}. */
public record NotificationResponse(int processId, String channel, String payload)
    implements BackendMessage {
  public static final byte TYPE = 'A';

  public NotificationResponse {
    Values.text(channel, "channel");
    Values.text(payload, "payload");
  }
}
