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

  private static final String GOLDEN = "761402eff120eb57989449d75ad728264e9a8f9009c0bae9d340297b6170a108";
}
