/**
 * The PostgreSQL wire protocol (3.0, and enough of 3.2 to answer it) as bytes and message
 * records, with no knowledge of identity or policy: used by both sides of the proxy, the tests'
 * scripted peers and the fuzzers.
 *
 * <ul>
 *   <li>{@link dev.gatehouse.postgres.wire.FrameReader} reads bounded {@link
 *       dev.gatehouse.postgres.wire.Frame}s from a stream; a frame can be relayed without being
 *       decoded.
 *   <li>{@link dev.gatehouse.postgres.wire.FrontendCodec} and {@link
 *       dev.gatehouse.postgres.wire.BackendCodec} turn frames into the records of {@link
 *       dev.gatehouse.postgres.wire.FrontendMessage} and {@link
 *       dev.gatehouse.postgres.wire.BackendMessage} and back.
 *   <li>{@link dev.gatehouse.postgres.wire.MessageWriter} buffers frames and messages until the
 *       caller flushes.
 *   <li>Every malformed input is a {@link dev.gatehouse.postgres.wire.ProtocolException} with the
 *       SQLSTATE to report.
 * </ul>
 *
 * <p>Records hold byte arrays without copying them (frames and rows are the hot path): an array
 * handed to a record, or obtained from one, must not be modified. The only nulls in this API are
 * the SQL NULL elements of parameter and value lists ({@code Bind.parameters}, {@code
 * FunctionCall.arguments}, {@code DataRow.of}/{@code values}), exactly where the protocol sends a
 * length of -1. Strings are UTF-8, decoded strictly: invalid UTF-8 is refused, never replaced.
 */
package dev.gatehouse.postgres.wire;
