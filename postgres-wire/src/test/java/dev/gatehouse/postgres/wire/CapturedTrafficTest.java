package dev.gatehouse.postgres.wire;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gatehouse.postgres.wire.RecordingRelay.Capture;
import dev.gatehouse.postgres.wire.Wire.Feed;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Types;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real traffic as vectors: psql and pgjdbc talk to a real PostgreSQL (user postgres, trust; the
 * machine's at 127.0.0.1:5432 or an embedded one, see {@link LocalPostgres}) through a recording
 * relay; every message both sides sent must decode, and encode back to exactly the bytes that were
 * sent. With {@code -Dgatehouse.wire.vectors=<dir>}
 * the captures are also written there as hex, which is how {@code src/test/resources/captured}
 * was made (see {@link RecordedVectorsTest}).
 */
class CapturedTrafficTest {
  @Test
  void psqlSessionDecodesAndEncodesBackByteForByte(@TempDir Path dir) throws Exception {
    Path script = dir.resolve("session.sql");
    Files.writeString(script, """
        SELECT 1 AS one, NULL AS nothing, 'é'::text AS accent;
        SELECT * FROM no_such_table;
        DO $$ BEGIN RAISE NOTICE 'hello %', 42; END $$;
        BEGIN;
        CREATE TEMP TABLE t(id int, name text);
        INSERT INTO t VALUES (1, 'a'), (2, NULL);
        COMMIT;
        COPY t TO STDOUT;
        COPY t FROM STDIN;
        3\tc
        \\.
        LISTEN jobs;
        NOTIFY jobs, 'payload';
        SELECT count(*) FROM t;
        """);
    Capture capture;
    try (var relay = new RecordingRelay(LocalPostgres.address())) {
      var psql = new ProcessBuilder("psql", "-X", "-q", "-f", script.toString(),
              "host=127.0.0.1 port=" + relay.port()
                  + " user=postgres dbname=postgres sslmode=disable gssencmode=disable")
          .redirectErrorStream(true)
          .redirectOutput(dir.resolve("psql.out").toFile())
          .start();
      assertThat(psql.waitFor(60, TimeUnit.SECONDS)).as("psql finished").isTrue();
      assertThat(relay.captures()).hasSize(1);
      capture = relay.captures().getFirst();
    }
    save("psql", capture);

    List<FrontendMessage> sent = decodeClient(capture.fromClient(), Feed.WHOLE);
    List<BackendMessage> received = decodeServer(capture.fromServer(), Feed.WHOLE);

    assertThat(sent.getFirst()).isInstanceOfSatisfying(StartupMessage.class, s -> {
      assertThat(s.protocolVersion()).isEqualTo(ProtocolVersion.V3_0);
      assertThat(s.parameter("user")).contains("postgres");
    });
    assertThat(sent).contains(new Query("SELECT 1 AS one, NULL AS nothing, 'é'::text AS accent;"),
        CopyDone.INSTANCE, Terminate.INSTANCE);
    // Older psql versions also send the end-of-data line as data.
    assertThat(sent).filteredOn(CopyData.class::isInstance).map(m -> ((CopyData) m).data())
        .singleElement()
        .satisfies(d -> assertThat(new String(d, StandardCharsets.UTF_8)).startsWith("3\tc\n"));
    assertThat(received).contains(AuthenticationOk.INSTANCE, new CommandComplete("COPY 2"),
        new CommandComplete("COPY 1"), new CommandComplete("INSERT 0 2"),
        new NotificationResponse(backendPid(received), "jobs", "payload"));
    DataRow first = received.stream().filter(DataRow.class::isInstance).map(DataRow.class::cast)
        .findFirst().orElseThrow();
    assertThat(first.text(0)).contains("1");
    assertThat(first.isNull(1)).isTrue();
    assertThat(first.text(2)).contains("é");
    assertThat(received).filteredOn(ErrorResponse.class::isInstance)
        .extracting(m -> ((ErrorResponse) m).sqlstate()).containsExactly("42P01");
    assertThat(received).filteredOn(NoticeResponse.class::isInstance)
        .extracting(m -> ((NoticeResponse) m).message()).containsExactly("hello 42");
    assertThat(received).hasAtLeastOneElementOfType(CopyOutResponse.class)
        .hasAtLeastOneElementOfType(CopyInResponse.class)
        .hasAtLeastOneElementOfType(RowDescription.class);
    assertThat(received.getLast()).isInstanceOf(ReadyForQuery.class);
  }

  @Test
  void pgjdbcExtendedProtocolSessionDecodesAndEncodesBackByteForByte() throws Exception {
    Capture capture;
    try (var relay = new RecordingRelay(LocalPostgres.address())) {
      String url = "jdbc:postgresql://127.0.0.1:" + relay.port()
          + "/postgres?sslmode=disable&gssEncMode=disable&prepareThreshold=1";
      try (var c = DriverManager.getConnection(url, "postgres", "")) {
        for (int i = 0; i < 2; i++) {
          try (var ps = c.prepareStatement("SELECT ?::int + 1 AS n, ?::text AS t, ? IS NULL AS z")) {
            ps.setInt(1, 41);
            ps.setString(2, "x");
            ps.setNull(3, Types.VARCHAR);
            try (var rs = ps.executeQuery()) {
              assertThat(rs.next()).isTrue();
              assertThat(rs.getInt(1)).isEqualTo(42);
            }
          }
        }
        c.setAutoCommit(false);
        try (var st = c.createStatement()) {
          st.execute("CREATE TEMP TABLE b(i int)");
        }
        try (var ps = c.prepareStatement("INSERT INTO b VALUES (?)")) {
          for (int i = 0; i < 3; i++) {
            ps.setInt(1, i);
            ps.addBatch();
          }
          ps.executeBatch();
        }
        try (var ps = c.prepareStatement("SELECT i FROM b, generate_series(1, 10)")) {
          ps.setFetchSize(4);
          try (var rs = ps.executeQuery()) {
            int rows = 0;
            while (rs.next()) {
              rows++;
            }
            assertThat(rows).isEqualTo(30);
          }
        }
        c.commit();
        try (var st = c.createStatement()) {
          st.executeQuery("SELECT 1/0");
        } catch (SQLException expected) {
          assertThat(expected.getSQLState()).isEqualTo("22012");
        }
      }
      assertThat(relay.captures()).hasSize(1);
      capture = relay.captures().getFirst();
    }
    save("pgjdbc", capture);

    List<FrontendMessage> sent = decodeClient(capture.fromClient(), Feed.WHOLE);
    List<BackendMessage> received = decodeServer(capture.fromServer(), Feed.WHOLE);

    assertThat(sent).hasAtLeastOneElementOfType(Parse.class)
        .hasAtLeastOneElementOfType(Bind.class)
        .hasAtLeastOneElementOfType(Describe.class)
        .hasAtLeastOneElementOfType(Execute.class)
        .hasAtLeastOneElementOfType(Sync.class);
    assertThat(sent).filteredOn(Bind.class::isInstance).map(Bind.class::cast)
        .anySatisfy(b -> {
          assertThat(b.parameters()).hasSize(3);
          assertThat(b.parameter(2)).isEmpty();
        });
    assertThat(sent).filteredOn(Execute.class::isInstance).map(Execute.class::cast)
        .extracting(Execute::maxRows).contains(4);
    assertThat(received).contains(ParseComplete.INSTANCE, BindComplete.INSTANCE,
        PortalSuspended.INSTANCE, new CommandComplete("INSERT 0 1"));
    assertThat(received).filteredOn(ErrorResponse.class::isInstance)
        .extracting(m -> ((ErrorResponse) m).sqlstate()).containsExactly("22012");
  }

  /** Decodes a client stream (a startup packet, then messages) and checks each re-encodes. */
  static List<FrontendMessage> decodeClient(byte[] bytes, Feed feed) throws IOException {
    var reader = new FrameReader(feed.open(bytes));
    var messages = new ArrayList<FrontendMessage>();
    Frame startup = reader.readStartup(10_000).orElseThrow();
    messages.add(decodeAndCheck(startup));
    for (var f = reader.read(1 << 20); f.isPresent(); f = reader.read(1 << 20)) {
      messages.add(decodeAndCheck(f.get()));
    }
    return messages;
  }

  private static FrontendMessage decodeAndCheck(Frame frame) {
    FrontendMessage message = FrontendCodec.decode(frame);
    assertThat(FrontendCodec.encode(message)).as("%s re-encoded", message).isEqualTo(frame);
    return message;
  }

  /** Decodes a server stream and checks each message re-encodes to the same frame. */
  static List<BackendMessage> decodeServer(byte[] bytes, Feed feed) {
    var messages = new ArrayList<BackendMessage>();
    for (Frame frame : Wire.frames(bytes, feed)) {
      BackendMessage message = BackendCodec.decode(frame);
      assertThat(BackendCodec.encode(message)).as("%s re-encoded", message).isEqualTo(frame);
      messages.add(message);
    }
    return messages;
  }

  private static int backendPid(List<BackendMessage> received) {
    return received.stream().filter(BackendKeyData.class::isInstance)
        .map(m -> ((BackendKeyData) m).processId()).findFirst().orElseThrow();
  }

  private static void save(String name, Capture capture) {
    String dir = System.getProperty("gatehouse.wire.vectors");
    if (dir == null) {
      return;
    }
    try {
      Files.createDirectories(Path.of(dir));
      Files.writeString(Path.of(dir, name + "-client.hex"), hexLines(capture.fromClient()));
      Files.writeString(Path.of(dir, name + "-server.hex"), hexLines(capture.fromServer()));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String hexLines(byte[] bytes) {
    var out = new StringBuilder();
    for (int i = 0; i < bytes.length; i += 32) {
      out.append(HexFormat.of().formatHex(bytes, i, Math.min(bytes.length, i + 32))).append('\n');
    }
    return out.toString();
  }
}
