package dev.gatehouse.masking;

import dev.gatehouse.core.ColumnOrigin;
import dev.gatehouse.core.Principal;
import dev.gatehouse.core.Secret;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/** Shared test values: principals, a key, one-column plans. */
final class Fixtures {
  static final Secret KEY = Secret.of("0123456789abcdef0123456789abcdef-test-key");
  static final Principal ALICE = principal("alice");
  static final Principal BOB = principal("bob");
  static final ColumnOrigin.Column EMAIL = ColumnOrigin.column("public", "customers", "email");
  static final ColumnOrigin.Column NAME = ColumnOrigin.column("public", "customers", "name");

  private Fixtures() {}

  static Principal principal(String subject) {
    return new Principal(subject, subject + "@corp.example", Set.of("developers"), Principal.Kind.HUMAN, "corp",
        Map.of(), Instant.parse("2100-01-01T00:00:00Z"));
  }

  static Masking masking(MaskingRules.Rule... rules) {
    return Masking.compile(MaskingRules.of(rules), Optional.of(KEY));
  }

  /** A plan for one column masked by a rule with {@code style}, of the given type and format. */
  static MaskPlan oneColumn(MaskingRules.Style style, TypeFamily type, ValueFormat format) {
    return oneColumn(style, type, format, "pg-demo", ALICE);
  }

  static MaskPlan oneColumn(MaskingRules.Style style, TypeFamily type, ValueFormat format, String resource, Principal who) {
    Masking m = masking(MaskingRules.Rule.columns("r", style, "public.customers.email"));
    return m.planner(resource, who, List.of("r"))
        .plan(List.of(new ResultColumn(EMAIL, type, format)), StatementFacts.readsNothing());
  }

  /** The value as the client would receive it from column 0, or null for NULL. */
  static byte[] write(MaskPlan plan, byte[] value) {
    MaskOutput out = new MaskOutput(4);
    int n = plan.write(0, value, 0, value.length, out);
    return n < 0 ? null : out.toByteArray();
  }

  static String write(MaskPlan plan, String value) {
    byte[] b = write(plan, value.getBytes(StandardCharsets.UTF_8));
    return b == null ? null : new String(b, StandardCharsets.UTF_8);
  }

  static byte[] bytes(int... values) {
    byte[] b = new byte[values.length];
    for (int i = 0; i < values.length; i++) b[i] = (byte) values[i];
    return b;
  }
}
