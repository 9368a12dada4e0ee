package dev.gatehouse.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gatehouse.core.Outcome;
import dev.gatehouse.masking.MaskingRules;
import dev.gatehouse.postgres.wire.Bind;
import dev.gatehouse.postgres.wire.DataRow;
import dev.gatehouse.postgres.wire.ErrorResponse;
import dev.gatehouse.postgres.wire.Execute;
import dev.gatehouse.postgres.wire.Parse;
import dev.gatehouse.postgres.wire.Query;
import dev.gatehouse.postgres.wire.Sync;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;

/**
 * Masking through pgjdbc and a raw protocol client: prepared statements past pgjdbc's prepare
 * threshold (Bind/Execute without Describe), binary results, portals fetched in batches,
 * notifications; no clear value anywhere in the bytes alice received or in the audit log.
 */
class GatewayMaskingJdbcTest {
  static MaskingHarness h;

  @BeforeAll
  static void start() {
    h = new MaskingHarness();
  }

  @AfterAll
  static void stop() throws IOException {
    h.close();
  }

  @AfterEach
  void nothingLeaked() {
    assertThat(h.leaks()).as("clear values in alice's bytes or the audit log").isEmpty();
  }

  private static List<String> column(ResultSet rs, String name) throws Exception {
    List<String> out = new ArrayList<>();
    while (rs.next()) out.add(rs.getString(name));
    return out;
  }

  @Test
  void preparedStatementsPastThePrepareThresholdAreMaskedOnEveryExecution() throws Exception {
    Properties p = new Properties();
    p.setProperty("prepareThreshold", "2");
    try (Connection c = h.jdbc(MaskingHarness.ALICE, p);
        PreparedStatement ps = c.prepareStatement("SELECT id, email, card_number FROM customers WHERE id = ?")) {
      for (int i = 0; i < 8; i++) {
        ps.setInt(1, 1 + i % 2);
        try (ResultSet rs = ps.executeQuery()) {
          assertThat(rs.next()).isTrue();
          assertThat(rs.getString("email")).isEqualTo("****");
          assertThat(rs.getString("card_number")).startsWith("*").endsWith(i % 2 == 0 ? "1111" : "4444");
        }
      }
    }
  }

  @Test
  void aPreparedStatementsWarningsSayWhichColumnsStrictModeReturnsAsNull() throws Exception {
    Properties p = new Properties();
    p.setProperty("prepareThreshold", "1");
    try (Connection c = h.jdbc(MaskingHarness.ALICE, p);
        PreparedStatement ps = c.prepareStatement("SELECT id, lower(email) AS l FROM customers WHERE id = ?")) {
      for (int i = 0; i < 3; i++) {
        ps.setInt(1, 1);
        try (ResultSet rs = ps.executeQuery()) {
          assertThat(rs.next()).isTrue();
          assertThat(rs.getString("l")).isNull();
          java.sql.SQLWarning warning = ps.getWarnings();
          assertThat(warning != null).as("a warning").isTrue();
          assertThat(warning.getMessage()).contains("Gatehouse returns NULL for \"l\" (column 2)");
          assertThat(warning.getNextWarning() == null).as("once per execution").isTrue();
        }
      }
    }
  }

  @Test
  void aHashedNumericIsTheSameNumberInTextAndInBinary() throws Exception {
    // Review round 45: pgjdbc switches to binary results at its prepare threshold, and a hashed
    // numeric then changed from the hashed number to 0 in the middle of a stream.
    MaskingRules rules = new MaskingRules(List.of(new MaskingRules.Rule("salary", null, null, List.of("*.payroll.salary"),
        MaskingRules.Style.hash(12, ""), null, null, null, null)));
    try (MaskingHarness own = new MaskingHarness(rules)) {
      own.admin("CREATE TABLE payroll (id int PRIMARY KEY, salary numeric(12,2)); INSERT INTO payroll VALUES (1, 98765.43), (2, 120000.00)");
      List<java.math.BigDecimal> text = new ArrayList<>();
      List<java.math.BigDecimal> binary = new ArrayList<>();
      Properties p = new Properties();
      p.setProperty("prepareThreshold", "3");
      p.setProperty("binaryTransfer", "true");
      try (Connection c = own.jdbc(MaskingHarness.ALICE, p);
          PreparedStatement ps = c.prepareStatement("SELECT salary FROM payroll ORDER BY id")) {
        for (int i = 0; i < 6; i++) { // text until the threshold, binary after it
          try (ResultSet rs = ps.executeQuery()) {
            List<java.math.BigDecimal> into = ps.unwrap(org.postgresql.PGStatement.class).isUseServerPrepare() ? binary : text;
            while (rs.next()) into.add(rs.getBigDecimal(1).stripTrailingZeros());
          }
        }
      }
      assertThat(text).isNotEmpty();
      assertThat(binary).isNotEmpty();
      java.math.BigDecimal first = text.getFirst(), second = text.get(1);
      assertThat(first).isNotEqualByComparingTo("98765.43").isNotEqualByComparingTo("0");
      assertThat(second).isNotEqualByComparingTo("120000").isNotEqualByComparingTo("0");
      for (int i = 0; i < binary.size(); i++) {
        assertThat(binary.get(i)).as("execution in binary, row " + (i % 2 + 1)).isEqualByComparingTo(i % 2 == 0 ? first : second);
      }
    }
  }

  @Test
  void binaryResultsOfTextColumnsAreMasked() throws Exception {
    Properties p = new Properties();
    p.setProperty("prepareThreshold", "-1"); // binary from the first execution
    p.setProperty("binaryTransferEnable", "text,varchar,int4");
    try (Connection c = h.jdbc(MaskingHarness.ALICE, p);
        PreparedStatement ps = c.prepareStatement("SELECT id, email, phone, name FROM customers ORDER BY id")) {
      for (int i = 0; i < 3; i++) {
        try (ResultSet rs = ps.executeQuery()) {
          assertThat(rs.next()).isTrue();
          assertThat(rs.getInt("id")).isEqualTo(1);
          assertThat(rs.getString("email")).isEqualTo("****");
          assertThat(rs.getString("phone")).isEqualTo("[phone]");
          assertThat(rs.getString("name")).isEqualTo("Ada Lovelace");
        }
      }
    }
  }

  @Test
  void portalsFetchedInBatchesKeepTheirPlan() throws Exception {
    try (Connection c = h.jdbc(MaskingHarness.ALICE, new Properties())) {
      c.setAutoCommit(false);
      try (PreparedStatement ps = c.prepareStatement("SELECT email FROM customers, generate_series(1, 5) ORDER BY 1")) {
        ps.setFetchSize(2);
        try (ResultSet rs = ps.executeQuery()) {
          assertThat(column(rs, "email")).hasSize(10).containsOnly("****");
        }
      }
      c.rollback();
    }
  }

  @Test
  void executeWithoutAnyDescribeIsMaskedByGatehousesOwnDescribe() throws Exception {
    try (RawClient raw = new RawClient(h.relay.port())) {
      raw.login(MaskingHarness.ALICE, Map.of("database", MaskingHarness.RESOURCE));
      raw.send(new Parse("s1", "SELECT email, card_number FROM customers ORDER BY id", new int[0]), Sync.INSTANCE);
      raw.untilReady();
      raw.send(new Bind("p1", "s1", new short[0], List.of(), new short[0]), new Execute("p1", 0), Sync.INSTANCE);
      var got = raw.untilReady();
      List<String> values = new ArrayList<>();
      for (var m : got) {
        if (m instanceof DataRow row) values.add(row.text(0).orElse("") + "|" + row.text(1).orElse(""));
      }
      assertThat(values).containsExactly("****|***************1111", "****|***************4444");
      // Gatehouse's own Describe is not relayed: the client sees only its own answers.
      assertThat(got.stream().map(m -> m.getClass().getSimpleName()).toList())
          .containsExactly("BindComplete", "DataRow", "DataRow", "CommandComplete", "ReadyForQuery");
    }
  }

  @Test
  void aStatementTheTargetSkipsAfterAnEarlierErrorIsRecordedWithThatErrorNotAsRefused() throws Exception {
    // Review round 44: for a masked user, Gatehouse's own Describe of the second portal was skipped
    // with it, and the statement was recorded REFUSED, as if Gatehouse had refused what policy allowed.
    try (RawClient raw = new RawClient(h.relay.port())) {
      raw.login(MaskingHarness.ALICE, Map.of("database", MaskingHarness.RESOURCE));
      raw.send(new Parse("", "SELECT 1/0 AS skip_first", new int[0]),
          new Bind("", "", new short[0], List.of(), new short[0]), new Execute("", 0),
          new Parse("s_skipped", "SELECT email AS skip_second FROM customers ORDER BY id", new int[0]),
          new Bind("p_skipped", "s_skipped", new short[0], List.of(), new short[0]), new Execute("p_skipped", 0),
          Sync.INSTANCE);
      var got = raw.untilReady();
      assertThat(got.stream().map(m -> m.getClass().getSimpleName()).toList())
          .containsExactly("ParseComplete", "ErrorResponse", "ReadyForQuery"); // 1/0 fails as it is planned, at its Bind
    }
    assertThat(GatewayHarness.eventually(() -> h.audit.outcomeOf("skip_second").isPresent())).isTrue();
    Outcome skipped = h.audit.outcomeOf("skip_second").orElseThrow();
    assertThat(skipped.status()).isEqualTo(Outcome.Status.ERROR);
    assertThat(skipped.errorCode()).contains("22012");
    assertThat(h.audit.outcomeOf("skip_first").orElseThrow().errorCode()).contains("22012");
  }

  @Test
  void binaryResultsThatCannotBeMaskedAreRefusedBeforeTheStatementRuns() throws Exception {
    try (RawClient raw = new RawClient(h.relay.port())) {
      raw.login(MaskingHarness.ALICE, Map.of("database", MaskingHarness.RESOURCE));
      raw.send(new Parse("", "SELECT c FROM customers c", new int[0]),
          new Bind("", "", new short[0], List.of(), new short[] {1}), new Execute("", 0), Sync.INSTANCE);
      var got = raw.untilReady();
      ErrorResponse error = RawClient.firstError(got).orElseThrow();
      assertThat(error.sqlstate()).isEqualTo("42501");
      assertThat(error.message()).contains("binary");
      assertThat(got).noneMatch(DataRow.class::isInstance);
      // The session goes on.
      raw.send(new Query("SELECT name FROM customers WHERE id = 2"));
      assertThat(raw.untilReady()).anyMatch(m -> m instanceof DataRow row
          && row.text(0).orElse("").equals("Grace Hopper"));
    }
  }

  @Test
  void notificationPayloadsAreScannedByDetectors() throws Exception {
    try (Connection c = h.jdbc(MaskingHarness.ALICE, new Properties());
        Statement st = c.createStatement()) {
      st.execute("LISTEN news");
      try (Connection admin = h.pg.connect(h.database); Statement a = admin.createStatement()) {
        a.execute("NOTIFY news, 'new customer ada@example.com card 4111 1111 1111 1111'");
      }
      PGNotification[] got = new PGNotification[0];
      for (int i = 0; i < 50 && got.length == 0; i++) {
        st.execute("SELECT 1");
        PGNotification[] n = c.unwrap(PGConnection.class).getNotifications(100);
        if (n != null) got = n;
      }
      assertThat(got).hasSize(1);
      assertThat(got[0].getParameter()).startsWith("new customer ").doesNotContain("@example.com");
    }
  }

  @Test
  void unmaskedUsersGetValuesInBinaryToo() throws Exception {
    Properties p = new Properties();
    p.setProperty("prepareThreshold", "-1");
    p.setProperty("binaryTransferEnable", "text");
    try (Connection c = h.jdbc(MaskingHarness.DANA, p);
        PreparedStatement ps = c.prepareStatement("SELECT email FROM customers ORDER BY id");
        ResultSet rs = ps.executeQuery()) {
      assertThat(column(rs, "email")).containsExactly("ada@example.com", "grace@example.com");
    }
    assertThat(h.clearRelay.received().getBytes(StandardCharsets.ISO_8859_1).length).isPositive();
  }
}
