package dev.gatehouse.policy;

import java.util.List;
import java.util.Map;

/** A test-case file as written; see docs/policy.md "Testing a policy". Bound like policy files. */
record CaseFile(Integer version, List<Case> cases) {
  record Case(
      String name,
      String as,
      String displayName,
      List<String> groups,
      String issuer,
      String kind,
      Map<String, Object> claims,
      String resource,
      String resourceType,
      Map<String, String> resourceTags,
      String at,
      Boolean connect,
      String sql,
      ClassifiedCommand command,
      String expect,
      String rule) {}

  record ClassifiedCommand(
      String protocol, String text, List<String> kinds, List<String> objects, List<String> functions, List<String> flags) {}
}
