package dev.gatehouse.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gatehouse.postgres.wire.BackendMessage;
import dev.gatehouse.postgres.wire.MessageWriter;
import dev.gatehouse.postgres.wire.Query;
import dev.gatehouse.postgres.wire.ReadyForQuery;
import dev.gatehouse.postgres.wire.Sync;
import java.io.ByteArrayOutputStream;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Sessions on the event loop, with one selector for the whole gateway, so that one session's wait
 * would stall every other session if the loop did not hand itself on: a client that stops reading,
 * a pipeline longer than the expectation queue, many sessions at once. The watchdog is set to take
 * over only after 30 s, so each wait here must have been announced (no machine is that slow in a
 * batch that does not wait), and none is left to it.
 */
class GatewayLoopTest {
  static GatewayHarness h;

  @BeforeAll
  static void start() {
    System.setProperty("gatehouse.postgres.loop-threads", "1");
    System.setProperty("gatehouse.postgres.loop-stall-ms", "30000");
    try {
      h = new GatewayHarness();
    } finally {
      System.clearProperty("gatehouse.postgres.loop-threads");
      System.clearProperty("gatehouse.postgres.loop-stall-ms");
    }
  }

  @AfterAll
  static void stop() {
    h.close();
  }

  @Test
  void aClientThatStopsReadingStallsOnlyItsOwnSession() throws Exception {
    try (RawClient stalled = new RawClient(h.gateway.port())) {
      stalled.login(GatewayHarness.TOKEN);
      // About 100 MB of rows that this client never reads: its session waits to write them.
      stalled.send(new Query("SELECT repeat('x', 1000) FROM generate_series(1, 100000)"));
      Thread.sleep(500);

      try (Connection other = h.jdbc(); Statement st = other.createStatement()) {
        for (int i = 0; i < 20; i++) {
          try (ResultSet rs = st.executeQuery("SELECT " + i)) {
            assertThat(rs.next()).isTrue();
            assertThat(rs.getInt(1)).isEqualTo(i);
          }
        }
      }
    }
    // The stalled client left: its session ends and is closed in the checkpoint.
    assertThat(GatewayHarness.eventually(() -> h.gateway.sessionCount() == 0)).isTrue();
    assertThat(h.gateway.loopStalls()).as("the wait for the client was announced to the loop").isZero();
  }

  @Test
  void aPipelineLongerThanTheExpectationQueueIsRelayedWhole() throws Exception {
    int syncs = SessionState.MAX_PENDING + 20_000;
    try (RawClient c = new RawClient(h.gateway.port())) {
      c.login(GatewayHarness.TOKEN);
      ByteArrayOutputStream all = new ByteArrayOutputStream();
      MessageWriter pipeline = new MessageWriter(all);
      for (int i = 0; i < syncs; i++) pipeline.write(Sync.INSTANCE);
      pipeline.flush();
      AtomicLong ready = new AtomicLong();
      ExecutorService reader = Executors.newSingleThreadExecutor();
      try {
        Future<?> reading = reader.submit(() -> {
          while (ready.get() < syncs) {
            Optional<BackendMessage> m = c.read();
            if (m.isEmpty()) return null;
            if (m.get() instanceof ReadyForQuery) ready.incrementAndGet();
          }
          return null;
        });
        c.sendBytes(all.toByteArray()); // the gateway waits for answers once the queue is full
        reading.get(60, TimeUnit.SECONDS);
      } finally {
        reader.shutdownNow();
      }
      assertThat(ready.get()).isEqualTo(syncs);
      List<BackendMessage> more = c.send(new Query("SELECT 1")).untilReady();
      assertThat(RawClient.firstError(more)).isEmpty();
    }
    assertThat(h.gateway.loopStalls()).as("the waits for room in the queue were announced to the loop").isZero();
  }

  @Test
  void manySessionsAtOnceEachGetTheirOwnAnswers() throws Exception {
    int sessions = 24;
    ExecutorService pool = Executors.newFixedThreadPool(sessions);
    try {
      List<Future<Long>> sums = new ArrayList<>();
      for (int s = 0; s < sessions; s++) {
        int session = s;
        sums.add(pool.submit(() -> {
          long sum = 0;
          try (Connection c = h.jdbc(); Statement st = c.createStatement()) {
            for (int i = 0; i < 50; i++) {
              try (ResultSet rs = st.executeQuery("SELECT " + session + " * 1000 + " + i)) {
                rs.next();
                sum += rs.getLong(1);
              }
            }
          }
          return sum;
        }));
      }
      for (int s = 0; s < sessions; s++) {
        assertThat(sums.get(s).get(60, TimeUnit.SECONDS)).isEqualTo(s * 1000L * 50 + 49 * 50 / 2);
      }
    } finally {
      pool.shutdownNow();
    }
  }
}
