package dev.gatehouse.audit;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gatehouse.core.ClientInfo;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class AuditFormatterTest {
  private static AuditEvent event(String user, String sql) {
    EventBody b = new EventBody(EventType.COMMAND_DECIDED, Instant.parse("2025-03-01T10:00:00.5Z"), Optional.of("ab12"),
        Optional.of(new EventBody.Actor("sub", "corp", user, "HUMAN", List.of())), Optional.of("pg-prod"),
        Optional.of(new ClientInfo("10.0.0.1:4000", user, "psql")),
        Optional.of(new EventBody.CommandRecord("sql", sql, List.of("SELECT"), List.of(), List.of(), List.of(), Map.of())),
        Optional.of(new EventBody.Ruling(EventBody.Ruling.Effect.DENY, "r1", Optional.of("no"))), Optional.empty(),
        Optional.empty(), Map.of());
    return AuditEvent.seal("gw-1:00", 2, AuditEvent.GENESIS, b);
  }

  @Test
  void anEventWhoseContentsDoNotMatchItsHashIsMarkedAltered() {
    AuditEvent genuine = event("alice", "SELECT 'hello'");
    assertThat(AuditFormatter.line(genuine)).startsWith("2025-03-01T10:00:00.500Z COMMAND_DECIDED");
    assertThat(AuditFormatter.toMap(genuine)).doesNotContainKey("altered");
    // The text edited in the store, the hash left as it was (review round 44: shown as genuine).
    AuditEvent edited = event("alice", "SELECT 'HELLO'");
    AuditEvent altered = new AuditEvent(edited.chainId(), edited.seq(), edited.prevHash(), edited.body(), genuine.hash(),
        edited.format());
    assertThat(AuditFormatter.line(altered)).startsWith("ALTERED (fails its hash; run gatehouse audit verify) 2025-03-01T10:00:00.500Z")
        .contains("HELLO");
    assertThat(AuditFormatter.toMap(altered)).containsEntry("altered", true);
  }

  @Test
  void aNameWithANewlineCannotForgeASecondLine() {
    String line = AuditFormatter.line(event("mallory\n2025-03-01T10:00:01Z COMMAND_DECIDED gw-1:00:3 principal=\"admin\"", "SELECT 1"));
    assertThat(line).doesNotContain("\n").contains("mallory\\n2025").contains("principal=\\\"admin\\\"");
  }

  @Test
  void terminalEscapesC1ControlsAndBidiOverridesAreShownEscaped() {
    String line = AuditFormatter.line(event("eve\u001b]0;pwned\u0007", "SELECT '\u009b2J' /* \u202Eevil\u2066 */ \u200B\u2028"));
    assertThat(line.chars().filter(c -> c < 0x20 || (c >= 0x7f && c < 0xa0))).isEmpty();
    assertThat(line).doesNotContain("\u202E", "\u2066", "\u200B", "\u2028")
        .contains("eve\\x1b]0;pwned\\x07")
        .contains("\\x9b2J")
        .contains("\\u{202e}evil\\u{2066}")
        .contains("\\u{200b}\\u{2028}");
  }

  @Test
  void ordinaryTextAndNonLatinLettersAreKeptReadable() {
    String line = AuditFormatter.line(event("zoë 山田", "SELECT 'ü' \\ 1"));
    assertThat(line).contains("principal=\"zoë 山田\"").contains("sql=\"SELECT 'ü' \\\\ 1\"")
        .startsWith("2025-03-01T10:00:00.500Z COMMAND_DECIDED gw-1:00:2 session=\"ab12\"");
  }

  @Test
  void whyAStatementCountsAsOpaqueCodeIsShown() {
    EventBody b = new EventBody(EventType.COMMAND_DECIDED, Instant.parse("2025-03-01T10:00:00Z"), Optional.of("ab12"),
        Optional.empty(), Optional.of("pg-prod"), Optional.empty(),
        Optional.of(new EventBody.CommandRecord("sql", "SELECT lower(1)", List.of("SELECT"), List.of(), List.of("lower"),
            List.of("OPAQUE_CODE"), Map.of("protocol", "simple", "opaque_code", "lower may be a function made on the resource"))),
        Optional.empty(), Optional.empty(), Optional.empty(), Map.of());
    assertThat(AuditFormatter.line(AuditEvent.seal("gw-1:00", 2, AuditEvent.GENESIS, b)))
        .contains("flags=\"OPAQUE_CODE\" opaque_code=\"lower may be a function made on the resource\" sql=\"SELECT lower(1)\"");
  }

  @Test
  void theJsonMapHasAStableFieldOrderAndRawValues() {
    Map<String, Object> m = AuditFormatter.toMap(event("a\nb", "SELECT 1"));
    assertThat(m.keySet()).containsExactly("id", "chain", "seq", "time", "type", "session", "principal", "resource",
        "client", "command", "decision", "prev_hash", "hash");
    @SuppressWarnings("unchecked")
    Map<String, Object> principal = (Map<String, Object>) m.get("principal");
    assertThat(principal.keySet()).containsExactly("subject", "issuer", "name", "kind", "groups");
    assertThat(principal.get("name")).isEqualTo("a\nb");
  }
}
