package dev.gatehouse.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.gatehouse.core.Outcome;
import dev.gatehouse.postgres.wire.BackendMessage;
import dev.gatehouse.postgres.wire.ProtocolVersion;
import dev.gatehouse.postgres.wire.Query;
import java.nio.ByteBuffer;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** How sessions end: stalled startups, expired tokens, a target that dies, a gateway that stops. */
class GatewayLifecycleTest {
  static GatewayHarness h;

  @BeforeAll
  static void start() {
    h = new GatewayHarness(PostgresListenerConfig.loopback(0).withStartupTimeout(Duration.ofSeconds(1)));
  }

  @AfterAll
  static void stop() {
    h.close();
  }

  @Test
  void aClientThatStallsDuringStartupIsClosedWithAProtocolError() throws Exception {
    try (RawClient c = new RawClient(h.gateway.port())) {
      // Half a startup packet, then nothing.
      c.sendBytes(ByteBuffer.allocate(6).putInt(40).putShort((short) 3).array());
      List<BackendMessage> got = c.untilClosed();
      assertThat(RawClient.firstError(got)).get().satisfies(e -> {
        assertThat(e.severity()).isEqualTo("FATAL");
        assertThat(e.sqlstate()).isEqualTo("08P01");
        assertThat(e.message()).contains("timeout");
      });
    }
  }

  @Test
  void aClientTricklingBytesIsCutOffAtTheStartupDeadline() throws Exception {
    try (RawClient c = new RawClient(h.gateway.port())) {
      byte[] packet = ByteBuffer.allocate(8).putInt(8).putInt(ProtocolVersion.V3_0).array();
      boolean closed = false;
      // One byte every 300 ms would never trip a per-read timeout of 1 s; the deadline must.
      for (int i = 0; i < 40 && !closed; i++) {
        try {
          c.sendBytes(new byte[] {packet[i % 4]});
          Thread.sleep(300);
        } catch (java.io.IOException e) {
          closed = true;
        }
        if (!closed && c.in.available() > 0) closed = true;
      }
      assertThat(closed).as("connection ended before 40 slow bytes were accepted").isTrue();
    }
  }

  @Test
  void aSessionEndsWhenItsTokenExpires() throws Exception {
    String shortToken = "short-lived-token";
    h.tokens.put(shortToken, Instant.now().plusSeconds(2));
    Properties p = new Properties();
    p.setProperty("password", shortToken);
    try (Connection c = h.jdbc(p); Statement s = c.createStatement()) {
      try (ResultSet rs = s.executeQuery("SELECT 1")) {
        assertThat(rs.next()).isTrue();
      }
      assertThat(GatewayHarness.eventually(() -> h.closedSessions().stream()
          .anyMatch(e -> e.reason().equals("session expired")))).isTrue();
      assertThatThrownBy(() -> s.executeQuery("SELECT 1"))
          .isInstanceOf(SQLException.class)
          .hasMessageContaining("session expired: your token expired; reconnect with a fresh token");
    }
  }

  @Test
  void aTokenThatExpiredWithinTheIssuersClockSkewIsRefusedAtLoginWithoutASession() throws Exception {
    // Red-team round 18a: the authenticator accepts a token until exp + clockSkew, but the session
    // would end at exp + tokenGrace: it was admitted, already over, and its first statement failed.
    String lateToken = "expired-ten-seconds-ago-token";
    h.tokens.put(lateToken, Instant.now().minusSeconds(10)); // the harness's authenticator accepts it, as within a skew
    int before = h.audit.events.size();
    try (RawClient c = new RawClient(h.gateway.port())) {
      c.send(dev.gatehouse.postgres.wire.StartupMessage.of(java.util.Map.of("user", "alice", "database", GatewayHarness.RESOURCE)));
      assertThat(c.read()).get().isInstanceOf(dev.gatehouse.postgres.wire.AuthenticationCleartextPassword.class);
      c.send(dev.gatehouse.postgres.wire.PasswordMessage.cleartext(lateToken));
      List<BackendMessage> answer = c.untilClosed();
      assertThat(answer).singleElement().isInstanceOfSatisfying(dev.gatehouse.postgres.wire.ErrorResponse.class, e -> {
        assertThat(e.sqlstate()).isEqualTo("28P01");
        assertThat(e.message()).contains("token expired at").contains("reconnect with a fresh token").doesNotContain(lateToken);
      });
    }
    List<GatewayHarness.Event> events = h.audit.events.subList(before, h.audit.events.size());
    assertThat(events).noneMatch(GatewayHarness.Event.Opened.class::isInstance)
        .singleElement().isInstanceOfSatisfying(GatewayHarness.Event.Refused.class,
            r -> assertThat(r.rule()).isEqualTo("authentication"));
  }

  @Test
  void aTargetBackendKilledMidQueryEndsTheSessionWithAbortedOutcome() throws Exception {
    try (Connection c = h.jdbc(); Statement s = c.createStatement()) {
      Thread killer = Thread.ofVirtual().start(() -> {
        GatewayHarness.eventually(() -> GatewayRelayTest.runningSleepsIn(h) > 0);
        try (Connection admin = h.admin()) {
          admin.createStatement().execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
              + " WHERE query = 'SELECT pg_sleep(60) AS killed_here' AND state = 'active'");
        } catch (SQLException e) {
          throw new IllegalStateException(e);
        }
      });
      assertThatThrownBy(() -> s.execute("SELECT pg_sleep(60) AS killed_here"))
          .isInstanceOf(SQLException.class);
      killer.join();
      assertThat(c.isValid(5)).isFalse();
    }
    assertThat(GatewayHarness.eventually(() -> h.audit.outcomeOf("killed_here").isPresent())).isTrue();
    assertThat(h.audit.outcomeOf("killed_here")).get().extracting(Outcome::status).isEqualTo(Outcome.Status.ABORTED);
  }

  @Test
  void aWriteInFlightWhenTheClientDisconnectsIsCancelledAndNotCommitted() throws Exception {
    try (Connection admin = h.admin()) {
      admin.createStatement().execute("INSERT INTO t VALUES (181, 'before') ON CONFLICT (id) DO UPDATE SET v = 'before'");
    }
    try (RawClient c = new RawClient(h.gateway.port())) {
      c.login(GatewayHarness.TOKEN);
      // One message, one implicit transaction: the UPDATE commits only when the sleep is over.
      c.send(new Query("UPDATE t SET v = 'after-disconnect' WHERE id = 181; SELECT pg_sleep(5) AS left_behind"));
      assertThat(GatewayHarness.eventually(() -> backendsRunning("left_behind") > 0)).isTrue();
    } // the client leaves without Terminate, its answers outstanding
    assertThat(GatewayHarness.eventually(() -> backendsRunning("left_behind") == 0)).isTrue();
    try (Connection admin = h.admin(); ResultSet rs = admin.createStatement().executeQuery("SELECT v FROM t WHERE id = 181")) {
      assertThat(rs.next()).isTrue();
      assertThat(rs.getString(1)).as("the UPDATE of a session that ended mid-transaction").isEqualTo("before");
    }
    assertThat(GatewayHarness.eventually(() -> h.audit.outcomeOf("after-disconnect").isPresent())).isTrue();
    // Gatehouse never heard the target's answer: the audit must not say it certainly did not run.
    assertThat(h.audit.outcomeOf("after-disconnect")).get().extracting(Outcome::status).isEqualTo(Outcome.Status.UNKNOWN);
  }

  @Test
  void aCopyFromStdinWhoseDataTheClientNeverEndedIsRecordedAbortedWhenTheClientLeaves() throws Exception {
    // Review round 45: such a COPY, cut off by the session's end before the client's CopyDone, was
    // recorded UNKNOWN, although the target cannot complete a COPY whose data never ended.
    try (RawClient c = new RawClient(h.gateway.port())) {
      c.login(GatewayHarness.TOKEN);
      c.send(new Query("COPY t (id, v) FROM STDIN /* never-ended-copy */"));
      assertThat(GatewayHarness.eventually(() -> backendsRunning("never-ended-copy") > 0)).isTrue();
      c.send(new dev.gatehouse.postgres.wire.CopyData("182\tpartial\n".getBytes(java.nio.charset.StandardCharsets.UTF_8)));
      Thread.sleep(200);
    } // gone without CopyDone
    assertThat(GatewayHarness.eventually(() -> h.audit.outcomeOf("never-ended-copy").isPresent())).isTrue();
    assertThat(h.audit.outcomeOf("never-ended-copy")).get().extracting(Outcome::status).isEqualTo(Outcome.Status.ABORTED);
    try (Connection admin = h.admin(); ResultSet rs = admin.createStatement().executeQuery("SELECT count(*) FROM t WHERE id = 182")) {
      rs.next();
      assertThat(rs.getLong(1)).as("the target kept none of it").isZero();
    }
  }

  @Test
  void aStatementAMalformedMessageOfTheSameReadKeptFromTheTargetIsRecordedAborted() throws Exception {
    // Review round 45 (r45b F3): the INSERT was decided, then a malformed Sync in the same read ended
    // the session before Gatehouse's buffer for the target was flushed; the target never saw the
    // INSERT, and it was recorded UNKNOWN.
    for (String relay : new String[] {"loop", "threads"}) {
      if (relay.equals("threads")) System.setProperty("gatehouse.postgres.relay", "threads");
      try (GatewayHarness own = new GatewayHarness()) {
        System.clearProperty("gatehouse.postgres.relay");
        String marker = "kept-from-target-" + relay;
        try (RawClient c = new RawClient(own.gateway.port())) {
          c.login(GatewayHarness.TOKEN);
          byte[] insert = RawClient.bytes(new Query("INSERT INTO t VALUES (183, '" + marker + "')"));
          byte[] badSync = {'S', 0, 0, 0, 5, 0}; // a Sync with a byte too many
          byte[] both = java.util.Arrays.copyOf(insert, insert.length + badSync.length);
          System.arraycopy(badSync, 0, both, insert.length, badSync.length);
          c.sendBytes(both);
          assertThat(RawClient.firstError(c.untilClosed())).as(relay).get()
              .satisfies(e -> assertThat(e.sqlstate()).isEqualTo("08P01"));
        }
        assertThat(GatewayHarness.eventually(() -> own.audit.outcomeOf(marker).isPresent())).as(relay).isTrue();
        assertThat(own.audit.outcomeOf(marker)).as(relay).get().extracting(Outcome::status).isEqualTo(Outcome.Status.ABORTED);
        try (Connection admin = own.admin();
            ResultSet rs = admin.createStatement().executeQuery("SELECT count(*) FROM t WHERE v = '" + marker + "'")) {
          rs.next();
          assertThat(rs.getLong(1)).as(relay + ": the target never ran it").isZero();
        }
      } finally {
        System.clearProperty("gatehouse.postgres.relay");
      }
    }
  }

  @Test
  void aStatementRunningWhenTheSessionExpiresIsCancelledAtTheTarget() throws Exception {
    try (Connection c = h.jdbc(); Statement s = c.createStatement()) {
      // Gatehouse reads the target's catalog for the first statement calling a built-in (slow on a
      // busy machine): read before the short-lived session starts, so its statement runs in time.
      s.execute("SELECT pg_sleep(0)");
    }
    String token = "expires-mid-statement";
    h.tokens.put(token, Instant.now().plusSeconds(6));
    try (RawClient c = new RawClient(h.gateway.port())) {
      c.login(token);
      c.send(new Query("SELECT pg_sleep(30) AS outlives_its_token"));
      assertThat(GatewayHarness.eventually(() -> backendsRunning("outlives_its_token") > 0)).isTrue();
      assertThat(RawClient.firstError(c.untilClosed())).get()
          .satisfies(e -> assertThat(e.message()).contains("session expired"));
    }
    // The session ended at its deadline; the target's backend must not sleep on to the end of its 30 s.
    Instant until = Instant.now().plusSeconds(8);
    while (backendsRunning("outlives_its_token") > 0 && Instant.now().isBefore(until)) Thread.sleep(50);
    assertThat(backendsRunning("outlives_its_token")).as("backends still running the expired session's statement").isZero();
    assertThat(GatewayHarness.eventually(() -> h.audit.outcomeOf("outlives_its_token").isPresent())).isTrue();
    assertThat(h.audit.outcomeOf("outlives_its_token")).get().extracting(Outcome::status).isEqualTo(Outcome.Status.UNKNOWN);
  }

  @Test
  void aSessionEndedWhileAStatementRunsHearsOnlyWhyNotTheCancelOfItsStatement() throws Exception {
    // Round 24: a session ended by a policy change (over TLS, whose relay blocks in reads) first got
    // the target's "canceling statement due to user request" (57014), then the FATAL.
    for (String relay : new String[] {"threads", "loop"}) {
      if (relay.equals("threads")) System.setProperty("gatehouse.postgres.relay", "threads");
      try (GatewayHarness own = new GatewayHarness(); RawClient c = new RawClient(own.gateway.port())) {
        System.clearProperty("gatehouse.postgres.relay");
        c.login(GatewayHarness.TOKEN);
        String marker = "ended_by_policy_" + relay;
        c.send(new Query("SELECT pg_sleep(30) AS " + marker));
        assertThat(GatewayHarness.eventually(() -> {
          try (Connection a = own.admin(); var q = a.prepareStatement(
              "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%' || ? || '%' AND pid <> pg_backend_pid()")) {
            q.setString(1, marker);
            try (ResultSet rs = q.executeQuery()) {
              return rs.next() && rs.getInt(1) > 0;
            }
          } catch (SQLException e) {
            throw new IllegalStateException(e);
          }
        })).isTrue();
        assertThat(own.gateway.terminate(own.checkpoint.sessions().getFirst().id(), "policy changed")).isTrue();
        List<dev.gatehouse.postgres.wire.ErrorResponse> errors = c.untilClosed().stream()
            .filter(dev.gatehouse.postgres.wire.ErrorResponse.class::isInstance)
            .map(dev.gatehouse.postgres.wire.ErrorResponse.class::cast).toList();
        assertThat(errors).as(relay).singleElement().satisfies(e -> {
          assertThat(e.sqlstate()).isEqualTo("57P01");
          assertThat(e.message()).contains("policy changed");
        });
      } finally {
        System.clearProperty("gatehouse.postgres.relay");
      }
    }
  }

  @Test
  void aSessionThePolicyRevokesWhileItConnectsToItsTargetEndsWithoutRunningAStatement() throws Exception {
    // Red-team round 26: a policy change re-checked the sessions between a session's admission and
    // its registration with the listener (after the target connect); terminate found nothing, the
    // audit said "ended", and the session ran statements until its token expired.
    java.util.concurrent.atomic.AtomicBoolean admits = new java.util.concurrent.atomic.AtomicBoolean(true);
    java.util.concurrent.atomic.AtomicReference<GatewayHarness> harness = new java.util.concurrent.atomic.AtomicReference<>();
    List<Boolean> terminated = new java.util.concurrent.CopyOnWriteArrayList<>();
    dev.gatehouse.core.Policy policy = new GatewayHarness.DenyDrops() {
      @Override public dev.gatehouse.core.Decision admit(dev.gatehouse.core.Principal p, dev.gatehouse.core.Resource r,
          dev.gatehouse.core.ClientInfo c) {
        return admits.get() ? super.admit(p, r, c) : new dev.gatehouse.core.Decision.Deny("revoked-in-test", "no longer");
      }
    };
    dev.gatehouse.core.CheckpointListener changeAtAdmission = new dev.gatehouse.core.CheckpointListener() {
      @Override public void sessionOpened(dev.gatehouse.core.Session session) {
        // What Gatehouse's policy listener does on a reload, at the worst moment: admitted, the
        // target connect still to come.
        admits.set(false);
        for (var r : harness.get().checkpoint.recheck()) {
          terminated.add(harness.get().gateway.terminate(r.session().id(), "the policy changed"));
        }
      }
    };
    try (GatewayHarness own = new GatewayHarness(PostgresListenerConfig.loopback(0), policy, List.of(changeAtAdmission))) {
      harness.set(own);
      List<BackendMessage> seen;
      try (RawClient c = new RawClient(own.gateway.port())) {
        c.send(dev.gatehouse.postgres.wire.StartupMessage.of(java.util.Map.of("user", "alice", "database", GatewayHarness.RESOURCE)));
        c.read().orElseThrow();
        c.send(dev.gatehouse.postgres.wire.PasswordMessage.cleartext(GatewayHarness.TOKEN));
        try {
          c.send(new Query("SELECT 'must_not_run_after_revocation'"));
        } catch (java.io.IOException closedAlready) {
          // ended before the query could be sent: as good
        }
        seen = c.untilClosed();
      }
      assertThat(terminated).as("the recheck found the session, not yet registered with the listener").containsExactly(false);
      assertThat(RawClient.firstError(seen)).as(seen.toString()).get().satisfies(e -> {
        assertThat(e.sqlstate()).isEqualTo("57P01");
        assertThat(e.message()).contains("no longer allows this session");
      });
      assertThat(own.audit.all(GatewayHarness.Event.Decided.class))
          .filteredOn(d -> d.command().text().contains("must_not_run_after_revocation"))
          .allSatisfy(d -> assertThat(d.decision()).isInstanceOf(dev.gatehouse.core.Decision.Deny.class));
      assertThat(own.audit.outcomeOf("must_not_run_after_revocation")).isEmpty();
      assertThat(GatewayHarness.eventually(() -> own.checkpoint.sessions().isEmpty())).isTrue();
    }
  }

  /** Target backends (other than the asking one) whose current or last query contains {@code marker}. */
  private static int backendsRunning(String marker) {
    try (Connection c = h.admin(); var s = c.prepareStatement(
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%' || ? || '%' AND pid <> pg_backend_pid()"
            + " AND datname = current_database()")) {
      s.setString(1, marker);
      try (ResultSet rs = s.executeQuery()) {
        rs.next();
        return rs.getInt(1);
      }
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  @Test
  void everySessionIsClosedExactlyOnceInTheCheckpoint() throws Exception {
    int before = h.closedSessions().size();
    try (Connection c = h.jdbc()) {
      c.createStatement().execute("SELECT 1");
    }
    try (RawClient raw = new RawClient(h.gateway.port())) {
      raw.login(GatewayHarness.TOKEN);
    } // client EOF without Terminate
    assertThat(GatewayHarness.eventually(() -> h.closedSessions().size() == before + 2)).isTrue();
    Thread.sleep(200);
    assertThat(h.closedSessions()).hasSize(before + 2);
    assertThat(h.checkpoint.sessions()).isEmpty();
  }

  @Test
  void closingTheGatewayEndsLiveSessionsWithAMessage() throws Exception {
    try (GatewayHarness own = new GatewayHarness(); RawClient c = new RawClient(own.gateway.port())) {
      c.login(GatewayHarness.TOKEN);
      own.gateway.close();
      List<BackendMessage> got = c.untilClosed();
      assertThat(RawClient.firstError(got)).get().satisfies(e -> {
        assertThat(e.sqlstate()).isEqualTo("57P01");
        assertThat(e.message()).contains("shutting down");
      });
      assertThat(own.closedSessions()).singleElement()
          .satisfies(e -> assertThat(e.reason()).isEqualTo("gateway shutdown"));
    }
  }

}
