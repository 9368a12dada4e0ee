package dev.gatehouse.it;

import static dev.gatehouse.it.GatewayStack.ALICE;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gatehouse.audit.AuditEvent;
import dev.gatehouse.audit.ChainBuilder;
import dev.gatehouse.audit.AuditStore;
import dev.gatehouse.audit.EventType;
import dev.gatehouse.testkit.Psql;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The evidence a session leaves, read with the {@code gatehouse audit} commands a user runs: search
 * finds the statements with who ran them, secrets in statement text are stored redacted, verify
 * passes on the untouched log and names the broken link once a row is edited in the SQLite file.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class AuditEvidenceTest {
  static final String SECRET = "hunter2-very-s3cret-literal";
  static final ObjectMapper JSON = new ObjectMapper();

  @TempDir static Path dir;
  static EndToEnd e2e;
  static GatewayStack stack;
  static Psql.Result session;

  @BeforeAll
  static void runASession() {
    e2e = EndToEnd.start(dir);
    stack = e2e.stack();
    session = stack.psql(ALICE).withOnErrorStop(false).withArgs("-Atq").script("""
        SELECT count(*) FROM customers;
        UPDATE orders SET status = 'shipped' WHERE id = 2;
        ALTER ROLE %s PASSWORD '%s';
        SELECT name FROM customers WHERE id = 1;
        """.formatted(e2e.target().role(), SECRET));
  }

  @AfterAll
  static void stop() {
    if (e2e != null) e2e.close();
  }

  @Test
  @Order(1)
  void auditSearchReturnsTheSessionsStatementsWithTheCallerAsJson() throws Exception {
    assertThat(session.stdout().lines().toList()).as(PsqlOutput.describe(session)).containsExactly("3", "Ada");
    List<JsonNode> events = awaitSearch();
    List<String> statements = events.stream()
        .filter(e -> e.path("type").asText().equals("COMMAND_DECIDED"))
        .map(e -> e.path("command").path("text").asText()).toList();
    assertThat(statements).contains("SELECT count(*) FROM customers", "UPDATE orders SET status = 'shipped' WHERE id = 2",
        "SELECT name FROM customers WHERE id = 1");
    assertThat(events).allSatisfy(e -> {
      assertThat(e.path("principal").path("subject").asText()).isEqualTo("alice");
      assertThat(e.path("principal").path("issuer").asText()).isEqualTo("corp");
    });
    assertThat(events).anySatisfy(e -> {
      assertThat(e.path("type").asText()).isEqualTo("COMMAND_DECIDED");
      assertThat(e.path("command").path("text").asText()).startsWith("ALTER ROLE");
      assertThat(e.path("decision").path("effect").asText()).isEqualTo("DENY");
    });
    assertThat(events.stream().map(e -> e.path("type").asText()).toList()).contains("SESSION_OPENED", "SESSION_CLOSED");
  }

  @Test
  @Order(2)
  void passwordInAlterRoleIsStoredRedacted() throws Exception {
    List<JsonNode> events = awaitSearch();
    String alter = events.stream().map(e -> e.path("command").path("text").asText())
        .filter(t -> t.startsWith("ALTER ROLE")).findFirst().orElseThrow();
    assertThat(alter).doesNotContain(SECRET).contains("PASSWORD");
    // Nowhere in the store file either (text search, tail, raw bytes of the database and its WAL).
    Cli.Result text = Cli.run("audit", "search", "--config", stack.config().toString(), "--text", "ALTER ROLE");
    assertThat(text.exitCode()).isZero();
    assertThat(text.out()).contains("ALTER ROLE").doesNotContain(SECRET);
    for (String file : List.of("gatehouse.db", "gatehouse.db-wal")) {
      Path p = stack.auditDatabase().resolveSibling(file);
      if (Files.exists(p)) {
        assertThat(new String(Files.readAllBytes(p), java.nio.charset.StandardCharsets.ISO_8859_1)).as(file).doesNotContain(SECRET);
      }
    }
  }

  @Test
  @Order(3) // last: it stops the gateway and edits the store
  void auditVerifyPassesAndThenNamesTheRowEditedInTheStore() throws Exception {
    // Verify on a closed chain: stopping the gateway closes and signs it.
    awaitSearch();
    stack.close();
    Cli.Result intact = Cli.run("audit", "verify", "--config", stack.config().toString());
    assertThat(intact.exitCode()).as(intact.out() + intact.err()).isZero();
    assertThat(intact.out()).contains("audit log intact").contains("intact,").contains("closed cleanly");

    // Someone with write access to the file rewrites what alice ran, as an insider covering tracks:
    // the statement text in the event's bytes, inside the block that holds it (layout in
    // docs/audit.md); the stored hash stays.
    long seq = 0;
    String chain = null;
    try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + stack.auditDatabase());
        Statement s = c.createStatement()) {
      s.execute("DROP TRIGGER audit_events_no_update");
      long pos = 0;
      Block block = null;
      int entry = -1;
      AuditEvent decided = null;
      try (ResultSet rs = s.executeQuery("SELECT c.chain_id, e.first_seq, e.pos, e.block FROM audit_events e"
          + " JOIN audit_chains c ON c.id = e.chain ORDER BY e.pos")) {
        while (decided == null && rs.next()) {
          Block b = Block.decode(rs.getBytes(4));
          for (int i = 0; i < b.events.size() && decided == null; i++) {
            AuditEvent e = AuditStore.fromCanonicalBytes(rs.getString(1), b.events.get(i), "(not read)");
            if (e.type() == EventType.COMMAND_DECIDED && e.body().command().orElseThrow().text().startsWith("UPDATE orders")) {
              chain = rs.getString(1);
              seq = rs.getLong(2) + i;
              pos = rs.getLong(3);
              block = b;
              entry = i;
              decided = e;
            }
          }
        }
      }
      assertThat(decided).as("the UPDATE's decision").isNotNull();
      assertThat(decided.seq()).as("the entry's seq: the block's first seq plus its place").isEqualTo(seq);
      block.events.set(entry, AuditStore.canonicalBytes(ChainBuilder.withText(decided, "SELECT 1")));
      try (PreparedStatement ps = c.prepareStatement("UPDATE audit_events SET block = ? WHERE pos = ?")) {
        ps.setBytes(1, block.encode());
        ps.setLong(2, pos);
        assertThat(ps.executeUpdate()).isEqualTo(1);
      }
    }
    Cli.Result broken = Cli.run("audit", "verify", "--config", stack.config().toString());
    assertThat(broken.exitCode()).as(broken.out() + broken.err()).isEqualTo(1);
    assertThat(broken.out()).contains("AUDIT LOG BROKEN").contains(chain + ": BROKEN at seq " + seq + " (EDITED)");
    Cli.Result json = Cli.run("audit", "verify", "--config", stack.config().toString(), "--json");
    assertThat(json.exitCode()).isEqualTo(1);
    JsonNode report = JSON.readTree(json.out().lines().filter(l -> l.startsWith("{")).findFirst().orElseThrow());
    assertThat(report.path("status").asText()).isEqualTo("broken");
    assertThat(report.path("firstBreak").path("seq").asLong()).isEqualTo(seq);
    assertThat(report.path("firstBreak").path("kind").asText()).isEqualTo("edited");
  }

  /**
   * An {@code audit_events} block as docs/audit.md describes it: a format byte (1), the number of
   * events (int32), then per event its hash and its canonical bytes, each after its length (int32).
   */
  private record Block(List<byte[]> hashes, List<byte[]> events) {
    static Block decode(byte[] bytes) {
      java.nio.ByteBuffer in = java.nio.ByteBuffer.wrap(bytes);
      assertThat(in.get()).as("block format").isEqualTo((byte) 1);
      Block b = new Block(new ArrayList<>(), new ArrayList<>());
      for (int i = in.getInt(); i > 0; i--) {
        byte[] hash = new byte[in.getInt()];
        in.get(hash);
        byte[] event = new byte[in.getInt()];
        in.get(event);
        b.hashes.add(hash);
        b.events.add(event);
      }
      assertThat(in.hasRemaining()).as("bytes after the last event").isFalse();
      return b;
    }

    byte[] encode() {
      java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
      java.io.DataOutputStream data = new java.io.DataOutputStream(out);
      try {
        data.writeByte(1);
        data.writeInt(events.size());
        for (int i = 0; i < events.size(); i++) {
          data.writeInt(hashes.get(i).length);
          data.write(hashes.get(i));
          data.writeInt(events.get(i).length);
          data.write(events.get(i));
        }
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
      return out.toByteArray();
    }
  }

  /** {@code audit search --principal alice@corp.example --json}, until the session's close is in it. */
  private static List<JsonNode> awaitSearch() {
    List<JsonNode> found = new ArrayList<>();
    org.awaitility.Awaitility.await("the session's events in audit search").atMost(java.time.Duration.ofSeconds(30)).until(() -> {
      Cli.Result r = Cli.run("audit", "search", "--config", stack.config().toString(), "--principal", "alice@corp.example", "--json");
      assertThat(r.exitCode()).as(r.err()).isZero();
      found.clear();
      for (String line : r.out().split("\n")) {
        if (line.startsWith("{")) found.add(JSON.readTree(line));
      }
      return found.stream().anyMatch(e -> e.path("type").asText().equals("SESSION_CLOSED"));
    });
    return found;
  }
}
