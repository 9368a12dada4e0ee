package dev.gatehouse.policy;

import dev.gatehouse.core.ClientInfo;
import dev.gatehouse.core.Command;
import dev.gatehouse.core.CommandFlag;
import dev.gatehouse.core.Decision;
import dev.gatehouse.core.Obligations;
import dev.gatehouse.core.Policy;
import dev.gatehouse.core.Principal;
import dev.gatehouse.core.Resource;
import dev.gatehouse.core.Session;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A loaded, compiled policy: the engine behind {@link Policy}. Immutable once built (by {@link
 * PolicyLoader}); thread-safe; never throws from {@link #admit} or {@link #decide}.
 *
 * <p>Evaluation: rules are tried in load order (files in the order given, rules in file order, the
 * built-in last). A rule counts only if its matchers match and its {@code unless} does not. The
 * strictest effect among counting rules wins (deny over require_approval over allow), named after
 * the first rule with that effect; an allow carries the masks of every allow rule that counted. No
 * counting rule means {@link Decision#NO_MATCH}. Rules that cannot change the outcome any more are
 * skipped, so conditions (CEL above all) are evaluated as rarely as possible.
 *
 * <p>Cost: matchers are precompiled; the rules that could apply to a resource are picked once per
 * resource and cached (bounded), so a command is checked against those only.
 */
public final class PolicyEngine implements Policy {
  private static final Logger LOG = LoggerFactory.getLogger(PolicyEngine.class);
  private static final int MAX_CACHED_RESOURCES = 4096;
  /** Rule name of the refusal given when evaluation itself failed (a bug, never expected). */
  public static final String RULE_ERROR = "policy-error";

  private final List<CompiledRule> rules;
  private final String version;
  private final List<String> sources;
  private final Clock clock;
  private final GrantLookup grants;
  /** By resource name (a String caches its hash; a Resource record would rehash its tags each time). */
  private final ConcurrentHashMap<String, Picked> commandRules = new ConcurrentHashMap<>();

  private record Picked(Resource resource, CompiledRule[] rules) {}

  PolicyEngine(List<CompiledRule> rules, String version, List<String> sources, Clock clock, GrantLookup grants) {
    this.rules = List.copyOf(rules);
    this.version = Objects.requireNonNull(version, "version == null");
    this.sources = List.copyOf(sources);
    this.clock = Objects.requireNonNull(clock, "clock == null");
    this.grants = Objects.requireNonNull(grants, "grants == null");
  }

  /** The same rules seeing another clock: for test cases that say when they happen. */
  PolicyEngine withClock(Clock other) {
    return new PolicyEngine(rules, version, sources, other, grants);
  }

  /** A short digest of the policy text: equal text, equal version. */
  public String version() {
    return version;
  }

  /** The files (or source names) this policy was loaded from, in order. */
  public List<String> sources() {
    return sources;
  }

  /** Every rule name in evaluation order, the built-in included when active. */
  public List<String> ruleNames() {
    return rules.stream().map(CompiledRule::name).toList();
  }

  /** Every masking rule name an allow rule of this policy applies, in policy order. */
  public Set<String> maskNames() {
    Set<String> names = new LinkedHashSet<>();
    rules.forEach(r -> names.addAll(r.masks()));
    return names;
  }

  /**
   * The rules that name users, groups or claims, in their subjects or their {@code unless}, without
   * naming the issuers those names belong to: where several issuers are trusted, a token from any of
   * them with the same subject, group or claim matches (docs/policy.md, subjects). Each entry is the
   * rule's name, with {@code " (unless)"} when it is its exemption: there an unpinned name lets
   * another issuer's principal out of a deny.
   */
  public List<String> unpinnedRules() {
    List<String> names = new ArrayList<>();
    for (CompiledRule r : rules) {
      if (unpinned(r.match().subjects())) names.add(r.name());
      if (r.unless().isPresent() && unpinned(r.unless().get().subjects())) names.add(r.name() + " (unless)");
    }
    return names;
  }

  /**
   * The warning for {@link #unpinnedRules} while {@code issuers} (two or more) are trusted; empty
   * with fewer, or when every rule that names users, groups or claims is pinned.
   */
  public Optional<String> unpinnedWarning(List<String> issuers) {
    if (issuers.size() < 2) return Optional.empty();
    List<String> unpinned = unpinnedRules();
    if (unpinned.isEmpty()) return Optional.empty();
    return Optional.of("rules " + String.join(", ", unpinned) + " name users, groups or claims without subjects.issuers;"
        + " with " + issuers.size() + " issuers trusted (" + String.join(", ", issuers) + "), a token from any of them with"
        + " those names matches: pin each rule to its issuer (docs/policy.md)");
  }

  private static boolean unpinned(SubjectMatcher s) {
    return s.issuers().isEmpty() && (!s.users().isEmpty() || !s.groups().isEmpty() || !s.claims().isEmpty());
  }

  /** Where a rule was written ({@code file:line}), for explanations. */
  public Optional<String> origin(String rule) {
    return rules.stream().filter(r -> r.name().equals(rule)).map(CompiledRule::origin).findFirst();
  }

  @Override
  public Decision admit(Principal principal, Resource resource, ClientInfo client) {
    try {
      Facts facts = new Facts(principal, resource, client, Optional.empty(), Optional.empty(), clock.instant());
      List<CompiledRule> candidates = new ArrayList<>();
      for (CompiledRule r : rules) if (r.connect()) candidates.add(r);
      return evaluate(facts, candidates.toArray(CompiledRule[]::new), false,
          () -> "no policy rule allows " + principal.displayName() + " to connect to \"" + resource.name() + "\"");
    } catch (RuntimeException e) {
      LOG.error("policy evaluation failed for admission to {}; refusing", resource.name(), e);
      return new Decision.Deny(RULE_ERROR, "the policy could not be evaluated, so the connection is refused");
    }
  }

  @Override
  public Decision decide(Session session, Command command) {
    try {
      Facts facts = new Facts(session.principal(), session.resource(), session.client(), Optional.of(session),
          Optional.of(command), clock.instant());
      // The refusal's text is made only when no rule matches: not for every allowed statement.
      return evaluate(facts, candidates(session.resource()), true, () -> command.classification().has(CommandFlag.UNCLASSIFIED)
          ? "Gatehouse could not classify this command with certainty, and no policy rule allows unclassified commands"
          : "no policy rule allows this command on \"" + session.resource().name() + "\"" + described(command));
    } catch (RuntimeException e) {
      LOG.error("policy evaluation failed for a command in session {}; refusing", session.id(), e);
      return new Decision.Deny(RULE_ERROR, "the policy could not be evaluated, so the command is refused");
    }
  }

  /**
   * What the rules were matched against, for the refusal: the statement kinds and flags, so a user
   * told nothing allows their command learns which part of it (a SAVEPOINT, FOR UPDATE's locking).
   */
  private static String described(Command command) {
    var c = command.classification();
    if (c.kinds().isEmpty() && c.flags().isEmpty()) return "";
    StringBuilder b = new StringBuilder(" (");
    b.append(c.kinds().isEmpty() ? "no statement kind" : String.join(", ", new java.util.LinkedHashSet<>(c.kinds())));
    if (!c.flags().isEmpty()) {
      // opaque_code last, followed by the calls that raised it (when a call did).
      b.append("; flags ").append(String.join(", ", c.flags().stream()
          .filter(f -> f != CommandFlag.OPAQUE_CODE || c.opaqueCalls().isEmpty())
          .map(f -> f.name().toLowerCase(java.util.Locale.ROOT)).sorted().toList()));
      if (c.has(CommandFlag.OPAQUE_CODE) && !c.opaqueCalls().isEmpty()) {
        b.append(c.flags().size() > 1 ? ", " : "").append("opaque_code: ").append(calls(c.opaqueCalls()));
      }
    }
    return b.append(')').toString();
  }

  /** The most names of opaque calls a refusal lists; the rest are counted. */
  private static final int NAMED_CALLS = 3;
  /** Longer names are cut: PostgreSQL's own limit for a name is 63 bytes, twice for schema.name. */
  private static final int NAME_CHARS = 127;

  /**
   * {@code calls a, b, c and 2 more}: names only, sorted, never an argument (no literal value ever
   * reaches a refusal), control characters of quoted identifiers shown as {@code ?}.
   */
  static String calls(Set<String> names) {
    List<String> sorted = names.stream().sorted().toList();
    StringBuilder b = new StringBuilder("calls ");
    for (int i = 0; i < sorted.size() && i < NAMED_CALLS; i++) {
      if (i > 0) b.append(", ");
      String n = sorted.get(i);
      if (n.length() > NAME_CHARS) n = n.substring(0, NAME_CHARS) + "…";
      for (int k = 0; k < n.length(); k++) {
        char ch = n.charAt(k);
        b.append(Character.isISOControl(ch) ? '?' : ch);
      }
    }
    if (sorted.size() > NAMED_CALLS) b.append(" and ").append(sorted.size() - NAMED_CALLS).append(" more");
    return b.toString();
  }

  /**
   * A guardrail's message, with what made the command opaque code when the rule refused it for that
   * flag: "reserved to the dba group" alone does not say which function to take out, nor that an
   * SQL {@code EXECUTE} (pg_dump's), or a fast-path call (psql's {@code \lo_export}), is the reason
   * (review round 40).
   */
  private static String withOpaqueCalls(String message, CompiledRule rule, Facts facts) {
    if (facts.command.isEmpty() || !rule.names(CommandFlag.OPAQUE_CODE)) return message;
    var c = facts.command.get().classification();
    if (!c.has(CommandFlag.OPAQUE_CODE)) return message;
    if (!c.opaqueCalls().isEmpty()) return message + " (opaque_code: " + calls(c.opaqueCalls()) + ")";
    if (c.has(CommandFlag.FUNCTION_CALL)) return message + " (opaque_code: a fast-path function call, such as libpq's large-object functions make)";
    if (c.kinds().contains("EXECUTE")) return message + " (opaque_code: EXECUTE of a prepared statement; Gatehouse does not follow SQL-level PREPARE names:"
        + " use a driver's prepared statements, which it does)";
    if (c.kinds().isEmpty()) return message;
    return message + " (opaque_code: " + String.join(", ", new java.util.LinkedHashSet<>(c.kinds())) + ")";
  }

  /** Rules that apply to commands and whose resource matcher can match this resource. */
  private CompiledRule[] candidates(Resource resource) {
    Picked cached = commandRules.get(resource.name());
    if (cached != null && (cached.resource() == resource || cached.resource().equals(resource))) return cached.rules();
    Facts probe = new Facts(placeholder(), resource, new ClientInfo("", "", ""), Optional.empty(), Optional.empty(),
        clock.instant());
    CompiledRule[] picked = rules.stream()
        .filter(CompiledRule::commands)
        .filter(r -> r.match().matchesResource(probe, r.polarity()))
        .toArray(CompiledRule[]::new);
    if (commandRules.size() >= MAX_CACHED_RESOURCES) commandRules.clear();
    commandRules.put(resource.name(), new Picked(resource, picked));
    return picked;
  }

  private static Principal placeholder() {
    return new Principal("-", "-", Set.of(), Principal.Kind.HUMAN, "-", java.util.Map.of(), java.time.Instant.EPOCH);
  }

  private Decision evaluate(Facts facts, CompiledRule[] candidates, boolean resourceChecked, Supplier<String> noMatch) {
    CompiledRule best = null;
    Set<String> masks = null;
    for (CompiledRule r : candidates) {
      boolean obligations = r.effect() == Effect.MASK || r.effect() == Effect.ALLOW;
      if (best != null && !(obligations && best.effect() == Effect.ALLOW)) {
        // Only a stricter effect changes the outcome; while an allow stands, allow and mask rules
        // may still add masks (masks gathered before a stricter effect won are not used).
        if (best.effect().stricterThan(r.effect())) continue;
        if (best.effect() == r.effect()) continue;
      }
      if (!r.matches(facts, grants, resourceChecked)) continue;
      if (obligations && !r.masks().isEmpty()) {
        if (masks == null) masks = new LinkedHashSet<>();
        masks.addAll(r.masks());
      }
      if (r.effect() == Effect.MASK) continue; // decides nothing
      if (best == null || r.effect().stricterThan(best.effect())) best = r;
      if (best.effect() == Effect.DENY) break;
    }
    if (best == null) return new Decision.Deny(Decision.NO_MATCH, noMatch.get());
    return switch (best.effect()) {
      case ALLOW -> new Decision.Allow(best.name(),
          masks == null || masks.isEmpty() ? Obligations.NONE : new Obligations(List.copyOf(masks)));
      case DENY -> new Decision.Deny(best.name(),
          withOpaqueCalls(best.message().orElse("blocked by policy rule " + best.name()), best, facts));
      case REQUIRE_APPROVAL -> new Decision.RequireApproval(best.name(), best.reviewers(),
          withOpaqueCalls(best.message().orElse("policy rule " + best.name() + " requires approval"), best, facts));
      case MASK -> throw new IllegalStateException("a mask rule decided " + best.name()); // never: skipped above
    };
  }

  @Override
  public String toString() {
    return "PolicyEngine[version=" + version + ", rules=" + rules.size() + ", sources=" + sources + "]";
  }
}
