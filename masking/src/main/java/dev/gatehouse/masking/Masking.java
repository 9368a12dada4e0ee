package dev.gatehouse.masking;

import dev.gatehouse.core.Principal;
import dev.gatehouse.core.Secret;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The compiled masking configuration: the entry point of this module. Built once from {@link
 * MaskingRules} (and rebuilt when they change); immutable and thread-safe.
 *
 * <p>Use: when a statement is allowed, its {@link dev.gatehouse.core.Decision.Allow} carries
 * {@code obligations().masks()}, the names of the masking rules policy applies to this principal
 * (exemptions already taken out by policy's {@code unless}). {@link #planner} turns them into a
 * {@link MaskPlanner} for the session's resource and principal — cache it per session and distinct
 * list of names — and the planner builds a {@link MaskPlan} per result shape.
 *
 * <p>Hash keys: every {@code hash} style uses HMAC-SHA-256 with a key derived from the configured
 * master key and the resource name (and the principal's issuer and subject for {@code perPrincipal}
 * rules), so a masked value means nothing outside its resource. The keys never leave this module.
 */
public final class Masking {
  private static final Masking NONE = new Masking(Map.of(), Optional.empty());

  /** In configuration order. */
  private final Map<String, CompiledRule> rules;
  private final Optional<Secret> hashKey;

  private Masking(Map<String, CompiledRule> rules, Optional<Secret> hashKey) {
    this.rules = rules;
    this.hashKey = hashKey;
  }

  /** No masking rules at all. */
  public static Masking none() {
    return NONE;
  }

  /**
   * Validates and compiles the rules.
   *
   * @param hashKey the master key for {@code hash} styles, at least 32 bytes; required only when a
   *     rule hashes
   * @throws MaskingException naming every problem found ({@code rules[2].style.type: ...})
   */
  public static Masking compile(MaskingRules config, Optional<Secret> hashKey) {
    List<String> errors = new ArrayList<>();
    Map<String, CompiledRule> compiled = new LinkedHashMap<>();
    List<MaskingRules.Rule> list = config.rules();
    for (int i = 0; i < list.size(); i++) {
      MaskingRules.Rule r = list.get(i);
      String at = "rules[" + i + "]";
      if (r.name().isBlank()) {
        errors.add(at + ".name: a rule needs a name (policy rules refer to it in mask: [...])");
        continue;
      }
      at = at + " (" + r.name() + ")";
      if (compiled.containsKey(r.name())) errors.add(at + ".name: another rule is already named \"" + r.name() + "\"");

      List<Glob> resources = new ArrayList<>();
      for (String g : r.resources()) {
        if (g == null || g.isBlank()) errors.add(at + ".resources: an empty pattern matches nothing");
        else resources.add(Glob.of(g));
      }
      if (resources.isEmpty()) errors.add(at + ".resources: the rule applies to no resource");

      List<CompiledRule.ColumnPattern> columns = new ArrayList<>();
      for (String c : r.columns()) {
        String[] parts = c == null ? new String[0] : c.split("\\.", -1);
        if (parts.length != 3 || parts[0].isEmpty() || parts[1].isEmpty() || parts[2].isEmpty()) {
          errors.add(at + ".columns: \"" + c + "\" is not schema.table.column (write *.*.email for any schema and table)");
        } else {
          columns.add(new CompiledRule.ColumnPattern(Glob.of(parts[0]), Glob.of(parts[1]), Glob.of(parts[2])));
        }
      }

      EnumSet<Detector> detectors = EnumSet.noneOf(Detector.class);
      for (String d : r.detect()) {
        if ("all".equals(d)) {
          detectors.addAll(EnumSet.allOf(Detector.class));
          continue;
        }
        Optional<Detector> found = d == null ? Optional.empty() : Detector.named(d);
        if (found.isPresent()) detectors.add(found.get());
        else errors.add(at + ".detect: unknown detector \"" + d + "\" (known: all, " + detectorNames() + ")");
      }
      if (columns.isEmpty() && detectors.isEmpty()) {
        errors.add(at + ": the rule masks nothing: give columns, detect, or both");
      }

      MaskStyle style = style(r.style(), at + ".style", errors);
      if (style instanceof MaskStyle.Hash && hashKey.isEmpty()) {
        errors.add(at + ".style: type hash needs masking.hashKey (a secret of at least 32 bytes)");
      }
      DetectScope scope = parse(DetectScope.class, r.detectIn(), at + ".detectIn", errors);
      StrictMode strict = parse(StrictMode.class, r.strict(), at + ".strict", errors);
      if (r.confine() && columns.isEmpty()) errors.add(at + ".confine: confines columns, and the rule names none");
      if (style == null || scope == null || strict == null) continue;
      compiled.put(r.name(), new CompiledRule(r.name(), List.copyOf(resources), List.copyOf(columns), style,
          Detectors.of(detectors), scope, strict, r.confine()));
    }
    if (hashKey.isPresent() && hashKey.get().length() < 32) {
      errors.add("hashKey: the masking key must be at least 32 bytes (it is " + hashKey.get().length() + ")");
    }
    if (!errors.isEmpty()) throw new MaskingException("invalid masking rules: " + String.join("; ", errors));
    return new Masking(Collections.unmodifiableMap(compiled), hashKey);
  }

  private static MaskStyle style(MaskingRules.Style s, String at, List<String> errors) {
    try {
      return switch (s.type()) {
        case "redact" -> new MaskStyle.Redact();
        case "keep_last" -> new MaskStyle.KeepLast(s.keep());
        case "placeholder" -> new MaskStyle.Placeholder(s.text());
        case "hash" -> {
          MaskStyle.Encoding encoding = parse(MaskStyle.Encoding.class, s.encoding(), at + ".encoding", errors);
          yield encoding == null ? null : new MaskStyle.Hash(s.length(), s.prefix(), encoding, s.perPrincipal());
        }
        default -> {
          errors.add(at + ".type: unknown style \"" + s.type() + "\" (known: redact, keep_last, placeholder, hash)");
          yield null;
        }
      };
    } catch (IllegalArgumentException e) {
      errors.add(at + ": " + e.getMessage());
      return null;
    }
  }

  private static <E extends Enum<E>> E parse(Class<E> type, String value, String at, List<String> errors) {
    for (E e : type.getEnumConstants()) if (e.name().toLowerCase(Locale.ROOT).equals(value)) return e;
    List<String> known = new ArrayList<>();
    for (E e : type.getEnumConstants()) known.add(e.name().toLowerCase(Locale.ROOT));
    errors.add(at + ": unknown value \"" + value + "\" (known: " + String.join(", ", known) + ")");
    return null;
  }

  private static String detectorNames() {
    List<String> names = new ArrayList<>();
    for (Detector d : Detector.values()) names.add(d.configName());
    return String.join(", ", names);
  }

  /** The names of the rules defined. */
  public Set<String> ruleNames() {
    return rules.keySet();
  }

  /**
   * The names among {@code masks} that no rule defines: for the server to check policy files against
   * these rules when either is loaded.
   */
  public List<String> undefined(Collection<String> masks) {
    List<String> missing = new ArrayList<>();
    for (String m : masks) if (!rules.containsKey(m)) missing.add(m);
    return missing;
  }

  /**
   * The planner for one session's statements under the masking rules policy applied.
   *
   * @param masks the rule names from the decision's obligations; rules that do not apply to this
   *     resource are left out
   * @throws MaskingException when a name is not defined (fail closed: the statement must be refused,
   *     since the masking policy meant for it cannot be carried out)
   */
  public MaskPlanner planner(String resource, Principal principal, Collection<String> masks) {
    if (masks.isEmpty()) return MaskPlanner.EMPTY;
    List<CompiledRule> inForce = new ArrayList<>();
    Set<String> seen = new HashSet<>();
    for (String name : masks) {
      CompiledRule r = rules.get(name);
      if (r == null) {
        throw new MaskingException("policy applies masking rule \"" + name + "\", which is not defined; "
            + "refusing rather than returning unmasked data");
      }
      if (seen.add(name) && r.appliesTo(resource)) inForce.add(r);
    }
    if (inForce.isEmpty()) return MaskPlanner.EMPTY;
    // Rules keep configuration order (the map's), whatever order policy listed them in.
    List<String> order = new ArrayList<>(rules.keySet());
    inForce.sort(Comparator.comparingInt(r -> order.indexOf(r.name())));
    Optional<byte[]> resourceKey = hashKey.map(k -> derive(k.revealBytes(), "resource", resource));
    Optional<byte[]> principalKey = resourceKey.map(k -> derive(k, "principal", principal.issuer() + "\u0000" + principal.subject()));
    return new MaskPlanner(List.copyOf(inForce), resourceKey, principalKey);
  }

  /** HMAC-SHA-256(key, "gatehouse-masking-v1" 0 purpose 0 value): a key for one purpose and value. */
  static byte[] derive(byte[] key, String purpose, String value) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      mac.update(("gatehouse-masking-v1\u0000" + purpose + "\u0000" + value).getBytes(StandardCharsets.UTF_8));
      return mac.doFinal();
    } catch (GeneralSecurityException e) {
      throw new MaskingException("HMAC-SHA-256 is not available in this JVM", e);
    }
  }

  @Override
  public String toString() {
    return "Masking[rules=" + rules.keySet() + ", hashKey=" + (hashKey.isPresent() ? "set" : "none") + "]";
  }
}
