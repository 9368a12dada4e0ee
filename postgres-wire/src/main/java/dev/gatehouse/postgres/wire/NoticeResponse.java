package dev.gatehouse.postgres.wire;

import java.util.ArrayList;
import java.util.List;

/**
 * NoticeResponse: fields in the order the server sent them. {@link #of} builds the message Gatehouse
 * itself sends; {@link #with} adds optional fields such as {@link ErrorField#DETAIL} or {@link
 * ErrorField#HINT}.
 */
public record NoticeResponse(List<ErrorField> fields) implements DiagnosticMessage {
  public static final byte TYPE = 'N';

  public NoticeResponse {
    fields = List.copyOf(Values.nonNull(fields, "fields"));
  }

  /** A message with severity (e.g. {@code "NOTICE"}), a five-character SQLSTATE and a message. */
  public static NoticeResponse of(String severity, String sqlstate, String message) {
    return new NoticeResponse(DiagnosticMessage.standardFields(severity, sqlstate, message));
  }

  /** This message with one more field at the end. */
  public NoticeResponse with(byte code, String value) {
    var more = new ArrayList<>(fields);
    more.add(new ErrorField(code, value));
    return new NoticeResponse(more);
  }
}
