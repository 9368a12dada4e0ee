package dev.gatehouse.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 30, unit = TimeUnit.SECONDS) // a hang guard, not a timing assertion
class DeadlinesTest {
  @Test
  void aWatchThatIsNotDisarmedRunsItsActionOnceAndSaysSo() throws Exception {
    CountDownLatch ran = new CountDownLatch(1);
    AtomicInteger runs = new AtomicInteger();
    Deadlines.Watch watch = Deadlines.after(Duration.ofMillis(10), () -> {
      runs.incrementAndGet();
      ran.countDown();
    });
    ran.await();
    assertThat(watch.fired()).isTrue();
    assertThat(watch.disarm()).as("too late to disarm").isFalse();
    assertThat(watch.disarm()).isFalse();
    assertThat(runs).hasValue(1);
  }

  @Test
  void aDisarmedWatchNeverRunsItsAction() throws Exception {
    AtomicInteger runs = new AtomicInteger();
    Deadlines.Watch watch = Deadlines.after(Duration.ofMillis(200), runs::incrementAndGet);
    assertThat(watch.disarm()).isTrue();
    CountDownLatch later = new CountDownLatch(1);
    Deadlines.after(Duration.ofMillis(400), later::countDown); // the same timer thread, after the first deadline
    later.await();
    assertThat(runs).hasValue(0);
    assertThat(watch.fired()).isFalse();
    assertThat(watch.disarm()).isTrue();
  }

  @Test
  void aDeadlineAlreadyPastFiresAtOnce() throws Exception {
    CountDownLatch ran = new CountDownLatch(1);
    Deadlines.Watch watch = Deadlines.after(Duration.ofSeconds(-5), ran::countDown);
    ran.await();
    assertThat(watch.fired()).isTrue();
  }
}
