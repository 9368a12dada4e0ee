package dev.gatehouse.audit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.gatehouse.core.ClientInfo;
import java.time.Instant;
import java.util.HexFormat;
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
    // Stored chains depend on these values: a change here means a new format, not an edit.
    assertThat(AuditEvent.seal("gw-1:00", 3, AuditEvent.GENESIS, ChainBuilder.command("SELECT 1", T)).hash())
        .isEqualTo(GOLDEN);
    assertThat(CanonicalEncoding.eventHash(CanonicalEncoding.FORMAT_V1, "gw-1:00", 3, AuditEvent.GENESIS,
        ChainBuilder.command("SELECT 1", T))).isEqualTo(GOLDEN_V1);
    assertThat(CanonicalEncoding.encodeEvent("gw-1:00", 3, AuditEvent.GENESIS, ChainBuilder.command("SELECT 1", T))).hasSize(249);
    assertThat(CanonicalEncoding.encodeEvent(CanonicalEncoding.FORMAT_V1, "gw-1:00", 3, AuditEvent.GENESIS,
        ChainBuilder.command("SELECT 1", T))).hasSize(432);
  }

  @Test
  void aV2EventReadsBackWithItsChainAndAV1EventWithItsOwn() {
    EventBody body = ChainBuilder.command("SELECT 1", T);
    AuditEvent v2 = CanonicalEncoding.decodeEvent("gw-1:00", CanonicalEncoding.encodeEvent("gw-1:00", 3, AuditEvent.GENESIS, body), null);
    assertThat(v2).isEqualTo(AuditEvent.seal("gw-1:00", 3, AuditEvent.GENESIS, body));
    assertThat(v2.hash()).isEqualTo(GOLDEN);
    // The hash covers the chain id although the bytes do not hold it: read as another chain's, it no longer matches.
    AuditEvent moved = CanonicalEncoding.decodeEvent("gw-2:00", CanonicalEncoding.encodeEvent("gw-1:00", 3, AuditEvent.GENESIS, body), GOLDEN);
    assertThat(moved.hashMatches()).isFalse();
    assertThatThrownBy(() -> CanonicalEncoding.decodeEvent(CanonicalEncoding.encodeEvent("gw-1:00", 3, AuditEvent.GENESIS, body)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("chain id");
    byte[] v1Bytes = CanonicalEncoding.encodeEvent(CanonicalEncoding.FORMAT_V1, "gw-1:00", 3, AuditEvent.GENESIS, body);
    AuditEvent v1 = CanonicalEncoding.decodeEvent("ignored:00", v1Bytes, null);
    assertThat(v1.chainId()).isEqualTo("gw-1:00");
    assertThat(v1.format()).isEqualTo(CanonicalEncoding.FORMAT_V1);
    assertThat(v1.hash()).isEqualTo(GOLDEN_V1);
    assertThat(v1.hashMatches()).isTrue();
  }

  @Test
  void numbersAtTheirLimitsSurviveAndNonShortestFormsAreRefused() {
    for (long n : new long[] {0, -1, 1, 63, -64, 64, Long.MAX_VALUE, Long.MIN_VALUE}) {
      EventBody body = new EventBody(EventType.COMMAND_COMPLETED, Instant.ofEpochSecond(-62135596800L, 999_999_000),
          Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(),
          Optional.of(new EventBody.Result("OK", n, Optional.empty(), n)), Optional.empty(), Map.of());
      AuditEvent e = AuditEvent.seal("c:00", Long.MAX_VALUE, AuditEvent.GENESIS, body);
      assertThat(CanonicalEncoding.decodeEvent("c:00", CanonicalEncoding.encodeEvent("c:00", Long.MAX_VALUE, AuditEvent.GENESIS, body), null))
          .isEqualTo(e);
    }
    // The session id "" (length 0) written as 0x80 0x00, a longer form of 0: every value has one encoding only.
    EventBody empty = new EventBody(EventType.SESSION_CLOSED, T, Optional.of(""), Optional.empty(), Optional.empty(),
        Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), Map.of());
    byte[] bytes = CanonicalEncoding.encodeEvent("c:00", 1, AuditEvent.GENESIS, empty);
    int at = 4 + 40 + 1 + 5 + 3 + 1; // tag, place, type, seconds, microseconds, presence
    assertThat(bytes[at]).isZero();
    byte[] longer = new byte[bytes.length + 1];
    System.arraycopy(bytes, 0, longer, 0, at);
    longer[at] = (byte) 0x80;
    System.arraycopy(bytes, at, longer, at + 1, bytes.length - at);
    assertThatThrownBy(() -> CanonicalEncoding.decodeEvent("c:00", longer, null))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("shortest");
  }

  @Test
  void everyEventTypeHasItsOwnCode() {
    assertThat(java.util.Arrays.stream(EventType.values()).map(CanonicalEncoding::typeCode).distinct().count())
        .isEqualTo(EventType.values().length);
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
      CanonicalEncoding.Unplaced u = CanonicalEncoding.unplaced(body);
      CanonicalEncoding.place(u, 0x0102030405060708L, HexFormat.of().parseHex(head));
      assertThat(u.bytes()).isEqualTo(CanonicalEncoding.encodeEvent("gw-ü:00", 0x0102030405060708L, head, body));
    }
    CanonicalEncoding.Unplaced u = CanonicalEncoding.unplaced(ChainBuilder.command("SELECT 1", T));
    CanonicalEncoding.place(u, 3, HexFormat.of().parseHex(AuditEvent.GENESIS));
    assertThat(HexFormat.of().formatHex(CanonicalEncoding.digestV2(CanonicalEncoding.sha256(),
        CanonicalEncoding.chainPrefix("gw-1:00"), u.bytes()))).isEqualTo(GOLDEN);
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
      CanonicalEncoding.Unplaced u = CanonicalEncoding.unplaced(body);
      CanonicalEncoding.place(u, 1, HexFormat.of().parseHex(head));
      assertThat(u.bytes()).isEqualTo(CanonicalEncoding.encodeEvent("gw-1:00", 1, head, body));
    }
    for (int round = 0; round < 3; round++) {
      for (int i = 0; i < bodies.size(); i++) {
        EventBody body = bodies.get((i * 7 + round * 13) % bodies.size());
        CanonicalEncoding.Unplaced u = CanonicalEncoding.unplaced(body);
        CanonicalEncoding.place(u, i, HexFormat.of().parseHex(head));
        assertThat(u.bytes()).isEqualTo(CanonicalEncoding.encodeEvent("gw-1:00", i, head, body));
      }
    }
  }

  @Test
  void aHugeStatementLeavesNoLargeBufferWithTheThread() {
    EventBody huge = commandEvent(new EventBody.CommandRecord("simple", "SELECT '" + "x".repeat(3 << 20) + "'",
        java.util.List.of("SELECT"), java.util.List.of(), java.util.List.of(), java.util.List.of(), Map.of()), T);
    CanonicalEncoding.Unplaced u = CanonicalEncoding.unplaced(huge);
    assertThat(u.bytes().length).isGreaterThan(3 << 20);
    assertThat(CanonicalEncoding.scratchCapacity()).isLessThanOrEqualTo(64 * 1024);
    CanonicalEncoding.place(u, 9, HexFormat.of().parseHex(AuditEvent.GENESIS));
    assertThat(u.bytes()).isEqualTo(CanonicalEncoding.encodeEvent("gw-1:00", 9, AuditEvent.GENESIS, huge));
    CanonicalEncoding.Unplaced again = CanonicalEncoding.unplaced(huge); // not remembered: encoded again, alike
    CanonicalEncoding.place(again, 9, HexFormat.of().parseHex(AuditEvent.GENESIS));
    assertThat(again.bytes()).isEqualTo(u.bytes());
  }

  private static EventBody commandEvent(EventBody.CommandRecord command, Instant time) {
    return new EventBody(EventType.COMMAND_DECIDED, time, Optional.of("s-1"),
        Optional.of(new EventBody.Actor("alice", "https://idp", "Alice", "HUMAN", java.util.List.of("dba"))), Optional.of("pg"),
        Optional.of(new dev.gatehouse.core.ClientInfo("10.0.0.1:5", "alice", "psql")), Optional.of(command), Optional.empty(), Optional.empty(), Optional.empty(), Map.of());
  }

  /**
   * The v2 hash of the fixed event, also computed by an independent implementation (in Python) of
   * the layout CanonicalEncoding documents: 249 bytes stored.
   */
  private static final String GOLDEN = "927369f1cc2802e3b60801cf5fc6d9e67d86dd82f6f7e5cc5b7d1e1aaead62ca";
  /** The same event's v1 hash, as first released. */
  private static final String GOLDEN_V1 = "761402eff120eb57989449d75ad728264e9a8f9009c0bae9d340297b6170a108";
}
