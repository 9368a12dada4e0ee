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
  void aLargeMessageHeldIsCountedUntilReleasedAndOnePastTheUsersShareEndsTheSession() {
    // Red-team round 40: Binds of 60 MiB held while the target ran a statement were outside every
    // budget (ten sessions pinned 640 MB).
    SessionState state = new SessionState();
    long before = SessionState.heldBytes();
    state.holdMessage(8L << 20);
    assertThat(SessionState.heldBytes() - before).isEqualTo(8L << 20);
    assertThatThrownBy(() -> state.holdMessage(SessionState.MAX_USER_HELD_BYTES))
        .isInstanceOfSatisfying(PostgresGatewayException.class, e -> {
          assertThat(e.sqlstate()).isEqualTo("54000");
          assertThat(e.getMessage()).contains("a message of " + SessionState.MAX_USER_HELD_BYTES + " bytes");
        });
    assertThat(SessionState.heldBytes() - before).as("nothing taken for the refused one").isEqualTo(8L << 20);
    // Another user's session is not refused for what this one holds.
    SessionState other = new SessionState(e -> { }, "someone-else");
    other.holdMessage(SessionState.MAX_USER_HELD_BYTES - (8L << 20));
    other.releaseMessage(SessionState.MAX_USER_HELD_BYTES - (8L << 20));
    state.releaseMessage(8L << 20);
    assertThat(SessionState.heldBytes()).isEqualTo(before);
    state.close();
    other.close();
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
    assertThat(SessionState.gatewayChars() - before).as("what the session holds once the first is gone")
        .isEqualTo(second.chars);
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

  @Test
  void oneUsersManySessionsCannotTakeTheWholeGatewaysBudget() {
    // Round 11: sessions each under their own budget let one user hold what the gateway allows
    // all of them, and everyone else's statements were then refused.
    long before = SessionState.gatewayChars();
    SessionState.Shape shape = wide(1600); // one object, counted once per portal described
    List<SessionState> mallory = new ArrayList<>();
    PostgresGatewayException refused = null;
    try {
      for (int session = 0; session < 10_000 && refused == null; session++) {
        SessionState state = new SessionState(e -> { }, "mallory\u0000test");
        mallory.add(state);
        state.confirm(state.parse("s", sql("SELECT 1")));
        for (int i = 0; i < 80; i++) {
          SessionState.Portal p = state.bind("p" + i, "s", Optional.empty());
          try {
            state.described(new Expected.DescribeDone(Optional.empty(), Optional.of(p), false), shape);
          } catch (PostgresGatewayException e) {
            refused = e;
            break;
          }
        }
      }
      assertThat(refused).isNotNull().hasMessageContaining("the gateway more than it allows");
      assertThat(SessionState.gatewayChars() - before).isLessThanOrEqualTo(SessionState.MAX_USER_CHARS);
      // Another user still has room.
      SessionState other = new SessionState(e -> { }, "dana\u0000test");
      other.confirm(other.parse("s", sql("SELECT 1")));
      other.described(new Expected.DescribeDone(Optional.empty(), Optional.of(other.bind("p", "s", Optional.empty())), false), shape);
      other.close();
    } finally {
      mallory.forEach(SessionState::close);
    }
    assertThat(SessionState.gatewayChars()).isEqualTo(before);
  }
}
