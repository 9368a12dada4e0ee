package dev.gatehouse.audit;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gatehouse.core.ClientInfo;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class CanonicalEncodingTest {
  private static final Instant T = Instant.parse("2025-03-01T10:00:00.123456Z");

  private static EventBody client(String address, String user, String app) {
    return new EventBody(EventType.SESSION_OPENED, T, Optional.empty(), Optional.empty(), Optional.empty(),
        Optional.of(new ClientInfo(address, user, app)), Optional.empty(), Optional.empty(), Optional.empty(),
        Optional.empty(), Map.of());
  }

  @Test
  void movingCharactersBetweenNeighbouringFieldsChangesTheHash() {
    String a = AuditEvent.seal("gw-1:00", 1, AuditEvent.GENESIS, client("x", "ab", "c")).hash();
    String b = AuditEvent.seal("gw-1:00", 1, AuditEvent.GENESIS, client("x", "a", "bc")).hash();
    assertThat(a).isNotEqualTo(b);
  }

  @Test
  void anAbsentFieldAndAnEmptyOneHashDifferently() {
    EventBody empty = EventBody.of(EventType.SESSION_CLOSED, T, Map.of());
    EventBody withSession = new EventBody(EventType.SESSION_CLOSED, T, Optional.of(""), Optional.empty(), Optional.empty(),
        Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), Map.of());
    assertThat(AuditEvent.seal("c", 1, AuditEvent.GENESIS, empty).hash())
        .isNotEqualTo(AuditEvent.seal("c", 1, AuditEvent.GENESIS, withSession).hash());
  }

  @Test
  void anAttributeKeyAndValueCannotBeShiftedIntoEachOther() {
    String a = AuditEvent.seal("c", 1, AuditEvent.GENESIS, EventBody.of(EventType.SESSION_CLOSED, T, Map.of("ab", "c"))).hash();
    String b = AuditEvent.seal("c", 1, AuditEvent.GENESIS, EventBody.of(EventType.SESSION_CLOSED, T, Map.of("a", "bc"))).hash();
    assertThat(a).isNotEqualTo(b);
  }

  @Test
  void theEncodingOfAFixedEventNeverChanges() {
    // Stored chains depend on this value: a change here means a new encoding version, not an edit.
    assertThat(AuditEvent.seal("gw-1:00", 3, AuditEvent.GENESIS, ChainBuilder.command("SELECT 1", T)).hash())
        .isEqualTo(GOLDEN);
  }

  @Test
  void anEventEncodedBeforeItsPlaceInTheChainIsKnownEncodesAsAWholeOne() {
    EventBody.CommandRecord command = new EventBody.CommandRecord("extended", "SELECT ünï FROM t WHERE id = $1",
        java.util.List.of("SELECT"), java.util.List.of("public.t"), java.util.List.of(), java.util.List.of(),
        Map.of("statement", "P_1"));
    EventBody first = commandEvent(command, T);
    EventBody again = new EventBody(EventType.COMMAND_DECIDED, T.plusSeconds(1), first.sessionId(), first.principal(),
        first.resource(), first.client(), Optional.of(command), Optional.empty(), Optional.empty(), Optional.empty(),
        Map.of()); // the same record and session parts: their bytes are reused
    EventBody other = commandEvent(new EventBody.CommandRecord("extended", "SELECT 2", java.util.List.of("SELECT"),
        java.util.List.of(), java.util.List.of(), java.util.List.of(), Map.of()), T);
    EventBody outcome = new EventBody(EventType.COMMAND_COMPLETED, T, first.sessionId(), first.principal(), first.resource(),
        first.client(), Optional.empty(), Optional.empty(), Optional.of(new EventBody.Result("OK", 1, Optional.empty(), 2)),
        Optional.of("gw:1"), Map.of());
    EventBody otherSession = new EventBody(EventType.COMMAND_COMPLETED, T, Optional.of("s-2"), first.principal(),
        first.resource(), first.client(), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), Map.of());
    String head = "0123456789abcdef".repeat(4);
    for (EventBody body : java.util.List.of(first, again, outcome, other, otherSession, first, ChainBuilder.command("SELECT 1", T))) {
      CanonicalEncoding.Unplaced u = CanonicalEncoding.unplaced("gw-ü:00", body);
      CanonicalEncoding.place(u, 0x0102030405060708L, head);
      assertThat(u.bytes()).isEqualTo(CanonicalEncoding.encodeEvent("gw-ü:00", 0x0102030405060708L, head, body));
    }
    CanonicalEncoding.Unplaced u = CanonicalEncoding.unplaced("gw-1:00", ChainBuilder.command("SELECT 1", T));
    CanonicalEncoding.place(u, 3, AuditEvent.GENESIS);
    assertThat(CanonicalEncoding.hash(u.bytes())).isEqualTo(GOLDEN);
  }

  @Test
  void manySessionsInterleavedOnOneThreadEachEncodeTheirOwnParts() {
    // One event loop thread encodes the events of hundreds of sessions in turn: far more sessions and
    // commands than remembered slots, so remembered parts collide and are replaced all the time.
    int sessions = 300;
    java.util.List<EventBody> bodies = new java.util.ArrayList<>();
    for (int i = 0; i < sessions; i++) {
      EventBody.CommandRecord command = new EventBody.CommandRecord("extended", "SELECT " + i + " FROM t",
          java.util.List.of("SELECT"), java.util.List.of("public.t"), java.util.List.of(), java.util.List.of(), Map.of());
      bodies.add(new EventBody(EventType.COMMAND_DECIDED, T, Optional.of("s-" + i),
          Optional.of(new EventBody.Actor("user-" + i, "https://idp", "User " + i, "HUMAN", java.util.List.of("g" + i))),
          Optional.of("pg-" + (i % 7)), Optional.of(new dev.gatehouse.core.ClientInfo("10.0.0." + i + ":5", "u" + i, "psql")),
          Optional.of(command), Optional.empty(), Optional.empty(), Optional.empty(), Map.of()));
    }
    EventBody first = bodies.get(0);
    // The same session id instance with another resource and client: not the remembered session parts.
    EventBody elsewhere = new EventBody(EventType.COMMAND_COMPLETED, T, first.sessionId(), first.principal(),
        Optional.of("elsewhere"), first.client(), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), Map.of());
    bodies.add(elsewhere);
    String head = "0123456789abcdef".repeat(4);
    for (EventBody body : java.util.List.of(first, elsewhere, first)) {
      CanonicalEncoding.Unplaced u = CanonicalEncoding.unplaced("gw-1:00", body);
      CanonicalEncoding.place(u, 1, head);
      assertThat(u.bytes()).isEqualTo(CanonicalEncoding.encodeEvent("gw-1:00", 1, head, body));
    }
    for (int round = 0; round < 3; round++) {
      for (int i = 0; i < bodies.size(); i++) {
        EventBody body = bodies.get((i * 7 + round * 13) % bodies.size());
        CanonicalEncoding.Unplaced u = CanonicalEncoding.unplaced("gw-1:00", body);
        CanonicalEncoding.place(u, i, head);
        assertThat(u.bytes()).isEqualTo(CanonicalEncoding.encodeEvent("gw-1:00", i, head, body));
      }
    }
  }

  @Test
  void aHugeStatementLeavesNoLargeBufferWithTheThread() {
    EventBody huge = commandEvent(new EventBody.CommandRecord("simple", "SELECT '" + "x".repeat(3 << 20) + "'",
        java.util.List.of("SELECT"), java.util.List.of(), java.util.List.of(), java.util.List.of(), Map.of()), T);
    CanonicalEncoding.Unplaced u = CanonicalEncoding.unplaced("gw-1:00", huge);
    assertThat(u.bytes().length).isGreaterThan(3 << 20);
    assertThat(CanonicalEncoding.scratchCapacity()).isLessThanOrEqualTo(64 * 1024);
    CanonicalEncoding.place(u, 9, AuditEvent.GENESIS);
    assertThat(u.bytes()).isEqualTo(CanonicalEncoding.encodeEvent("gw-1:00", 9, AuditEvent.GENESIS, huge));
    CanonicalEncoding.Unplaced again = CanonicalEncoding.unplaced("gw-1:00", huge); // not remembered: encoded again, alike
    CanonicalEncoding.place(again, 9, AuditEvent.GENESIS);
    assertThat(again.bytes()).isEqualTo(u.bytes());
  }

  private static EventBody commandEvent(EventBody.CommandRecord command, Instant time) {
    return new EventBody(EventType.COMMAND_DECIDED, time, Optional.of("s-1"),
        Optional.of(new EventBody.Actor("alice", "https://idp", "Alice", "HUMAN", java.util.List.of("dba"))), Optional.of("pg"),
        Optional.of(new dev.gatehouse.core.ClientInfo("10.0.0.1:5", "alice", "psql")), Optional.of(command), Optional.empty(), Optional.empty(), Optional.empty(), Map.of());
  }

  private static final String GOLDEN = "761402eff120eb57989449d75ad728264e9a8f9009c0bae9d340297b6170a108";
}
