package dev.gatehouse.policy;

import dev.gatehouse.core.Classification;
import dev.gatehouse.core.ClientInfo;
import dev.gatehouse.core.Command;
import dev.gatehouse.core.CommandFlag;
import dev.gatehouse.core.Decision;
import dev.gatehouse.core.Principal;
import dev.gatehouse.core.Resource;
import dev.gatehouse.core.ResourceCatalog;
import dev.gatehouse.core.ResourceType;
import dev.gatehouse.core.Session;
import dev.gatehouse.core.SessionId;
import java.nio.file.Path;
import java.time.Clock;
import java.time.DateTimeException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;

/**
 * Evaluates {@link PolicyTestCase}s against a policy without any target: the logic of {@code
 * gatehouse policy test}. SQL is turned into commands by the classifier the caller supplies (the
 * CLI plugs in the PostgreSQL classifier); a case whose SQL yields several commands is decided by
 * the strictest of their decisions, as the gateway would refuse the message at the first of them.
 * Thread-safe if the classifier is.
 */
public final class PolicyTestRunner {
  private static final ClientInfo CLIENT = new ClientInfo("policy-test", "policy-test", "gatehouse policy test");

  private final PolicyEngine policy;
  private final Function<String, List<Command>> classifier;
  private final ResourceCatalog resources;
  private final Clock clock;

  /**
   * @param classifier SQL text → the commands the gateway would judge; may throw, which fails the
   *     case with the classifier's message
   * @param resources where resource names come from (tags, type); names it does not know are made
   *     up from the case's {@code resource_type} and {@code resource_tags}
   */
  public PolicyTestRunner(PolicyEngine policy, Function<String, List<Command>> classifier, ResourceCatalog resources, Clock clock) {
    this.policy = Objects.requireNonNull(policy, "policy == null");
    this.classifier = Objects.requireNonNull(classifier, "classifier == null");
    this.resources = Objects.requireNonNull(resources, "resources == null");
    this.clock = Objects.requireNonNull(clock, "clock == null");
  }

  public PolicyTestRunner(PolicyEngine policy, Function<String, List<Command>> classifier) {
    this(policy, classifier, name -> Optional.empty(), Clock.systemUTC());
  }

  public PolicyTestReport run(List<PolicyTestCase> cases) {
    return new PolicyTestReport(cases.stream().map(this::run).toList());
  }

  public PolicyTestResult run(PolicyTestCase c) {
    Instant at = c.at().orElseGet(clock::instant);
    PolicyEngine engine = policy.withClock(Clock.fixed(at, ZoneOffset.UTC));
    Principal principal = new Principal(c.subject(), c.displayName(), c.groups(), c.kind(), c.issuer(), c.claims(),
        at.plusSeconds(3600));
    Resource resource = resources.find(c.resource())
        .orElseGet(() -> new Resource(c.resource(), c.resourceType(), "policy-test", c.resourceTags()));
    List<Command> commands;
    switch (c.input()) {
      case PolicyTestCase.Input.Connect connect -> {
        return judge(c, engine.admit(principal, resource, CLIENT), List.of(), Optional.empty());
      }
      case PolicyTestCase.Input.Classified classified -> commands = List.of(classified.command());
      case PolicyTestCase.Input.Sql sql -> {
        try {
          commands = List.copyOf(classifier.apply(sql.text()));
        } catch (RuntimeException e) {
          Decision refused = new Decision.Deny(Decision.NO_MATCH, "the classifier failed: " + e.getMessage());
          return new PolicyTestResult(c, refused, List.of(), Optional.of("the classifier failed: " + e.getMessage()));
        }
        if (commands.isEmpty()) commands = List.of(new Command("sql", sql.text(), Classification.unclassified(), Map.of()));
      }
    }
    Session session = new Session(SessionId.random(), principal, resource, CLIENT, at, principal.expiresAt());
    Decision strictest = null;
    for (Command command : commands) {
      Decision d = engine.decide(session, command);
      if (strictest == null || Effect.of(d).stricterThan(Effect.of(strictest))) strictest = d;
    }
    return judge(c, strictest, commands, Optional.empty());
  }

  private static PolicyTestResult judge(PolicyTestCase c, Decision d, List<Command> commands, Optional<String> failure) {
    Effect actual = Effect.of(d);
    if (failure.isEmpty() && c.expect().isPresent() && c.expect().get() != actual) {
      failure = Optional.of("expected " + c.expect().get().yamlName() + ", got " + actual.yamlName() + " by rule " + d.rule());
    } else if (failure.isEmpty() && c.rule().isPresent() && !c.rule().get().equals(d.rule())) {
      failure = Optional.of("expected rule " + c.rule().get() + ", got " + actual.yamlName() + " by rule " + d.rule());
    }
    return new PolicyTestResult(c, d, commands, failure);
  }

  /**
   * Reads a case file.
   *
   * @throws PolicyException with every error found, located like policy errors
   */
  public static List<PolicyTestCase> readCases(Path file) {
    return readCases(PolicySource.read(file));
  }

  public static List<PolicyTestCase> readCases(PolicySource source) {
    PolicyYaml.Parsed<CaseFile> parsed = new PolicyYaml().read(source.name(), source.text(), CaseFile.class);
    PolicyYaml.Locations at = parsed.locations();
    List<PolicyError> errors = new ArrayList<>();
    CaseFile file = parsed.value();
    if (file.version() == null) errors.add(at.error("version", "missing key \"version\" (write: version: 1)"));
    else if (file.version() != 1) errors.add(at.error("version", "unsupported version " + file.version()));
    List<CaseFile.Case> specs = file.cases() == null ? List.of() : file.cases();
    if (specs.isEmpty()) errors.add(at.error("cases", "no cases"));
    List<PolicyTestCase> cases = new ArrayList<>();
    Set<String> names = new HashSet<>();
    for (int i = 0; i < specs.size(); i++) {
      String path = "cases[" + i + "]";
      int before = errors.size();
      PolicyTestCase c = toCase(path, specs.get(i), at, errors);
      if (c != null && !names.add(c.name())) errors.add(at.error(path + ".name", "case name \"" + c.name() + "\" is used twice"));
      if (errors.size() == before && c != null) cases.add(c);
    }
    if (!errors.isEmpty()) throw new PolicyException(errors);
    return List.copyOf(cases);
  }

  private static PolicyTestCase toCase(String path, CaseFile.Case s, PolicyYaml.Locations at, List<PolicyError> errors) {
    if (s.as() == null) errors.add(at.error(path, "missing key \"as\" (the subject)"));
    if (s.resource() == null) errors.add(at.error(path, "missing key \"resource\""));
    int inputs = (Boolean.TRUE.equals(s.connect()) ? 1 : 0) + (s.sql() != null ? 1 : 0) + (s.command() != null ? 1 : 0);
    if (inputs != 1) errors.add(at.error(path, "give exactly one of sql, command, or connect: true"));
    Principal.Kind kind = Principal.Kind.HUMAN;
    if (s.kind() != null) {
      switch (s.kind()) {
        case "human" -> kind = Principal.Kind.HUMAN;
        case "machine" -> kind = Principal.Kind.MACHINE;
        default -> errors.add(at.error(path + ".kind", "unknown subject kind \"" + s.kind() + "\" (human, machine)"));
      }
    }
    ResourceType type = ResourceType.POSTGRES;
    if (s.resourceType() != null) {
      try {
        type = ResourceType.valueOf(s.resourceType().toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        errors.add(at.error(path + ".resource_type", "unknown resource type \"" + s.resourceType() + "\""));
      }
    }
    Optional<Instant> when = Optional.empty();
    if (s.at() != null) {
      try {
        when = Optional.of(OffsetDateTime.parse(s.at()).toInstant());
      } catch (DateTimeException e) {
        errors.add(at.error(path + ".at", "\"" + s.at() + "\" is not a date-time with offset, e.g. 2025-06-04T10:00:00+02:00"));
      }
    }
    Optional<Effect> expect = Optional.empty();
    if (s.expect() == null) errors.add(at.error(path, "missing key \"expect\" (allow, deny or require_approval)"));
    else {
      expect = Effect.parse(s.expect()).filter(e -> e != Effect.MASK);
      if (expect.isEmpty()) errors.add(at.error(path + ".expect", "unknown decision \"" + s.expect() + "\" (allow, deny or require_approval)"));
    }
    PolicyTestCase.Input input = new PolicyTestCase.Input.Connect();
    if (s.sql() != null) input = new PolicyTestCase.Input.Sql(s.sql());
    if (s.command() != null) {
      Optional<Command> cmd = command(path + ".command", s.command(), at, errors);
      if (cmd.isPresent()) input = new PolicyTestCase.Input.Classified(cmd.get());
    }
    if (s.as() == null || s.resource() == null) return null;
    String name = s.name() != null ? s.name() : path;
    return new PolicyTestCase(name, s.as(), s.displayName() != null ? s.displayName() : s.as(),
        s.groups() == null ? Set.of() : Set.copyOf(s.groups()), s.issuer() != null ? s.issuer() : "policy-test", kind,
        s.claims() == null ? Map.of() : new HashMap<>(s.claims()), s.resource(), type,
        s.resourceTags() == null ? Map.of() : s.resourceTags(), when, input, expect, Optional.ofNullable(s.rule()));
  }

  private static Optional<Command> command(String path, CaseFile.ClassifiedCommand c, PolicyYaml.Locations at, List<PolicyError> errors) {
    Set<CommandFlag> flags = EnumSet.noneOf(CommandFlag.class);
    List<String> names = c.flags() == null ? List.of() : c.flags();
    for (int i = 0; i < names.size(); i++) {
      try {
        flags.add(CommandFlag.valueOf(names.get(i).toUpperCase(Locale.ROOT)));
      } catch (IllegalArgumentException e) {
        errors.add(at.error(path + ".flags[" + i + "]", "unknown flag \"" + names.get(i) + "\""));
      }
    }
    List<String> kinds = c.kinds() == null ? List.of() : c.kinds().stream().map(k -> CommandMatcher.KindPattern.normalise(k)).toList();
    Classification cl = new Classification(kinds, c.objects() == null ? Set.of() : Set.copyOf(c.objects()),
        c.functions() == null ? Set.of() : Set.copyOf(c.functions()), flags);
    return Optional.of(new Command(c.protocol() != null ? c.protocol() : "sql", c.text() != null ? c.text() : "", cl, Map.of()));
  }
}
