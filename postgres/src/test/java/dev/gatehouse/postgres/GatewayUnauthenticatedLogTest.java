package dev.gatehouse.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.gatehouse.postgres.wire.AuthenticationCleartextPassword;
import dev.gatehouse.postgres.wire.CancelRequest;
import dev.gatehouse.postgres.wire.ErrorResponse;
import dev.gatehouse.postgres.wire.PasswordMessage;
import dev.gatehouse.postgres.wire.StartupMessage;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * Whatever a client that has not signed in sends, what it makes Gatehouse log stays within the
 * documented 20 lines a second (docs/postgres.md): a flood of requests is not a flood of lines.
 * Red-team round 18a: cancel requests for unknown nodes, cancel requests under the peer code and
 * refused admissions each logged one line per request.
 */
class GatewayUnauthenticatedLogTest {
  private static final int REQUESTS = 300;
  private static final int PER_SECOND = 20;

  private final ListAppender<ILoggingEvent> logs = new ListAppender<>();
  private final Logger startupLog = (Logger) LoggerFactory.getLogger(ClientStartup.class);
  private GatewayHarness h;

  @BeforeEach
  void start() {
    logs.start();
    startupLog.addAppender(logs);
    h = new GatewayHarness(); // node 0, no peers
  }

  @AfterEach
  void stop() {
    startupLog.detachAppender(logs);
    h.close();
  }

  private interface Request {
    void send(int i) throws IOException;
  }

  /**
   * Sends {@link #REQUESTS} requests one after another, asserting that the lines ClientStartup
   * logged that contain {@code marker} are no more than the budget allows for the time the requests
   * took (a window of a second may start at any time, hence the one more); then, a second later,
   * one more request, whose line is logged and says how many were left out. Returns all the lines.
   */
  private List<String> sendAndAssertBudgeted(String marker, Request request) throws Exception {
    long started = System.nanoTime();
    for (int i = 0; i < REQUESTS; i++) request.send(i);
    long seconds = (System.nanoTime() - started) / 1_000_000_000L;
    List<String> flood = linesWith(marker);
    assertThat(flood).as("lines logged for %d requests in %d s", REQUESTS, seconds)
        .hasSizeLessThanOrEqualTo((int) (PER_SECOND * (seconds + 2)));
    Thread.sleep(1_100); // the budget's next second
    request.send(REQUESTS);
    List<String> lines = linesWith(marker);
    assertThat(lines).as("the line of the request after the flood").hasSize(flood.size() + 1);
    if (flood.size() < REQUESTS) assertThat(lines.getLast()).contains("similar lines left out of the log");
    return lines;
  }

  private List<String> linesWith(String marker) {
    return logs.list.stream().map(ILoggingEvent::getFormattedMessage).filter(m -> m.contains(marker)).toList();
  }

  @Test
  void cancelRequestsForNodesThatAreNotPeersAreLoggedWithinTheBudget() throws Exception {
    sendAndAssertBudgeted("which is not among this node's peers", i ->
        assertThat(RawClient.cancel(h.gateway.port(), (9 << 24) | i, new byte[4])).isEmpty());
    assertThat(h.gateway.cancelRequests(CancelOutcome.UNKNOWN_NODE)).isEqualTo(REQUESTS + 1);
  }

  @Test
  void cancelRequestsUnderThePeerCodeAreLoggedWithinTheBudgetWithoutClaimingAPeerSentThem() throws Exception {
    // Anyone can send Gatehouse's peer request code: the sender is not a peer for that.
    List<String> lines = sendAndAssertBudgeted("cancel request", i -> {
      try (RawClient c = new RawClient(h.gateway.port())) {
        c.send(new CancelRequest((9 << 24) | i, new byte[4], true));
        assertThat(c.untilClosed()).isEmpty();
      }
    });
    assertThat(lines).noneMatch(l -> l.contains("a peer at")).anyMatch(l -> l.contains("peer request code"));
    assertThat(h.gateway.cancelRequests(CancelOutcome.MISROUTED)).isEqualTo(REQUESTS + 1);
  }

  @Test
  void refusedAdmissionsAreLoggedWithinTheBudget() throws Exception {
    sendAndAssertBudgeted("refused for resource", i -> {
      try (RawClient c = new RawClient(h.gateway.port())) {
        c.send(StartupMessage.of(Map.of("user", "alice", "database", GatewayHarness.RESOURCE)));
        assertThat(c.read()).get().isInstanceOf(AuthenticationCleartextPassword.class);
        c.send(PasswordMessage.cleartext("wrong-" + i));
        assertThat(RawClient.firstError(c.untilClosed())).get().extracting(ErrorResponse::sqlstate).isEqualTo("28P01");
      }
    });
    // The audit trail, unlike the log, keeps every refusal.
    assertThat(h.audit.all(GatewayHarness.Event.Refused.class)).hasSize(REQUESTS + 1);
  }
}
