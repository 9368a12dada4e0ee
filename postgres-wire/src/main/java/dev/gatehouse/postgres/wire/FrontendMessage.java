package dev.gatehouse.postgres.wire;

/**
 * A message sent by the client (frontend) to the server, named as in the PostgreSQL
 * documentation, chapter "Frontend/Backend Protocol", section "Message Formats". Decoded and
 * encoded by {@link FrontendCodec}. All implementations are immutable values; byte arrays they
 * hold are not copied and must not be modified.
 *
 * <p>{@link PasswordMessage} is the generic {@code 'p'} message: its meaning (password, SASL
 * initial response, SASL response, GSSAPI data) depends on the authentication exchange in
 * progress, which only the connection knows. {@link FrontendCodec#decode(Frame)} therefore
 * returns a {@code PasswordMessage} for every {@code 'p'} frame; the connection reinterprets it
 * with {@link SASLInitialResponse#parse(PasswordMessage)} or {@link
 * SASLResponse#parse(PasswordMessage)} when it has asked for SASL.
 */
public sealed interface FrontendMessage
    permits StartupMessage, SSLRequest, GSSENCRequest, CancelRequest, PasswordMessage,
        SASLInitialResponse, SASLResponse, Query, Parse, Bind, Describe, Execute, Sync, Flush,
        Close, CopyData, CopyDone, CopyFail, FunctionCall, Terminate {}
