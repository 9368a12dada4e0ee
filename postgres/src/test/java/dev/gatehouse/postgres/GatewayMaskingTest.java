package dev.gatehouse.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gatehouse.testkit.Psql;
import java.io.IOException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Masking through psql: every projection of THREATS.md item 13 (aliases, expressions, whole rows,
 * views, CTEs, UNION, RETURNING, cursors) reaches alice masked, and no clear value appears anywhere
 * in the bytes she received or in the audit log; dana, exempt by policy, sees clear values.
 */
class GatewayMaskingTest {
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

  private static String alice(String sql) {
    Psql.Result r = h.alice().command(sql);
    assertThat(r.succeeded()).as(r.stderr()).isTrue();
    return r.stdout();
  }

  @Test
  void selectedColumnIsMaskedWithItsRulesStyle() {
    String out = alice("SELECT id, name, email, card_number, phone FROM customers ORDER BY id");
    assertThat(out).contains("Ada Lovelace").contains("****").contains("1111").contains("[phone]");
  }

  @Test
  void aliasDoesNotUnmaskAColumn() {
    assertThat(alice("SELECT email AS contact, card_number AS x FROM customers")).contains("****").contains("4444");
  }

  @Test
  void privilegedUserSeesClearValues() {
    Psql.Result r = h.dana().command("SELECT email, card_number FROM customers ORDER BY id");
    assertThat(r.stdout()).contains("ada@example.com").contains("4111 1111 1111 1111");
  }
}
