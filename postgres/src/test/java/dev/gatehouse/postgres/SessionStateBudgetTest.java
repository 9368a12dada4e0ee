package dev.gatehouse.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.gatehouse.postgres.sql.Analysis;
import dev.gatehouse.postgres.sql.SqlClassifier;
import dev.gatehouse.postgres.wire.RowDescription;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The memory budgets of {@link SessionState}: what a session holds is counted while it holds it,
 * and all of it leaves the gateway-wide count when the session ends, whatever order the target's
 * answers came in (red-team rounds 9 and 10). Another session running in this JVM may move the
 * gateway-wide count meanwhile, so each check compares with a session of its own only.
 */
class SessionStateBudgetTest {
  private static final SqlClassifier CLASSIFIER = SqlClassifier.fallback();

  private static Analysis sql(String text) {
    return CLASSIFIER.analyze(text);
  }

  private static SessionState.Shape wide(int columns) {
    List<RowDescription.Field> fields = new ArrayList<>();
    for (int i = 0; i < columns; i++) fields.add(new RowDescription.Field("c" + i + "_" + "x".repeat(50), 0, (short) 0, 25, (short) -1, -1, (short) 0));
    return new SessionState.Shape(Optional.of(new RowDescription(fields)), true);
  }

  @Test
  void aStatementReplacedAfterItsDescribeFreesItsTextAndItsDescription() {
    SessionState state = new SessionState();
    long before = SessionState.gatewayChars();
    SessionState.Statement first = state.parse("s", sql("SELECT 1 AS " + "a".repeat(1000)));
    Expected.DescribeDone describe = new Expected.DescribeDone(Optional.of(first), Optional.empty(), false);
    state.confirm(first);
    state.described(describe, wide(500));
    SessionState.Statement second = state.parse("s", sql("SELECT 2"));
    state.confirm(second); // the first leaves the map with what it held
    state.close();
    assertThat(SessionState.gatewayChars()).isEqualTo(before);
  }

  @Test
  void aPortalReplacedBeforeItsDescribeIsAnsweredIsNotCountedWhenTheAnswerComes() {
    SessionState state = new SessionState();
    long before = SessionState.gatewayChars();
    state.confirm(state.parse("s", sql("SELECT 1")));
    // Many times over: counted, these phantoms would pass the session's budget (1,000 × ~50 K).
    for (int i = 0; i < 1_000; i++) {
      SessionState.Portal first = state.bind("p", "s", Optional.empty());
      Expected.DescribeDone describe = new Expected.DescribeDone(Optional.empty(), Optional.of(first), false);
      state.bind("p", "s", Optional.empty()); // a Bind of the same name, sent before the answer came
      state.described(describe, wide(500));
    }
    state.close();
    assertThat(SessionState.gatewayChars()).isEqualTo(before);
  }

  @Test
  void describedPortalsPastTheBudgetEndTheSession() {
    SessionState state = new SessionState();
    long before = SessionState.gatewayChars();
    state.confirm(state.parse("s", sql("SELECT 1")));
    assertThatThrownBy(() -> {
      for (int i = 0; i < 10_000; i++) {
        SessionState.Portal p = state.bind("p" + i, "s", Optional.empty());
        state.described(new Expected.DescribeDone(Optional.empty(), Optional.of(p), false), wide(1600));
      }
    }).isInstanceOf(PostgresGatewayException.class).hasMessageContaining("result descriptions");
    state.close();
    assertThat(SessionState.gatewayChars()).isEqualTo(before);
  }

  @Test
  void portalsResultFormatCodesCountAgainstTheBudget() {
    // Round 11: 65,535 result-format codes per Bind, kept on each portal of a failed transaction.
    SessionState state = new SessionState();
    long before = SessionState.gatewayChars();
    state.confirm(state.parse("s", sql("SELECT 1")));
    short[] formats = new short[65_535];
    assertThatThrownBy(() -> {
      for (int i = 0; i < 10_000; i++) state.bind("p" + i, "s", Optional.empty(), formats);
    }).isInstanceOf(PostgresGatewayException.class).hasMessageContaining("portals");
    state.close();
    assertThat(SessionState.gatewayChars()).isEqualTo(before);
  }
}
