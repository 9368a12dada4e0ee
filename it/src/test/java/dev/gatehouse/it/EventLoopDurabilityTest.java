package dev.gatehouse.it;

import static dev.gatehouse.it.GatewayStack.ALICE;
import static org.assertj.core.api.Assertions.assertThat;

import dev.gatehouse.audit.AuditEvent;
import dev.gatehouse.audit.EventType;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Plaintext sessions (relayed by the event loop) with {@code durability: machine}, where every
 * statement waits for the audit store's commit before it is forwarded: each wait hands the loop to
 * another thread, so sessions at once still all get their answers, and every statement is in the
 * store before its answer arrives.
 */
class EventLoopDurabilityTest {
  private static final int SESSIONS = 8;
  private static final int STATEMENTS = 20;

  @TempDir static Path dir;
  static EndToEnd e2e;
  static GatewayStack stack;

  @BeforeAll
  static void start() {
    e2e = EndToEnd.start(dir, GatewayStack.Settings.DEFAULT.plaintextWithDurability("machine"));
    stack = e2e.stack();
  }

  @AfterAll
  static void stop() {
    if (e2e != null) e2e.close();
  }

  @Test
  void sessionsAtOnceThatEachWaitForTheStoreAllGetTheirAnswersAndEveryStatementIsStored() throws Exception {
    String token = stack.token(ALICE);
    ExecutorService pool = Executors.newFixedThreadPool(SESSIONS);
    try {
      List<Future<Long>> sums = new ArrayList<>();
      for (int s = 0; s < SESSIONS; s++) {
        int session = s;
        sums.add(pool.submit(() -> {
          long sum = 0;
          try (Connection c = stack.jdbc(ALICE, token, new Properties()); Statement st = c.createStatement()) {
            for (int i = 0; i < STATEMENTS; i++) {
              try (ResultSet rs = st.executeQuery("SELECT 424200 + " + (session * 100 + i) + " AS loop_durability")) {
                rs.next();
                sum += rs.getLong(1);
              }
            }
          }
          return sum;
        }));
      }
      for (int s = 0; s < SESSIONS; s++) {
        long expected = 424200L * STATEMENTS + s * 100L * STATEMENTS + (long) STATEMENTS * (STATEMENTS - 1) / 2;
        assertThat(sums.get(s).get(120, TimeUnit.SECONDS)).isEqualTo(expected);
      }
    } finally {
      pool.shutdownNow();
    }

    List<AuditEvent> events = stack.events();
    List<String> decided = events.stream()
        .filter(e -> e.type() == EventType.COMMAND_DECIDED
            && e.body().command().map(c -> c.text().contains("loop_durability")).orElse(false))
        .map(AuditEvent::id).toList();
    assertThat(decided).hasSize(SESSIONS * STATEMENTS);
    assertThat(events.stream().filter(e -> e.type() == EventType.COMMAND_COMPLETED
        && e.body().ref().map(decided::contains).orElse(false)
        && e.body().outcome().map(o -> o.status().equals("OK")).orElse(false))).hasSize(SESSIONS * STATEMENTS);
  }
}
