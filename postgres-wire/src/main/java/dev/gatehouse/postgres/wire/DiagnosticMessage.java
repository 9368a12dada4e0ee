package dev.gatehouse.postgres.wire;

import java.util.List;
import java.util.Optional;

/**
 * What ErrorResponse and NoticeResponse share: an ordered list of {@link ErrorField}s, with
 * accessors for the fields every server sends. The accessors return the empty string when the
 * field is absent (a hostile or old peer may omit it); {@link #field(byte)} tells absent from
 * empty.
 */
public sealed interface DiagnosticMessage extends BackendMessage
    permits ErrorResponse, NoticeResponse {
  List<ErrorField> fields();

  /** The value of the first field with {@code code}, if any. */
  default Optional<String> field(byte code) {
    for (ErrorField f : fields()) {
      if (f.code() == code) {
        return Optional.of(f.value());
      }
    }
    return Optional.empty();
  }

  /** The severity, preferring the non-localized one ({@code ERROR}, {@code FATAL}, ...). */
  default String severity() {
    return field(ErrorField.SEVERITY_NONLOCALIZED)
        .or(() -> field(ErrorField.SEVERITY))
        .orElse("");
  }

  default String sqlstate() {
    return field(ErrorField.SQLSTATE).orElse("");
  }

  default String message() {
    return field(ErrorField.MESSAGE).orElse("");
  }

  /** The standard first fields: severity (localized and not), SQLSTATE, message. */
  static List<ErrorField> standardFields(String severity, String sqlstate, String message) {
    Values.text(severity, "severity");
    Values.text(sqlstate, "sqlstate");
    if (sqlstate.length() != 5) {
      throw new IllegalArgumentException("sqlstate.length() != 5");
    }
    return List.of(
        new ErrorField(ErrorField.SEVERITY, severity),
        new ErrorField(ErrorField.SEVERITY_NONLOCALIZED, severity),
        new ErrorField(ErrorField.SQLSTATE, sqlstate),
        new ErrorField(ErrorField.MESSAGE, message));
  }
}
