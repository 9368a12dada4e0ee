package dev.gatehouse.postgres;

import dev.gatehouse.postgres.wire.BackendCodec;
import dev.gatehouse.postgres.wire.BackendMessage;
import dev.gatehouse.postgres.wire.Bind;
import dev.gatehouse.postgres.wire.DataRow;
import dev.gatehouse.postgres.wire.Describe;
import dev.gatehouse.postgres.wire.ErrorResponse;
import dev.gatehouse.postgres.wire.Execute;
import dev.gatehouse.postgres.wire.Frame;
import dev.gatehouse.postgres.wire.Parse;
import dev.gatehouse.postgres.wire.ReadyForQuery;
import dev.gatehouse.postgres.wire.RowDescription;
import dev.gatehouse.postgres.wire.Sync;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Runs Gatehouse's own catalog queries on a {@link BackendConnection} with the extended protocol:
 * parameters travel as values, never spliced into SQL text, so a relation name from a client's
 * statement cannot change the query. One query at a time; not thread-safe (the caller holds the
 * connection's lock).
 */
final class CatalogClient {
  /** Catalog queries return small results; a message bigger than this is not one of ours. */
  private static final int MAX_MESSAGE = 16 * 1024 * 1024;

  private final BackendConnection connection;

  CatalogClient(BackendConnection connection) {
    this.connection = connection;
  }

  /**
   * Runs {@code sql} with text parameters; returns its rows, each value as text (empty for NULL).
   *
   * @throws PostgresGatewayException when the server reports an error or the connection fails
   */
  List<List<Optional<String>>> query(String sql, String... parameters) {
    List<byte[]> values = new ArrayList<>();
    for (String p : parameters) values.add(p.getBytes(StandardCharsets.UTF_8));
    try {
      var w = connection.writer();
      w.write(new Parse("", sql, new int[0]));
      w.write(new Bind("", "", new short[0], values, new short[0]));
      w.write(new Execute("", 0));
      w.write(Sync.INSTANCE);
      w.flush();
      List<List<Optional<String>>> rows = new ArrayList<>();
      Optional<ErrorResponse> error = Optional.empty();
      while (true) {
        BackendMessage m = next();
        if (m instanceof DataRow row) {
          List<Optional<String>> r = new ArrayList<>(row.columnCount());
          for (int i = 0; i < row.columnCount(); i++) r.add(row.text(i));
          rows.add(r);
        } else if (m instanceof ErrorResponse e) {
          error = Optional.of(e);
        } else if (m instanceof ReadyForQuery) {
          break;
        }
      }
      if (error.isPresent()) {
        throw new PostgresGatewayException("XX000", "catalog query failed: " + error.get().message());
      }
      return rows;
    } catch (IOException e) {
      throw new PostgresGatewayException("08006", "catalog connection failed: " + e.getMessage(), e);
    }
  }

  /**
   * Parses {@code sql} without running it and returns the shape of its result: PostgreSQL's own
   * analysis says where each column comes from. Empty when the statement returns no rows.
   *
   * @throws PostgresGatewayException when the statement does not parse here
   */
  Optional<RowDescription> describe(String sql) {
    try {
      var w = connection.writer();
      w.write(new Parse("", sql, new int[0]));
      w.write(Describe.statement(""));
      w.write(Sync.INSTANCE);
      w.flush();
      Optional<RowDescription> shape = Optional.empty();
      Optional<ErrorResponse> error = Optional.empty();
      while (true) {
        BackendMessage m = next();
        if (m instanceof RowDescription rd) shape = Optional.of(rd);
        else if (m instanceof ErrorResponse e) error = Optional.of(e);
        else if (m instanceof ReadyForQuery) break;
      }
      if (error.isPresent()) {
        throw new PostgresGatewayException("XX000", "describing a view definition failed: " + error.get().message());
      }
      return shape;
    } catch (IOException e) {
      throw new PostgresGatewayException("08006", "catalog connection failed: " + e.getMessage(), e);
    }
  }

  private BackendMessage next() throws IOException {
    Optional<Frame> frame = connection.reader().read(MAX_MESSAGE);
    if (frame.isEmpty()) throw new PostgresGatewayException("08006", "catalog connection closed by the target");
    return BackendCodec.decode(frame.get());
  }
}
