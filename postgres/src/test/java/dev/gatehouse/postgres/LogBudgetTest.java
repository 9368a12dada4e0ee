package dev.gatehouse.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class LogBudgetTest {
  @Test
  void linesOverTheBudgetAreLeftOutAndCountedInTheNextLineLogged() {
    AtomicLong now = new AtomicLong(0);
    LogBudget budget = new LogBudget(3, now::get);
    assertThat(budget.admit()).isEmpty();
    assertThat(budget.admit()).isEmpty();
    assertThat(budget.admit()).isEmpty();
    for (int i = 0; i < 1000; i++) assertThat(budget.admit()).isNull();
    now.addAndGet(1_000_000_000L);
    assertThat(budget.admit()).isEqualTo(" (1000 similar lines left out of the log)");
    assertThat(budget.admit()).isEmpty();
  }
}
