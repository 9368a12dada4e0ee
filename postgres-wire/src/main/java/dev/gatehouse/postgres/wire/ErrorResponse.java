package dev.gatehouse.postgres.wire;

import java.util.ArrayList;
import java.util.List;

/**
 * ErrorResponse: fields in the order the server sent them. {@link #of} builds the message Gatehouse
 * itself sends; {@link #with} adds optional fields such as {@link ErrorField#DETAIL} or {@link
 * ErrorField#HINT}.
 */
public record ErrorResponse(List<ErrorField> fields) implements DiagnosticMessage {
  public static final byte TYPE = 'E';

  public ErrorResponse {
    fields = List.copyOf(Values.nonNull(fields, "fields"));
  }

  /** A message with severity (e.g. {@code "ERROR"}), a five-character SQLSTATE and a message. */
  public static ErrorResponse of(String severity, String sqlstate, String message) {
    return new ErrorResponse(DiagnosticMessage.standardFields(severity, sqlstate, message));
  }

  /** This message with one more field at the end. */
  public ErrorResponse with(byte code, String value) {
    var more = new ArrayList<>(fields);
    more.add(new ErrorField(code, value));
    return new ErrorResponse(more);
  }
}
