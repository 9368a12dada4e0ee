package dev.gatehouse.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.gatehouse.core.Secret;
import dev.gatehouse.postgres.wire.AuthenticationCleartextPassword;
import dev.gatehouse.postgres.wire.AuthenticationOk;
import dev.gatehouse.postgres.wire.AuthenticationSASL;
import dev.gatehouse.postgres.wire.AuthenticationSASLContinue;
import dev.gatehouse.postgres.wire.AuthenticationSASLFinal;
import dev.gatehouse.postgres.wire.AuthenticationUnsupported;
import dev.gatehouse.postgres.wire.BackendCodec;
import dev.gatehouse.postgres.wire.BackendKeyData;
import dev.gatehouse.postgres.wire.BackendMessage;
import dev.gatehouse.postgres.wire.DataRow;
import dev.gatehouse.postgres.wire.ErrorResponse;
import dev.gatehouse.postgres.wire.Frame;
import dev.gatehouse.postgres.wire.FrameReader;
import dev.gatehouse.postgres.wire.FrontendCodec;
import dev.gatehouse.postgres.wire.FrontendMessage;
import dev.gatehouse.postgres.wire.MessageWriter;
import dev.gatehouse.postgres.wire.NegotiateProtocolVersion;
import dev.gatehouse.postgres.wire.ParameterStatus;
import dev.gatehouse.postgres.wire.PasswordMessage;
import dev.gatehouse.postgres.wire.Query;
import dev.gatehouse.postgres.wire.ReadyForQuery;
import dev.gatehouse.postgres.wire.SASLInitialResponse;
import dev.gatehouse.postgres.wire.StartupMessage;
import dev.gatehouse.testkit.PostgresFixture;
import dev.gatehouse.testkit.ScramPostgres;
import dev.gatehouse.tls.CertificateAuthority;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * Against testkit's {@link ScramPostgres}: an embedded PostgreSQL 15 that demands SCRAM, md5 or a
 * cleartext password per role, with TLS whose server certificate is signed with SHA-384; and
 * against scripted fake servers for what a real one will not do.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS) // a hang guard, not a timing assertion
class BackendConnectorTest {
  private static final Map<String, String> PARAMETERS =
      Map.of("client_encoding", "UTF8", "application_name", "gatehouse-test");
  /** A SCRAM role of this test's own, with a password SASLprep changes (\u2168 becomes "IX"). */
  private static final String SCRAM_USER = "connector_scram";
  private static final String SCRAM_PASSWORD = "Scr4m-p\u00E4ss-\u2168";

  private static ScramPostgres server;
  /** A CA that signed nothing the server presents. */
  private static Path otherCaFile;
  private final BackendConnector connector = new BackendConnector();
  private final ListAppender<ILoggingEvent> logs = new ListAppender<>();
  private final Logger connectorLog = (Logger) LoggerFactory.getLogger(BackendConnector.class);

  @BeforeAll
  static void startServer(@TempDir Path otherCa) {
    server = ScramPostgres.shared();
    server.admin().execute("postgres", "DROP ROLE IF EXISTS " + SCRAM_USER + "; CREATE ROLE " + SCRAM_USER
        + " LOGIN PASSWORD " + PostgresFixture.quoteLiteral(SCRAM_PASSWORD));
    otherCaFile = CertificateAuthority.prepare(otherCa, List.of()).caCertificate();
  }

  @AfterAll
  static void dropRole() {
    server.admin().execute("postgres", "DROP ROLE IF EXISTS " + SCRAM_USER);
  }

  @BeforeEach
  void captureLogs() {
    connectorLog.setLevel(Level.DEBUG);
    logs.start();
    connectorLog.addAppender(logs);
  }

  @AfterEach
  void stopCapturingLogs() {
    connectorLog.detachAppender(logs);
  }

  @Test
  void scramLoginWithANonAsciiPasswordReachesAUsableSession() throws IOException {
    try (BackendConnection connection =
        connector.connect(target(SCRAM_USER, SCRAM_PASSWORD, TargetTls.disabled()), PARAMETERS)) {
      assertThat(query(connection, "SELECT current_user")).containsExactly(SCRAM_USER);
      assertThat(connection.serverVersion()).hasValueSatisfying(v -> assertThat(v).startsWith("15."));
      assertThat(connection.parameterStatus())
          .containsEntry("client_encoding", "UTF8")
          .containsEntry("application_name", "gatehouse-test");
      assertThat(connection.backendKey()).isPresent();
      assertThat(connection.tlsSession()).isEmpty();
    }
  }

  @Test
  void wrongScramPasswordSurfacesTheServersErrorWithoutThePassword() {
    String wrong = "not-the-Scr4m-password";

    assertThatThrownBy(() -> connector.connect(target(SCRAM_USER, wrong, TargetTls.disabled()), PARAMETERS))
        .isInstanceOf(PostgresGatewayException.class)
        .hasMessageContaining("password authentication failed for user \"" + SCRAM_USER + "\"")
        .hasMessageNotContaining(wrong)
        .satisfies(e -> assertThat(((PostgresGatewayException) e).sqlstate()).isEqualTo("28P01"));
    assertThat(logText()).isNotEmpty().doesNotContain(wrong);
  }

  @Test
  void md5LoginWorksAndAWrongMd5PasswordIsRefused() throws IOException {
    try (BackendConnection connection =
        connector.connect(target(server.md5User(), server.md5Password(), TargetTls.disabled()), PARAMETERS)) {
      assertThat(query(connection, "SELECT current_user")).containsExactly(server.md5User());
    }
    assertThatThrownBy(() -> connector.connect(target(server.md5User(), "wrong-md5", TargetTls.disabled()), PARAMETERS))
        .satisfies(e -> assertThat(((PostgresGatewayException) e).sqlstate()).isEqualTo("28P01"));
  }

  @Test
  void trustLoginNeedsNoPassword() throws IOException {
    try (BackendConnection connection =
        connector.connect(target("postgres", "", TargetTls.disabled()), PARAMETERS)) {
      assertThat(query(connection, "SELECT current_user")).containsExactly("postgres");
    }
  }

  @Test
  void cleartextPasswordGoesToALoopbackTarget() throws IOException {
    try (BackendConnection connection =
        connector.connect(target(server.cleartextUser(), server.cleartextPassword(), TargetTls.disabled()), PARAMETERS)) {
      assertThat(query(connection, "SELECT current_user")).containsExactly(server.cleartextUser());
    }
  }

  @Test
  void cleartextPasswordIsWithheldFromANonLoopbackTargetWithoutVerifiedTls() throws Exception {
    InetAddress nonLoopback = InetAddress.getByAddress(new byte[] {(byte) 192, 0, 2, 1});
    assertThat(BackendConnector.cleartextAllowed(TargetTls.Mode.DISABLE, false, nonLoopback)).isFalse();
    assertThat(BackendConnector.cleartextAllowed(TargetTls.Mode.REQUIRE, true, nonLoopback)).isFalse();
    assertThat(BackendConnector.cleartextAllowed(TargetTls.Mode.VERIFY_FULL, true, nonLoopback)).isTrue();
    assertThat(BackendConnector.cleartextAllowed(TargetTls.Mode.DISABLE, false, InetAddress.getLoopbackAddress())).isTrue();

    // And end to end, when this machine has a non-loopback address to listen on.
    Optional<InetAddress> local = nonLoopbackLocalAddress();
    if (local.isPresent()) {
      List<FrontendMessage> received = Collections.synchronizedList(new ArrayList<>());
      try (FakeServer fake =
          new FakeServer(local.get(), (in, out, socket) -> {
            received.add(readStartup(in));
            out.write(AuthenticationCleartextPassword.INSTANCE);
            out.flush();
            in.read(1024).ifPresent(f -> received.add(FrontendCodec.decode(f)));
          })) {
        PostgresTarget target = fake.target("plain", "s3cret-clear", TargetTls.disabled());
        assertThatThrownBy(() -> connector.connect(target, PARAMETERS))
            .hasMessageContaining("asks for the password in clear text")
            .hasMessageNotContaining("s3cret-clear");
        fake.awaitDone();
      }
      assertThat(received).hasSize(1).first().isInstanceOf(StartupMessage.class);
    }
  }

  @Test
  void serverThatSendsAWrongScramSignatureIsRefused() throws Exception {
    try (FakeServer fake = new FakeServer(InetAddress.getLoopbackAddress(), (in, out, socket) -> {
          readStartup(in);
          out.write(new AuthenticationSASL(List.of("SCRAM-SHA-256")));
          out.flush();
          String clientFirst = text(saslInitial(in).data().orElseThrow());
          String nonce = clientFirst.substring(clientFirst.indexOf("r=") + 2);
          out.write(new AuthenticationSASLContinue(bytes("r=" + nonce + "fake,s=" + b64(new byte[16]) + ",i=4096")));
          out.flush();
          in.read(1024);
          out.write(new AuthenticationSASLFinal(bytes("v=" + b64(new byte[32]))));
          out.write(AuthenticationOk.INSTANCE);
          out.write(ReadyForQuery.IDLE_INSTANCE);
          out.flush();
        })) {
      assertThatThrownBy(() -> connector.connect(fake.target("u", "pw-for-fake", TargetTls.disabled()), PARAMETERS))
          .isInstanceOf(PostgresGatewayException.class)
          .hasMessageContaining("server signature is wrong")
          .satisfies(e -> assertThat(((PostgresGatewayException) e).sqlstate()).isEqualTo("28000"));
    }
  }

  @Test
  void serverThatSkipsTheScramFinalMessageIsRefused() throws Exception {
    try (FakeServer fake = new FakeServer(InetAddress.getLoopbackAddress(), (in, out, socket) -> {
          readStartup(in);
          out.write(new AuthenticationSASL(List.of("SCRAM-SHA-256")));
          out.flush();
          saslInitial(in);
          out.write(AuthenticationOk.INSTANCE); // "welcome", without proving anything
          out.write(new BackendKeyData(1, new byte[4]));
          out.write(ReadyForQuery.IDLE_INSTANCE);
          out.flush();
        })) {
      assertThatThrownBy(() -> connector.connect(fake.target("u", "pw", TargetTls.disabled()), PARAMETERS))
          .hasMessageContaining("before proving its SCRAM server signature");
    }
  }

  @Test
  void negotiateProtocolVersionFromAnOlderServerIsAccepted() throws Exception {
    try (FakeServer fake = new FakeServer(InetAddress.getLoopbackAddress(), (in, out, socket) -> {
          readStartup(in);
          out.write(new NegotiateProtocolVersion(0, List.of()));
          out.write(AuthenticationOk.INSTANCE);
          out.write(new BackendKeyData(4711, new byte[] {1, 2, 3, 4}));
          out.write(new ParameterStatus("server_version", "15.0"));
          out.write(ReadyForQuery.IDLE_INSTANCE);
          out.flush();
          in.read(1024); // Terminate
        })) {
      try (BackendConnection connection = connector.connect(fake.target("u", "pw", TargetTls.disabled()), PARAMETERS)) {
        assertThat(connection.serverVersion()).hasValue("15.0");
        assertThat(connection.backendKey()).hasValueSatisfying(k -> assertThat(k.processId()).isEqualTo(4711));
      }
    }
  }

  @Test
  void sessionMessagesBeforeAuthenticationAreAProtocolViolation() throws Exception {
    try (FakeServer fake = new FakeServer(InetAddress.getLoopbackAddress(), (in, out, socket) -> {
          readStartup(in);
          out.write(new ParameterStatus("server_version", "15.0"));
          out.write(ReadyForQuery.IDLE_INSTANCE);
          out.flush();
        })) {
      assertThatThrownBy(() -> connector.connect(fake.target("u", "pw", TargetTls.disabled()), PARAMETERS))
          .hasMessageContaining("ParameterStatus before AuthenticationOk")
          .satisfies(e -> assertThat(((PostgresGatewayException) e).sqlstate()).isEqualTo("08P01"));
    }
  }

  @Test
  void aTargetThatTricklesItsStartupIsCutOffAtTheOverallDeadline() throws Exception {
    // One byte every 400 ms never trips a per-read limit of 1 s; the overall deadline must.
    BackendConnector quick = new BackendConnector(Duration.ofSeconds(2), Duration.ofSeconds(1), new java.security.SecureRandom());
    try (FakeServer fake = new FakeServer(InetAddress.getLoopbackAddress(), (in, out, socket) -> {
          readStartup(in);
          var raw = socket.getOutputStream();
          // AuthenticationOk, one byte every 400 ms (3.6 s in all), then the server is gone.
          for (int b : new int[] {'R', 0, 0, 0, 8, 0, 0, 0, 0}) {
            raw.write(b);
            raw.flush();
            Thread.sleep(400);
          }
        })) {
      // Without an overall deadline every read would succeed and the connection end in an EOF error.
      assertThatThrownBy(() -> quick.connect(fake.target("u", "pw", TargetTls.disabled()), PARAMETERS))
          .hasMessageContaining("did not complete startup within")
          .satisfies(e -> assertThat(((PostgresGatewayException) e).sqlstate()).isEqualTo("08001"));
    }
  }

  @Test
  void gssapiRequestIsRefusedByName() throws Exception {
    try (FakeServer fake = new FakeServer(InetAddress.getLoopbackAddress(), (in, out, socket) -> {
          readStartup(in);
          out.write(new AuthenticationUnsupported(7));
          out.flush();
        })) {
      assertThatThrownBy(() -> connector.connect(fake.target("u", "pw", TargetTls.disabled()), PARAMETERS))
          .hasMessageContaining("GSSAPI authentication, which Gatehouse does not support");
    }
  }

  @Test
  void serverThatDeclinesTlsIsNotUsedInClear() throws Exception {
    List<Integer> afterRefusal = Collections.synchronizedList(new ArrayList<>());
    try (FakeServer fake = new FakeServer(InetAddress.getLoopbackAddress(), (in, out, socket) -> {
          Frame sslRequest = in.readStartup(10_000).orElseThrow();
          assertThat(sslRequest.body()).startsWith(0x04, (byte) 0xD2, 0x16, 0x2F);
          socket.getOutputStream().write('N');
          in.readStartup(10_000).ifPresent(f -> afterRefusal.add(f.body().length));
        })) {
      PostgresTarget target = fake.target("u", "pw", TargetTls.verifyFull(server.caCertificateFile()));
      assertThatThrownBy(() -> connector.connect(target, PARAMETERS))
          .hasMessageContaining("answered N to SSLRequest")
          .hasMessageContaining("refusing to continue in clear");
      fake.awaitDone();
    }
    assertThat(afterRefusal).as("nothing is sent after the refusal").isEmpty();
  }

  @Test
  void verifiedTlsUsesChannelBoundScram() throws Exception {
    PostgresTarget target = target(SCRAM_USER, SCRAM_PASSWORD, verifiedTls());
    try (BackendConnection connection = connector.connect(target, PARAMETERS)) {
      assertThat(query(connection, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"))
          .containsExactly("t");
      X509Certificate leaf = (X509Certificate) connection.tlsSession().orElseThrow().getPeerCertificates()[0];
      assertThat(leaf.getSigAlgName()).isEqualTo("SHA384withECDSA");
    }
    // The server checked the channel binding data against its SHA-384-signed certificate: a hash
    // taken with SHA-256 regardless of the signature (RFC 5929 4.1) would have failed.
    assertThat(logText()).contains("with SCRAM-SHA-256-PLUS");
  }

  @Test
  void verifiedTlsChecksTheConfiguredServerNameNotTheDialledAddress() throws IOException {
    // The certificate names scram-postgres.gatehouse.test, which no DNS resolves: connecting to
    // 127.0.0.1 succeeds only when that name, not the address, is what the certificate is held to.
    TargetTls byName = new TargetTls(
        TargetTls.Mode.VERIFY_FULL, Optional.of(server.caCertificateFile()), Optional.of(server.certificateOnlyHostName()));
    try (BackendConnection connection = connector.connect(target(SCRAM_USER, SCRAM_PASSWORD, byName), PARAMETERS)) {
      assertThat(connection.tlsSession()).isPresent();
    }
  }

  @Test
  void verifiedTlsByIpAddressChecksTheCertificatesIpEntry() throws IOException {
    PostgresTarget target = target(SCRAM_USER, SCRAM_PASSWORD, TargetTls.verifyFull(server.caCertificateFile()));
    try (BackendConnection connection = connector.connect(target, PARAMETERS)) {
      assertThat(connection.tlsSession()).isPresent();
    }
  }

  @Test
  void certificateForAnotherHostNameIsRefused() {
    TargetTls wrongName =
        new TargetTls(TargetTls.Mode.VERIFY_FULL, Optional.of(server.caCertificateFile()), Optional.of("db.example.com"));

    assertThatThrownBy(() -> connector.connect(target(SCRAM_USER, SCRAM_PASSWORD, wrongName), PARAMETERS))
        .isInstanceOf(PostgresGatewayException.class)
        .hasMessageContaining("TLS handshake")
        .hasMessageContaining("db.example.com")
        .satisfies(e -> assertThat(((PostgresGatewayException) e).sqlstate()).isEqualTo("08001"));
  }

  @Test
  void certificateFromAnUntrustedCaIsRefused() {
    TargetTls otherCa = new TargetTls(TargetTls.Mode.VERIFY_FULL, Optional.of(otherCaFile), Optional.of("localhost"));

    assertThatThrownBy(() -> connector.connect(target(SCRAM_USER, SCRAM_PASSWORD, otherCa), PARAMETERS))
        .hasMessageContaining("TLS handshake");
  }

  @Test
  void requireModeEncryptsWithoutVerifying() throws IOException {
    try (BackendConnection connection =
        connector.connect(target(server.md5User(), server.md5Password(), TargetTls.require()), PARAMETERS)) {
      assertThat(query(connection, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).containsExactly("t");
    }
  }

  @Test
  void cancelStopsARunningQueryInClearAndOverTls() throws Exception {
    for (TargetTls tls : List.of(TargetTls.disabled(), verifiedTls())) {
      PostgresTarget target = target(SCRAM_USER, SCRAM_PASSWORD, tls);
      try (BackendConnection connection = connector.connect(target, PARAMETERS)) {
        BackendKeyData key = connection.backendKey().orElseThrow();
        connection.writer().write(new Query("SELECT pg_sleep(30)"));
        connection.writer().flush();
        awaitActive(key.processId());

        connector.cancel(target, key.processId(), key.secretKey());

        List<BackendMessage> replies = untilReady(connection);
        assertThat(replies)
            .filteredOn(ErrorResponse.class::isInstance)
            .singleElement()
            .satisfies(e -> assertThat(((ErrorResponse) e).sqlstate()).isEqualTo("57014"));
      }
    }
  }

  @Test
  void cancelToAnUnreachableTargetDoesNotThrow() throws IOException {
    int closedPort;
    try (ServerSocket s = new ServerSocket(0)) {
      closedPort = s.getLocalPort();
    }
    PostgresTarget nowhere =
        new PostgresTarget("127.0.0.1", closedPort, "d", "u", Secret.of("x"), TargetTls.disabled(), false);

    connector.cancel(nowhere, 42, new byte[4]);

    assertThat(logText()).contains("cancel request to target 127.0.0.1:" + closedPort + " failed");
  }

  @Test
  void missingDatabaseSurfacesTheServersSqlstate() {
    PostgresTarget target =
        new PostgresTarget(server.host(), server.port(), "no_such_db", SCRAM_USER, Secret.of(SCRAM_PASSWORD), TargetTls.disabled(), false);

    assertThatThrownBy(() -> connector.connect(target, PARAMETERS))
        .satisfies(e -> assertThat(((PostgresGatewayException) e).sqlstate()).isEqualTo("3D000"))
        .hasMessageContaining("no_such_db");
  }

  @Test
  void unreachableTargetIsReportedAsCannotConnect() throws IOException {
    int closedPort;
    try (ServerSocket s = new ServerSocket(0)) {
      closedPort = s.getLocalPort();
    }
    PostgresTarget nowhere =
        new PostgresTarget("127.0.0.1", closedPort, "d", "u", Secret.of("x"), TargetTls.disabled(), false);

    assertThatThrownBy(() -> connector.connect(nowhere, PARAMETERS))
        .satisfies(e -> assertThat(((PostgresGatewayException) e).sqlstate()).isEqualTo("08001"))
        .hasMessageContaining("could not connect to target 127.0.0.1:" + closedPort);
  }

  @Test
  void identityAndUnsafeParametersCannotBeInjected() {
    PostgresTarget target = target("postgres", "", TargetTls.disabled());

    for (String name : List.of("user", "database", "Options", "replication", "_pq_.anything")) {
      assertThatThrownBy(() -> connector.connect(target, Map.of(name, "x")))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("may not be set by the caller");
    }
    assertThatThrownBy(() -> connector.connect(target, Map.of("application_name", "a\0user\0postgres")))
        .hasMessageContaining("NUL");
  }

  @Test
  void md5ResponseMatchesPostgresFormula() {
    // Computed with coreutils: inner=$(printf secretalice | md5sum); md5sum of inner + 01 02 03 04
    assertThat(BackendConnector.md5Response(bytes("secret"), "alice", new byte[] {1, 2, 3, 4}))
        .isEqualTo("md598a0412b9c31436fc53776e863350083");
  }

  // ---- helpers

  /** A target on the SCRAM server, in its database, over 127.0.0.1. */
  private static PostgresTarget target(String user, String password, TargetTls tls) {
    return new PostgresTarget(server.host(), server.port(), server.database(), user, Secret.of(password), tls, false);
  }

  private static PostgresTarget target(String user, Secret password, TargetTls tls) {
    return new PostgresTarget(server.host(), server.port(), server.database(), user, password, tls, false);
  }

  /** TLS verified against the server's CA, for the name {@code localhost}. */
  private static TargetTls verifiedTls() {
    return new TargetTls(TargetTls.Mode.VERIFY_FULL, Optional.of(server.caCertificateFile()), Optional.of("localhost"));
  }

  private String logText() {
    StringBuilder text = new StringBuilder();
    for (ILoggingEvent event : logs.list) text.append(event.getFormattedMessage()).append('\n');
    return text.toString();
  }

  private static void awaitActive(int pid) throws InterruptedException {
    for (int i = 0; i < 200; i++) {
      try (var c = server.admin().connect("postgres");
          var s = c.prepareStatement("SELECT 1 FROM pg_stat_activity WHERE pid = ? AND state = 'active' AND query LIKE '%pg_sleep%'")) {
        s.setInt(1, pid);
        if (s.executeQuery().next()) return;
      } catch (java.sql.SQLException e) {
        throw new IllegalStateException(e);
      }
      Thread.sleep(25);
    }
    throw new AssertionError("query never became active in backend " + pid);
  }

  /** Runs a simple query, returns the first column of each row as text. */
  static List<String> query(BackendConnection connection, String sql) throws IOException {
    connection.writer().write(new Query(sql));
    connection.writer().flush();
    List<String> values = new ArrayList<>();
    for (BackendMessage m : untilReady(connection)) {
      if (m instanceof ErrorResponse e) throw new AssertionError("query failed: " + e.message());
      if (m instanceof DataRow row) values.add(row.text(0).orElse(null));
    }
    return values;
  }

  static List<BackendMessage> untilReady(BackendConnection connection) throws IOException {
    List<BackendMessage> messages = new ArrayList<>();
    while (true) {
      BackendMessage m = BackendCodec.decode(connection.reader().read(1 << 20).orElseThrow());
      messages.add(m);
      if (m instanceof ReadyForQuery) return messages;
    }
  }

  private static StartupMessage readStartup(FrameReader in) throws IOException {
    return (StartupMessage) FrontendCodec.decode(in.readStartup(10_000).orElseThrow());
  }

  private static SASLInitialResponse saslInitial(FrameReader in) throws IOException {
    return SASLInitialResponse.parse((PasswordMessage) FrontendCodec.decode(in.read(10_000).orElseThrow()));
  }

  private static Optional<InetAddress> nonLoopbackLocalAddress() throws SocketException {
    return NetworkInterface.networkInterfaces()
        .filter(i -> { try { return i.isUp() && !i.isLoopback(); } catch (SocketException e) { return false; } })
        .flatMap(NetworkInterface::inetAddresses)
        .filter(a -> a instanceof Inet4Address && !a.isLoopbackAddress() && !a.isLinkLocalAddress())
        .findFirst();
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static String text(byte[] b) {
    return new String(b, StandardCharsets.UTF_8);
  }

  private static String b64(byte[] b) {
    return Base64.getEncoder().encodeToString(b);
  }

  /** What a scripted peer does with one accepted connection. */
  interface Script {
    void run(FrameReader in, MessageWriter out, Socket socket) throws Exception;
  }

  /**
   * A scripted PostgreSQL server for what a real one will not do: lie about SCRAM, ask for
   * GSSAPI, refuse TLS. Serves one connection.
   */
  static final class FakeServer implements AutoCloseable {
    private final ServerSocket listener;
    private final CompletableFuture<Void> done;

    FakeServer(InetAddress address, Script script) throws IOException {
      listener = new ServerSocket(0, 1, address);
      done = CompletableFuture.runAsync(() -> {
        try (Socket socket = listener.accept()) {
          socket.setSoTimeout(20_000);
          script.run(new FrameReader(socket.getInputStream()), new MessageWriter(socket.getOutputStream()), socket);
        } catch (Exception e) {
          // the client hanging up mid-script is what several tests expect
        }
      }, Thread::startVirtualThread);
    }

    PostgresTarget target(String user, String password, TargetTls tls) {
      return new PostgresTarget(
          listener.getInetAddress().getHostAddress(), listener.getLocalPort(), "db", user, Secret.of(password), tls, false);
    }

    void awaitDone() throws Exception {
      done.get(20, TimeUnit.SECONDS);
    }

    @Override
    public void close() throws IOException {
      listener.close();
    }
  }
}
