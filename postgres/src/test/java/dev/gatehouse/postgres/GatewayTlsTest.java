package dev.gatehouse.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gatehouse.core.Secret;
import dev.gatehouse.postgres.wire.AuthenticationCleartextPassword;
import dev.gatehouse.postgres.wire.BackendCodec;
import dev.gatehouse.postgres.wire.ErrorResponse;
import dev.gatehouse.postgres.wire.FrameReader;
import dev.gatehouse.postgres.wire.MessageWriter;
import dev.gatehouse.postgres.wire.ProtocolVersion;
import dev.gatehouse.postgres.wire.StartupMessage;
import dev.gatehouse.testkit.Psql;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Client TLS: SSLRequest, verify-full with psql, direct TLS, and the plaintext refusals. */
class GatewayTlsTest {
  @TempDir static Path dir;
  static Path certificate;
  static SSLContext server;
  static SSLContext client;
  static GatewayHarness h;

  @BeforeAll
  static void start() throws Exception {
    Path keystore = dir.resolve("server.p12");
    certificate = dir.resolve("server.pem");
    Path keytool = Path.of(ProcessHandle.current().info().command().orElseThrow()).resolveSibling("keytool");
    run(keytool.toString(), "-genkeypair", "-alias", "server", "-keyalg", "EC", "-groupname", "secp256r1",
        "-dname", "CN=localhost", "-ext", "SAN=dns:localhost,ip:127.0.0.1", "-validity", "2",
        "-keystore", keystore.toString(), "-storetype", "PKCS12", "-storepass", "changeit");
    run(keytool.toString(), "-exportcert", "-rfc", "-alias", "server", "-keystore", keystore.toString(),
        "-storepass", "changeit", "-file", certificate.toString());
    KeyStore ks = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(keystore)) {
      ks.load(in, "changeit".toCharArray());
    }
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(ks, "changeit".toCharArray());
    server = SSLContext.getInstance("TLS");
    server.init(kmf.getKeyManagers(), null, null);
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(ks);
    client = SSLContext.getInstance("TLS");
    client.init(null, tmf.getTrustManagers(), null);
    h = new GatewayHarness(PostgresListenerConfig.loopback(0).withTls(Optional.of(server), true));
  }

  @AfterAll
  static void stop() {
    if (h != null) h.close();
  }

  private static void run(String... command) throws Exception {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    byte[] out = p.getInputStream().readAllBytes();
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(new String(out)).isZero();
  }

  private Psql psql(String sslmode) {
    return Psql.connect("host=localhost port=" + h.gateway.port() + " dbname=" + GatewayHarness.RESOURCE
        + " user=alice sslmode=" + sslmode + " sslrootcert=" + certificate)
        .withPassword(Secret.of(GatewayHarness.TOKEN));
  }

  /** pgjdbc over TLS, verifying the gateway (sslmode=verify-full). */
  private static Connection verifiedJdbc() throws SQLException {
    Properties p = new Properties();
    p.setProperty("sslmode", "verify-full");
    p.setProperty("sslrootcert", certificate.toString());
    return java.sql.DriverManager.getConnection("jdbc:postgresql://localhost:" + h.gateway.port() + "/"
        + GatewayHarness.RESOURCE + "?user=alice&password=" + GatewayHarness.TOKEN, p);
  }

  @Test
  void psqlConnectsWithSslmodeRequire() {
    Psql.Result r = psql("require").script("\\conninfo\n");
    assertThat(r.stderr()).isEmpty();
    assertThat(r.stdout()).contains("SSL connection (protocol: TLSv1.3");
  }

  @Test
  void psqlVerifiesTheGatewayWithVerifyFull() {
    Psql.Result r = psql("verify-full").withArgs("-At").command("SELECT 'verified'");
    assertThat(r.stderr()).isEmpty();
    assertThat(r.stdout().strip()).isEqualTo("verified");
  }

  @Test
  void plaintextIsRefusedWhenTheListenerRequiresTls() {
    Psql.Result r = psql("disable").command("SELECT 1");
    assertThat(r.succeeded()).isFalse();
    assertThat(r.stderr()).contains("accepts only TLS connections");
  }

  @Test
  void bytesSentAfterSslRequestBeforeTheHandshakeEndTheConnection() throws Exception {
    try (RawClient c = new RawClient(h.gateway.port())) {
      ByteArrayOutputStream both = new ByteArrayOutputStream();
      both.write(ByteBuffer.allocate(8).putInt(8).putInt(ProtocolVersion.SSL_REQUEST_CODE).array());
      MessageWriter w = new MessageWriter(both);
      w.write(StartupMessage.of(Map.of("user", "alice", "database", GatewayHarness.RESOURCE)));
      w.flush();
      c.sendBytes(both.toByteArray());
      List<dev.gatehouse.postgres.wire.BackendMessage> got = c.untilClosed();
      assertThat(RawClient.firstError(got)).get()
          .satisfies(e -> assertThat(e.message()).contains("unencrypted data after SSL request"));
    }
  }

  @Test
  void pgjdbcOverTlsRunsQueriesAndCancels() throws Exception {
    try (Connection c = verifiedJdbc(); Statement s = c.createStatement()) {
      try (ResultSet rs = s.executeQuery("SELECT 7")) {
        assertThat(rs.next()).isTrue();
        assertThat(rs.getInt(1)).isEqualTo(7);
      }
      Thread canceller = Thread.ofVirtual().start(() -> {
        assertThat(GatewayHarness.eventually(() -> GatewayRelayTest.runningSleepsIn(h) > 0)).isTrue();
        try {
          s.cancel();
        } catch (SQLException e) {
          throw new IllegalStateException(e);
        }
      });
      try {
        s.execute("SELECT pg_sleep(60)");
        throw new AssertionError("the query was not cancelled");
      } catch (SQLException e) {
        assertThat(e.getSQLState()).isEqualTo("57014");
      }
      canceller.join(Duration.ofSeconds(30));
    }
  }

  @Test
  void aSessionEndedWhileItsClientStopsReadingClosesOverTlsToo() throws Exception {
    endSessionWhoseClientStopsReading(h);
  }

  @Test
  void onThreadsTooTlsSessionsRunAndEndWhileTheirClientStopsReading() throws Exception {
    // The thread-per-direction relay (gatehouse.postgres.relay=threads) keeps TLS over the
    // socket's blocking streams for the whole session.
    System.setProperty("gatehouse.postgres.relay", "threads");
    try (GatewayHarness threads = new GatewayHarness(PostgresListenerConfig.loopback(0).withTls(Optional.of(server), true))) {
      System.clearProperty("gatehouse.postgres.relay");
      try (RawClient c = RawClient.tls(threads.gateway.port(), client)) {
        c.login(GatewayHarness.TOKEN);
        c.send(new dev.gatehouse.postgres.wire.Query("SELECT repeat('t', 100000) FROM generate_series(1, 20)"));
        List<dev.gatehouse.postgres.wire.BackendMessage> got = c.untilReady();
        assertThat(RawClient.firstError(got)).isEmpty();
        assertThat(got.stream().filter(dev.gatehouse.postgres.wire.DataRow.class::isInstance).count()).isEqualTo(20);
        assertThat(Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().startsWith("pg-backend-")))
            .as("the session's target side on a thread of its own").isTrue();
      }
      endSessionWhoseClientStopsReading(threads);
    } finally {
      System.clearProperty("gatehouse.postgres.relay");
    }
  }

  private void endSessionWhoseClientStopsReading(GatewayHarness h) throws Exception {
    // The relay blocks writing a result the client does not read; ending the session (here: a
    // protocol violation) must still close it within the close grace. Over TLS, closing waited
    // for the blocked writer's lock (red-team round 9: sessions outlived their tokens).
    assertThat(GatewayHarness.eventually(() -> h.gateway.sessionCount() == 0)).isTrue();
    try (RawClient c = RawClient.tls(h.gateway.port(), client)) {
      c.login(GatewayHarness.TOKEN);
      assertThat(h.gateway.sessionCount()).isEqualTo(1);
      c.send(new dev.gatehouse.postgres.wire.Query("SELECT g, repeat('z', 500) FROM generate_series(1, 2000000) g"));
      Thread.sleep(2_000); // the result fills the buffers; the relay's write blocks
      c.sendBytes(new byte[] {'Q', 0, 0, 0, 0}); // a length below 4: the session ends
      long until = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
      while (h.gateway.sessionCount() > 0 && System.nanoTime() < until) Thread.sleep(100);
      assertThat(h.gateway.sessionCount()).as("sessions left open").isZero();
    }
  }

  @Test
  void directTlsWithAlpnPostgresqlIsAccepted() throws Exception {
    try (Socket plain = new Socket("127.0.0.1", h.gateway.port());
        SSLSocket tls = (SSLSocket) client.getSocketFactory().createSocket(plain, "localhost", plain.getPort(), true)) {
      tls.setSoTimeout(30_000);
      SSLParameters params = tls.getSSLParameters();
      params.setApplicationProtocols(new String[] {"postgresql"});
      params.setEndpointIdentificationAlgorithm("HTTPS");
      tls.setSSLParameters(params);
      tls.startHandshake();
      MessageWriter w = new MessageWriter(tls.getOutputStream());
      w.write(StartupMessage.of(Map.of("user", "alice", "database", GatewayHarness.RESOURCE)));
      w.flush();
      FrameReader r = new FrameReader(tls.getInputStream());
      assertThat(BackendCodec.decode(r.read(1 << 20).orElseThrow())).isInstanceOf(AuthenticationCleartextPassword.class);
    }
  }

  @Test
  void directTlsWithoutAlpnIsRefusedSayingWhy() throws Exception {
    try (Socket plain = new Socket("127.0.0.1", h.gateway.port());
        SSLSocket tls = (SSLSocket) client.getSocketFactory().createSocket(plain, "localhost", plain.getPort(), true)) {
      tls.setSoTimeout(30_000);
      tls.startHandshake();
      // Before any startup packet: the refusal comes over the TLS the client started, then the close.
      FrameReader r = new FrameReader(tls.getInputStream());
      ErrorResponse error = (ErrorResponse) BackendCodec.decode(r.read(1 << 20).orElseThrow());
      assertThat(error.severity()).isEqualTo("FATAL");
      assertThat(error.sqlstate()).isEqualTo("08P01");
      assertThat(error.message()).contains("ALPN");
      assertThat(r.read(1 << 20)).isEmpty();
    }
  }

  @Test
  void tlsSessionsRunOnTheEventLoopWithoutThreadsOfTheirOwn() throws Exception {
    // A TLS session used to take a platform thread per direction (twice the CPU per statement of
    // the event loop, and a stack per idle session); the loop now relays it as a plaintext one.
    List<RawClient> clients = new java.util.ArrayList<>();
    try {
      for (int i = 0; i < 4; i++) {
        RawClient c = RawClient.tls(h.gateway.port(), client);
        clients.add(c);
        c.login(GatewayHarness.TOKEN);
        c.send(new dev.gatehouse.postgres.wire.Query("SELECT 1"));
        assertThat(RawClient.firstError(c.untilReady())).isEmpty();
      }
      long relayThreads = Thread.getAllStackTraces().keySet().stream()
          .filter(t -> t.getName().startsWith("pg-backend-"))
          .count();
      assertThat(relayThreads).as("threads relaying a session's target side").isZero();
    } finally {
      for (RawClient c : clients) c.close();
    }
  }

  @Test
  void aKeyUpdateFromTheClientIsAnsweredAndTheSessionGoesOn() throws Exception {
    try (RawClient c = RawClient.tls(h.gateway.port(), client)) {
      c.login(GatewayHarness.TOKEN);
      SSLSocket tls = (SSLSocket) c.socket;
      assertThat(tls.getSession().getProtocol()).isEqualTo("TLSv1.3");
      for (int i = 0; i < 3; i++) {
        tls.startHandshake(); // on TLS 1.3: a KeyUpdate, asking the gateway for one in return
        c.send(new dev.gatehouse.postgres.wire.Query("SELECT 'after key update " + i + "'"));
        List<dev.gatehouse.postgres.wire.BackendMessage> got = c.untilReady();
        assertThat(RawClient.firstError(got)).isEmpty();
        assertThat(got).anySatisfy(m -> assertThat(m).isInstanceOf(dev.gatehouse.postgres.wire.DataRow.class));
      }
    }
  }

  @Test
  void aTls12RenegotiationEndsTheSessionAndTheGatewayServesOthers() throws Exception {
    SSLContext tls12 = SSLContext.getInstance("TLSv1.2");
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    KeyStore ks = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(dir.resolve("server.p12"))) {
      ks.load(in, "changeit".toCharArray());
    }
    tmf.init(ks);
    tls12.init(null, tmf.getTrustManagers(), null);
    try (RawClient c = RawClient.tls(h.gateway.port(), tls12)) {
      c.login(GatewayHarness.TOKEN);
      SSLSocket tls = (SSLSocket) c.socket;
      assertThat(tls.getSession().getProtocol()).isEqualTo("TLSv1.2");
      // A renegotiation: a second handshake at any time is work a client should not command. The
      // gateway ends the connection at once (before: the client waited for an answer that never came).
      Throwable ended = org.assertj.core.api.Assertions.catchThrowable(() -> {
        tls.startHandshake();
        c.send(new dev.gatehouse.postgres.wire.Query("SELECT 1"));
        c.untilClosed();
      });
      assertThat(ended).as("the connection ended, rather than leaving the client waiting")
          .isNotInstanceOf(java.net.SocketTimeoutException.class);
      assertThat(GatewayHarness.eventually(() -> h.gateway.sessionCount() == 0)).isTrue();
      // On record as what it was, not as a network drop.
      assertThat(h.closedSessions()).last().satisfies(closed -> assertThat(closed.reason())
          .isEqualTo("client connection lost: TLS failed: TLS renegotiation is not supported by Gatehouse"));
    }
    Psql.Result r = psql("require").withArgs("-At").command("SELECT 'still serving'");
    assertThat(r.stderr()).isEmpty();
    assertThat(r.stdout().strip()).isEqualTo("still serving");
  }

  @Test
  void aLargeBatchAndCopyOverTlsArriveWhole() throws Exception {
    // Much more than one TLS record at a time: the loop must come back for plaintext TLS decrypted
    // but its handler did not take, although the socket has no byte left to wake it.
    try (Connection c = verifiedJdbc(); Statement s = c.createStatement()) {
      s.execute("CREATE TEMP TABLE tls_batch (n int, filler text)");
      try (java.sql.PreparedStatement insert = c.prepareStatement("INSERT INTO tls_batch VALUES (?, ?)")) {
        for (int i = 0; i < 5_000; i++) {
          insert.setInt(1, i);
          insert.setString(2, "x".repeat(i % 300));
          insert.addBatch();
        }
        insert.executeBatch();
      }
      org.postgresql.copy.CopyManager copy = c.unwrap(org.postgresql.PGConnection.class).getCopyAPI();
      StringBuilder rows = new StringBuilder();
      for (int i = 0; i < 20_000; i++) rows.append(100_000 + i).append('\t').append("y".repeat(i % 200)).append('\n');
      long copied = copy.copyIn("COPY tls_batch FROM STDIN", new java.io.StringReader(rows.toString()));
      assertThat(copied).isEqualTo(20_000);
      try (ResultSet rs = s.executeQuery("SELECT count(*), sum(length(filler)) FROM tls_batch")) {
        assertThat(rs.next()).isTrue();
        assertThat(rs.getLong(1)).isEqualTo(25_000);
        long expected = 0;
        for (int i = 0; i < 5_000; i++) expected += i % 300;
        for (int i = 0; i < 20_000; i++) expected += i % 200;
        assertThat(rs.getLong(2)).isEqualTo(expected);
      }
    }
  }

  @Test
  void burstsOfPipelinedMessagesOverTlsAreAnsweredWhole() throws Exception {
    // Bursts of Syncs, each sent in one write: TLS delivers more plaintext than a handler takes in
    // one run, and the client sends nothing more until it has every answer. Decrypted plaintext
    // waiting in the gateway wakes no selector: the loop must come back for it by itself.
    int count = 40_000;
    byte[] burst = RawClient.syncs(count);
    try (RawClient c = RawClient.tls(h.gateway.port(), client)) {
      c.login(GatewayHarness.TOKEN);
      for (int round = 0; round < 10; round++) {
        c.sendBytes(burst);
        for (int ready = 0; ready < count; ready++) {
          dev.gatehouse.postgres.wire.BackendMessage m = c.read()
              .orElseThrow(() -> new AssertionError("the gateway closed"));
          assertThat(m).isInstanceOf(dev.gatehouse.postgres.wire.ReadyForQuery.class);
        }
      }
      c.send(new dev.gatehouse.postgres.wire.Query("SELECT 'after the bursts'"));
      assertThat(RawClient.firstError(c.untilReady())).isEmpty();
    }
  }

  @Test
  void aClientOfferingAnotherAlpnProtocolHearsWhyTheHandshakeFailed() throws Exception {
    try (Socket plain = RawClient.sslRequested(h.gateway.port())) {
      try (SSLSocket tls = (SSLSocket) client.getSocketFactory().createSocket(plain, "localhost", plain.getPort(), true)) {
        SSLParameters params = tls.getSSLParameters();
        params.setApplicationProtocols(new String[] {"h2"});
        tls.setSSLParameters(params);
        // The TLS alert, as PostgreSQL and an SSLSocket send it, not a bare close.
        org.assertj.core.api.Assertions.assertThatThrownBy(tls::startHandshake)
            .isInstanceOf(javax.net.ssl.SSLHandshakeException.class)
            .hasMessageContaining("no_application_protocol");
      }
    }
  }

  @Test
  void aCloseNotifyArrivingWithTheLastQueryEndsTheSessionThoughTcpStaysOpen() throws Exception {
    // The client's last query and its close_notify in one segment, its TCP connection left open:
    // the end decrypted along with the query wakes no selector, and must still end the session.
    try (Socket plain = RawClient.sslRequested(h.gateway.port())) {
      javax.net.ssl.SSLEngine engine = client.createSSLEngine("localhost", h.gateway.port());
      engine.setUseClientMode(true);
      TlsStreams tls = TlsStreams.connect(engine, plain.getInputStream(), plain.getOutputStream());
      RawClient c = new RawClient(plain, tls.input(), tls.output());
      c.login(GatewayHarness.TOKEN);
      assertThat(GatewayHarness.eventually(() -> h.gateway.sessionCount() == 1)).isTrue();
      ByteBuffer records = ByteBuffer.allocate(4 * engine.getSession().getPacketBufferSize());
      engine.wrap(ByteBuffer.wrap(RawClient.bytes(new dev.gatehouse.postgres.wire.Query("SELECT 'last'"))), records);
      engine.closeOutbound();
      engine.wrap(ByteBuffer.allocate(0), records);
      plain.getOutputStream().write(records.array(), 0, records.position());
      // The end of the client's stream ends the session (its answer may or may not come first, as
      // with a plaintext client that shuts its side), and the gateway closes the connection.
      assertThat(GatewayHarness.eventually(() -> h.gateway.sessionCount() == 0)).isTrue();
      c.untilClosed();
    }
  }

  @Test
  void keyUpdatesWhileAResultStreamsLeaveTheResultWhole() throws Exception {
    // A TLS 1.3 client rotating keys while the gateway writes rows (review round 47, r47a F1: the
    // answer to the KeyUpdate, made by the writer of the rows, was taken for a renegotiation and
    // the session ended mid-result).
    try (RawClient c = RawClient.tls(h.gateway.port(), client)) {
      c.login(GatewayHarness.TOKEN);
      SSLSocket tls = (SSLSocket) c.socket;
      c.send(new dev.gatehouse.postgres.wire.Query("SELECT repeat('x', 1000) FROM generate_series(1, 100000)"));
      long rows = 0;
      while (true) {
        dev.gatehouse.postgres.wire.BackendMessage m = c.read().orElseThrow(() -> new AssertionError("the gateway closed"));
        if (m instanceof ErrorResponse e) throw new AssertionError("error: " + e.message());
        if (m instanceof dev.gatehouse.postgres.wire.ReadyForQuery) break;
        if (m instanceof dev.gatehouse.postgres.wire.DataRow && ++rows % 2_000 == 0) {
          tls.startHandshake();
          Thread.sleep(20); // the gateway's writes wait for the client meanwhile, on another thread than its reads
        }
      }
      assertThat(rows).isEqualTo(100_000);
    }
  }
}
