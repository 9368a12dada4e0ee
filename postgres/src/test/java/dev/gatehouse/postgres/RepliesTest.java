package dev.gatehouse.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gatehouse.core.Checkpoint;
import dev.gatehouse.core.Decision;
import dev.gatehouse.postgres.wire.ErrorResponse;
import org.junit.jupiter.api.Test;

/** What a client reads when Gatehouse refuses a statement. */
class RepliesTest {
  @Test
  void aPolicyRefusalNamesThePolicyAndAnAuditOutageDoesNot() {
    ErrorResponse policy = Replies.denial(new Decision.Deny("no-ddl", "DDL is not allowed here"));
    assertThat(policy.sqlstate()).isEqualTo("42501");
    assertThat(policy.message()).isEqualTo("permission denied by Gatehouse policy: DDL is not allowed here (rule no-ddl)");
    // Review round 44: an audit log that cannot record read as a policy's refusal, sending users to
    // the wrong team. The SQLSTATE stays the documented one.
    ErrorResponse outage = Replies.denial(new Decision.Deny(Checkpoint.RULE_AUDIT,
        "the audit log is unavailable; the statement was not run"));
    assertThat(outage.sqlstate()).isEqualTo("42501");
    assertThat(outage.message())
        .isEqualTo("refused by Gatehouse: the audit log is unavailable; the statement was not run (rule audit-unavailable)");
  }
}
