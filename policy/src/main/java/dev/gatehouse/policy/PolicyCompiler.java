package dev.gatehouse.policy;

import dev.gatehouse.core.CommandFlag;
import dev.gatehouse.core.Principal;
import dev.gatehouse.core.ResourceType;
import dev.gatehouse.policy.CommandMatcher.KindPattern;
import dev.gatehouse.policy.CommandMatcher.NamePattern;
import dev.gatehouse.policy.PolicyDocument.Rule;
import java.time.DateTimeException;
import java.time.DayOfWeek;
import java.time.LocalTime;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * Validates bound policy documents and compiles them into rules, collecting every error with its
 * location rather than stopping at the first. Holds the built-in rule for DDL on named objects.
 * Single use, confined to the loading thread.
 *
 * <p>This class is long because it is the one place that knows every key of the policy format and
 * what each value may be; splitting it would scatter the format across files.
 */
final class PolicyCompiler {
  static final String BUILTIN_NAMED_OBJECT_DDL = "builtin:named-object-ddl";

  /** Statement kinds that change or replace an existing object (or its privileges). */
  private static final List<KindPattern> DDL_KINDS = List.of("ALTER", "DROP", "CREATE", "COMMENT",
      "SECURITY LABEL", "GRANT", "REVOKE").stream().map(KindPattern::new).toList();

  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,99}");
  private static final Pattern TIME = Pattern.compile("([01]?\\d|2[0-3]):([0-5]\\d)(?::([0-5]\\d))?");
  private static final int MAX_VALUE = 256;

  /** The issuer names the configuration trusts, when known: a rule naming another is an error. */
  private final Optional<Set<String>> knownIssuers;
  private final List<PolicyError> errors = new ArrayList<>();
  private final List<CompiledRule> rules = new ArrayList<>();
  private final Map<String, String> seen = new HashMap<>();
  private final Set<NamePattern> namedObjects = new LinkedHashSet<>();
  private PolicyDocument.NamedObjectDdl builtinSpec;
  private PolicyYaml.Locations builtinAt;
  private PolicyYaml.Locations at;

  /**
   * @param knownIssuers the names of the issuers the configuration trusts ({@code identity.issuers});
   *     empty when the policy is read without a configuration
   */
  PolicyCompiler(Optional<Set<String>> knownIssuers) {
    this.knownIssuers = knownIssuers.map(Set::copyOf);
  }

  /** Adds one file's rules. */
  void add(PolicyYaml.Parsed<PolicyDocument> parsed) {
    at = parsed.locations();
    PolicyDocument doc = parsed.value();
    if (doc.version() == null) error("version", "missing key \"version\" (write: version: 1)");
    else if (doc.version() != 1) error("version", "unsupported version " + doc.version() + " (this Gatehouse reads version 1)");
    List<Rule> list = doc.rules() == null ? List.of() : doc.rules();
    for (int i = 0; i < list.size(); i++) rule("rules[" + i + "]", list.get(i));
    if (doc.builtins() != null && doc.builtins().namedObjectDdl() != null) {
      if (builtinSpec != null) {
        error("builtins.named_object_ddl", "builtins are already configured in " + builtinAt.source()
            + ": configure them in one file only");
      } else {
        builtinSpec = doc.builtins().namedObjectDdl();
        builtinAt = at;
      }
    }
  }

  List<PolicyError> errors() {
    return errors;
  }

  /** The rules in load order, the built-in last. Call once, after every file was added. */
  List<CompiledRule> finish() {
    at = builtinAt;
    builtin().ifPresent(rules::add);
    return List.copyOf(rules);
  }

  private void rule(String path, Rule r) {
    int before = errors.size();
    String name = r.name();
    if (name == null) {
      error(path, "missing key \"name\"");
      name = path;
    } else if (!NAME.matcher(name).matches()) {
      error(path + ".name", "rule name \"" + name + "\" must be letters, digits, '_', '.', '-' (at most 100, starting with a letter or digit)");
    } else if (seen.containsKey(name)) {
      error(path + ".name", "rule name \"" + name + "\" is already used at " + seen.get(name));
    } else {
      PolicyError here = at.error(path + ".name", "");
      seen.put(name, here.file() + ":" + here.line());
    }
    Effect effect = Effect.ALLOW;
    if (r.effect() == null) error(path, "missing key \"effect\" (allow, deny, require_approval or mask)");
    else {
      Optional<Effect> e = Effect.parse(r.effect());
      if (e.isEmpty()) error(path + ".effect", "unknown effect \"" + r.effect() + "\" (allow, deny, require_approval or mask)");
      else effect = e.get();
    }
    if (r.message() != null && (effect == Effect.ALLOW || effect == Effect.MASK)) {
      error(path + ".message", "message is shown only for deny and require_approval");
    }
    if (r.message() != null && r.message().isBlank()) error(path + ".message", "message is blank");
    List<String> reviewers = strings(path + ".reviewers", r.reviewers());
    if (effect == Effect.REQUIRE_APPROVAL && reviewers.isEmpty()) {
      error(path + (r.reviewers() == null ? "" : ".reviewers"), "require_approval needs \"reviewers\": who may approve");
    }
    if (effect != Effect.REQUIRE_APPROVAL && r.reviewers() != null) error(path + ".reviewers", "reviewers apply only to require_approval");
    List<String> masks = strings(path + ".mask", r.mask());
    if (effect != Effect.ALLOW && effect != Effect.MASK && r.mask() != null) {
      error(path + ".mask", "mask is an obligation of allow and mask rules only");
    }
    if (effect == Effect.MASK && masks.isEmpty()) {
      error(path + (r.mask() == null ? "" : ".mask"), "a mask rule needs \"mask\": the masking rules it applies");
    }

    Matcher match = matcher(path, r.subjects(), r.resources(), r.commands(), r.when());
    Optional<Matcher> unless = Optional.empty();
    if (r.unless() != null) {
      PolicyDocument.Match u = r.unless();
      if (u.subjects() == null && u.resources() == null && u.commands() == null && u.when() == null) {
        error(path + ".unless", "unless is empty: it would exempt everything; remove the rule instead");
      } else {
        unless = Optional.of(matcher(path + ".unless", u.subjects(), u.resources(), u.commands(), u.when()));
      }
    }
    boolean connect = effect != Effect.MASK && !match.hasCommandMatcher();
    boolean commands = true;
    if (r.appliesTo() != null) {
      Set<String> stages = new LinkedHashSet<>(strings(path + ".applies_to", r.appliesTo()));
      for (String s : stages) {
        if (!s.equals("connect") && !s.equals("commands")) error(path + ".applies_to", "unknown stage \"" + s + "\" (connect, commands)");
      }
      if (stages.isEmpty()) error(path + ".applies_to", "applies_to is empty: name connect, commands or both");
      connect = stages.contains("connect");
      commands = stages.contains("commands");
      if (connect && match.hasCommandMatcher()) {
        error(path + ".applies_to", "a rule with a commands matcher cannot apply to connect (there is no command yet)");
      }
      if (connect && effect == Effect.MASK) error(path + ".applies_to", "a mask rule applies to commands only (a connection has no results)");
    }
    if (errors.size() > before) return;
    PolicyError origin = at.error(path, "");
    rules.add(new CompiledRule(name, effect, Optional.ofNullable(r.message()), reviewers, masks,
        connect, commands, match, unless, origin.file() + ":" + origin.line()));
  }

  private Matcher matcher(String path, PolicyDocument.Subjects s, PolicyDocument.Resources r,
      PolicyDocument.Commands c, PolicyDocument.When w) {
    SubjectMatcher subjects = s == null ? SubjectMatcher.ANY : subjects(path + ".subjects", s);
    ResourceMatcher resources = r == null ? ResourceMatcher.ANY : resources(path + ".resources", r);
    Optional<CommandMatcher> commands = c == null ? Optional.empty() : Optional.of(commands(path + ".commands", c));
    List<TimeWindow> windows = List.of();
    boolean grant = false;
    Optional<CelCondition> cel = Optional.empty();
    if (w != null) {
      String wp = path + ".when";
      if (w.time() == null && w.grant() == null && w.cel() == null) error(wp, "when is empty: give time, grant or cel");
      if (w.time() != null) {
        if (w.time().isEmpty()) error(wp + ".time", "time is an empty list: give at least one window");
        List<TimeWindow> list = new ArrayList<>();
        for (int i = 0; i < w.time().size(); i++) window(wp + ".time[" + i + "]", w.time().get(i)).ifPresent(list::add);
        windows = List.copyOf(list);
      }
      if (w.grant() != null) {
        if (!w.grant().equals("required")) error(wp + ".grant", "grant must be \"required\" (got \"" + w.grant() + "\")");
        grant = true;
      }
      if (w.cel() != null) {
        CelCondition.Compiled compiled = CelCondition.compile(w.cel());
        compiled.error().ifPresent(e -> error(wp + ".cel", e));
        cel = compiled.condition();
      }
    }
    return new Matcher(subjects, resources, commands, windows, grant, cel);
  }

  private SubjectMatcher subjects(String path, PolicyDocument.Subjects s) {
    Set<Principal.Kind> kinds = EnumSet.noneOf(Principal.Kind.class);
    List<String> kindNames = strings(path + ".kinds", s.kinds());
    for (int i = 0; i < kindNames.size(); i++) {
      switch (kindNames.get(i)) {
        case "human" -> kinds.add(Principal.Kind.HUMAN);
        case "machine" -> kinds.add(Principal.Kind.MACHINE);
        default -> error(path + ".kinds[" + i + "]", "unknown subject kind \"" + kindNames.get(i) + "\" (human, machine)");
      }
    }
    Map<String, Set<String>> claims = new LinkedHashMap<>();
    if (s.claims() != null) {
      if (s.claims().isEmpty()) error(path + ".claims", "claims is empty");
      s.claims().forEach((k, v) -> {
        List<String> values = strings(path + ".claims." + k, v);
        if (values.isEmpty()) error(path + ".claims." + k, "claim \"" + k + "\" lists no values");
        claims.put(k, Set.copyOf(values));
      });
    }
    if (knownIssuers.isPresent() && s.issuers() != null) {
      for (int i = 0; i < s.issuers().size(); i++) {
        String issuer = s.issuers().get(i).strip();
        if (!issuer.isEmpty() && !knownIssuers.get().contains(issuer)) {
          // A rule pinned to an issuer no token comes from never matches: a deny rule with a typo in
          // its issuer would guard nothing, silently.
          error(path + ".issuers[" + i + "]", "unknown issuer \"" + issuer + "\": identity.issuers defines "
              + (knownIssuers.get().isEmpty() ? "none" : String.join(", ", new TreeSet<>(knownIssuers.get())))
              + " (no token comes from it: subjects pinned to it never match, in a rule or its unless)");
        }
      }
    }
    SubjectMatcher m = new SubjectMatcher(Set.copyOf(strings(path + ".users", s.users())),
        Set.copyOf(strings(path + ".groups", s.groups())), Set.copyOf(strings(path + ".issuers", s.issuers())),
        Set.copyOf(kinds), Map.copyOf(claims));
    if (s.users() == null && s.groups() == null && s.issuers() == null && s.kinds() == null && s.claims() == null) {
      error(path, "subjects is empty: give users, groups, issuers, kinds or claims");
    }
    return m;
  }

  private ResourceMatcher resources(String path, PolicyDocument.Resources r) {
    List<Glob> names = strings(path + ".names", r.names()).stream().map(Glob::compile).toList();
    Set<ResourceType> types = EnumSet.noneOf(ResourceType.class);
    List<String> typeNames = strings(path + ".types", r.types());
    for (int i = 0; i < typeNames.size(); i++) {
      String t = typeNames.get(i);
      try {
        if (!t.equals(t.toLowerCase(Locale.ROOT))) throw new IllegalArgumentException();
        types.add(ResourceType.valueOf(t.toUpperCase(Locale.ROOT)));
      } catch (IllegalArgumentException e) {
        error(path + ".types[" + i + "]", "unknown resource type \"" + t + "\" (postgres, mysql, ssh, http, kubernetes)");
      }
    }
    Map<String, List<Glob>> tags = new LinkedHashMap<>();
    if (r.tags() != null) {
      if (r.tags().isEmpty()) error(path + ".tags", "tags is empty");
      r.tags().forEach((k, v) -> {
        List<String> values = strings(path + ".tags." + k, v);
        if (values.isEmpty()) error(path + ".tags." + k, "tag \"" + k + "\" lists no values");
        tags.put(k, values.stream().map(Glob::compile).toList());
      });
    }
    ResourceMatcher m = new ResourceMatcher(names, Set.copyOf(types), Map.copyOf(tags));
    if (r.names() == null && r.types() == null && r.tags() == null) error(path, "resources is empty: give names, types or tags");
    return m;
  }

  private CommandMatcher commands(String path, PolicyDocument.Commands c) {
    if (c.sql() == null && c.flags() == null) error(path, "commands is empty: give sql or flags");
    Set<CommandFlag> flags = EnumSet.noneOf(CommandFlag.class);
    List<String> flagNames = strings(path + ".flags", c.flags());
    for (int i = 0; i < flagNames.size(); i++) {
      String f = flagNames.get(i);
      try {
        if (!f.equals(f.toLowerCase(Locale.ROOT))) throw new IllegalArgumentException();
        flags.add(CommandFlag.valueOf(f.toUpperCase(Locale.ROOT)));
      } catch (IllegalArgumentException e) {
        error(path + ".flags[" + i + "]", "unknown flag \"" + f + "\" (" + String.join(", ",
            EnumSet.allOf(CommandFlag.class).stream().map(x -> x.name().toLowerCase(Locale.ROOT)).toList()) + ")");
      }
    }
    Optional<CommandMatcher.Sql> sql = Optional.empty();
    if (c.sql() != null) {
      String sp = path + ".sql";
      PolicyDocument.Sql s = c.sql();
      if (s.kinds() == null && s.objects() == null && s.functions() == null) error(sp, "sql is empty: give kinds, objects or functions");
      List<String> kindNames = strings(sp + ".kinds", s.kinds());
      List<KindPattern> kinds = new ArrayList<>();
      for (int i = 0; i < kindNames.size(); i++) {
        String k = kindNames.get(i);
        if (StatementKinds.valid(k)) kinds.add(new KindPattern(k));
        else error(sp + ".kinds[" + i + "]", "unknown statement kind \"" + k + "\""
            + StatementKinds.suggest(k).map(x -> " (did you mean " + x + "?)").orElse(""));
      }
      List<NamePattern> objects = strings(sp + ".objects", s.objects()).stream().map(NamePattern::compile).toList();
      List<NamePattern> functions = strings(sp + ".functions", s.functions()).stream().map(NamePattern::compile).toList();
      objects.stream().filter(p -> !p.matchesEverything()).forEach(namedObjects::add);
      sql = Optional.of(new CommandMatcher.Sql(List.copyOf(kinds), objects, functions));
    }
    return new CommandMatcher(sql, Set.copyOf(flags));
  }

  private Optional<TimeWindow> window(String path, PolicyDocument.TimeWindow w) {
    int before = errors.size();
    Set<DayOfWeek> days = EnumSet.noneOf(DayOfWeek.class);
    if (w.days() == null) days = EnumSet.allOf(DayOfWeek.class);
    else if (w.days().isEmpty()) error(path + ".days", "days is empty (omit it for every day)");
    List<String> dayNames = strings(path + ".days", w.days());
    for (int i = 0; i < dayNames.size(); i++) {
      Optional<DayOfWeek> d = day(dayNames.get(i));
      if (d.isPresent()) days.add(d.get());
      else error(path + ".days[" + i + "]", "unknown day \"" + dayNames.get(i) + "\" (mon, tue, wed, thu, fri, sat, sun)");
    }
    Optional<LocalTime> from = time(path + ".from", w.from(), false);
    boolean endOfDay = "24:00".equals(w.to());
    Optional<LocalTime> to = endOfDay ? Optional.of(LocalTime.MIDNIGHT) : time(path + ".to", w.to(), true);
    ZoneId zone = null;
    if (w.zone() == null) error(path, "missing key \"zone\" (a time zone such as Europe/Paris or UTC)");
    else {
      try {
        zone = ZoneId.of(w.zone());
      } catch (DateTimeException e) {
        error(path + ".zone", "unknown time zone \"" + w.zone() + "\" (use a region name such as Europe/Paris, or UTC)");
      }
    }
    if (from.isPresent() && to.isPresent() && !endOfDay && from.get().equals(to.get())) {
      error(path + ".to", "from and to are equal: the window would be empty (use 00:00 to 24:00 for all day)");
    }
    if (errors.size() > before || from.isEmpty() || to.isEmpty()) return Optional.empty();
    return Optional.of(new TimeWindow(Set.copyOf(days), from.get(), to.get(), endOfDay, zone));
  }

  private Optional<LocalTime> time(String path, String text, boolean isTo) {
    if (text == null) {
      error(path.substring(0, path.lastIndexOf('.')), "missing key \"" + path.substring(path.lastIndexOf('.') + 1) + "\" (HH:MM)");
      return Optional.empty();
    }
    java.util.regex.Matcher m = TIME.matcher(text);
    if (!m.matches()) {
      error(path, "\"" + text + "\" is not a time of day HH:MM" + (isTo ? " (or 24:00)" : ""));
      return Optional.empty();
    }
    return Optional.of(LocalTime.of(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)),
        m.group(3) == null ? 0 : Integer.parseInt(m.group(3))));
  }

  private static Optional<DayOfWeek> day(String s) {
    String d = s.toLowerCase(Locale.ROOT);
    for (DayOfWeek day : DayOfWeek.values()) {
      String full = day.name().toLowerCase(Locale.ROOT);
      if (d.equals(full) || d.equals(full.substring(0, 3))) return Optional.of(day);
    }
    return Optional.empty();
  }

  /** A list of non-blank, bounded strings; {@code null} (key absent) is the empty list. */
  private List<String> strings(String path, List<String> values) {
    if (values == null) return List.of();
    List<String> out = new ArrayList<>(values.size());
    for (int i = 0; i < values.size(); i++) {
      String v = values.get(i);
      if (v.isBlank()) error(path + "[" + i + "]", "value is blank");
      else if (v.length() > MAX_VALUE) error(path + "[" + i + "]", "value is longer than " + MAX_VALUE + " characters");
      else out.add(v.strip());
    }
    return List.copyOf(out);
  }

  private Optional<CompiledRule> builtin() {
    PolicyDocument.NamedObjectDdl spec = builtinSpec == null
        ? new PolicyDocument.NamedObjectDdl(null, null, null, null) : builtinSpec;
    String path = "builtins.named_object_ddl";
    String effectName = spec.effect() == null ? "require_approval" : spec.effect();
    if (effectName.equals("off")) return Optional.empty();
    Optional<Effect> effect = Effect.parse(effectName).filter(e -> e == Effect.DENY || e == Effect.REQUIRE_APPROVAL);
    if (effect.isEmpty()) {
      error(path + ".effect", "unknown effect \"" + effectName + "\" (require_approval, deny or off)");
      return Optional.empty();
    }
    List<String> reviewers = builtinSpec == null ? List.of() : strings(path + ".reviewers", spec.reviewers());
    if (effect.get() != Effect.REQUIRE_APPROVAL && spec.reviewers() != null) error(path + ".reviewers", "reviewers apply only to require_approval");
    Optional<Matcher> unless = Optional.empty();
    if (spec.unless() != null) {
      PolicyDocument.Match u = spec.unless();
      unless = Optional.of(matcher(path + ".unless", u.subjects(), u.resources(), u.commands(), u.when()));
    }
    if (namedObjects.isEmpty()) return Optional.empty();
    Matcher match = new Matcher(SubjectMatcher.ANY, ResourceMatcher.ANY,
        Optional.of(new CommandMatcher(Optional.of(new CommandMatcher.Sql(DDL_KINDS, List.copyOf(namedObjects), List.of())), Set.of())),
        List.of(), false, Optional.empty());
    String message = spec.message() != null ? spec.message()
        : "changing the definition of an object a policy rule names needs approval";
    String origin = builtinAt == null ? "built-in" : at.error(path, "").file() + ":" + at.error(path, "").line();
    return Optional.of(new CompiledRule(BUILTIN_NAMED_OBJECT_DDL, effect.get(), Optional.of(message), reviewers,
        List.of(), false, true, match, unless, origin));
  }

  private void error(String path, String message) {
    errors.add(at == null ? new PolicyError("", 0, 0, path, message) : at.error(path, message));
  }
}
