package dev.gatehouse.postgres.wire;

/**
 * A message sent by the server (backend) to the client, named as in the PostgreSQL
 * documentation, chapter "Frontend/Backend Protocol", section "Message Formats". Decoded and
 * encoded by {@link BackendCodec}. All implementations are immutable values; byte arrays they
 * hold are not copied and must not be modified.
 */
public sealed interface BackendMessage
    permits Authentication, BackendKeyData, ParameterStatus, ReadyForQuery, RowDescription,
        DataRow, CommandComplete, EmptyQueryResponse, DiagnosticMessage, ParseComplete,
        BindComplete, CloseComplete, NoData, PortalSuspended, ParameterDescription,
        CopyInResponse, CopyOutResponse, CopyBothResponse, CopyData, CopyDone,
        NotificationResponse, NegotiateProtocolVersion, FunctionCallResponse {}
