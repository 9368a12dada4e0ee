package dev.gatehouse.policy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * Reads, validates and compiles policy files into a {@link PolicyEngine}. One or several files make
 * one policy; rule names are unique across them. All errors of all files are reported together.
 * Thread-safe (stateless apart from its collaborators).
 */
public final class PolicyLoader {
  private final Clock clock;
  private final GrantLookup grants;
  private final Optional<Set<String>> issuers;
  private final PolicyYaml yaml = new PolicyYaml();

  /**
   * @param clock the time rules' time windows and CEL's {@code now} see
   * @param grants answers {@code grant: required}; {@link GrantLookup#NONE} until approvals exist
   */
  public PolicyLoader(Clock clock, GrantLookup grants) {
    this(clock, grants, Optional.empty());
  }

  private PolicyLoader(Clock clock, GrantLookup grants, Optional<Set<String>> issuers) {
    this.clock = Objects.requireNonNull(clock, "clock == null");
    this.grants = Objects.requireNonNull(grants, "grants == null");
    this.issuers = issuers;
  }

  /**
   * This loader, refusing a policy whose rules name an issuer other than these ({@code subjects:
   * issuers:}): the names of the issuers the configuration trusts.
   */
  public PolicyLoader withIssuers(Collection<String> names) {
    return new PolicyLoader(clock, grants, Optional.of(Set.copyOf(names)));
  }

  /** The system clock, no grants. */
  public PolicyLoader() {
    this(Clock.systemUTC(), GrantLookup.NONE);
  }

  /**
   * Loads policy files.
   *
   * @throws PolicyException with every error found (file, line, column, key path)
   */
  public PolicyEngine load(List<Path> files) {
    if (files.isEmpty()) throw new PolicyException("no policy file given");
    List<PolicySource> sources = new ArrayList<>();
    List<PolicyError> errors = new ArrayList<>();
    for (Path f : files) {
      try {
        sources.add(PolicySource.read(f));
      } catch (PolicyException e) {
        errors.addAll(e.errors());
      }
    }
    if (!errors.isEmpty()) throw new PolicyException(errors);
    return compile(sources);
  }

  /**
   * Compiles policy texts.
   *
   * @throws PolicyException with every error found
   */
  public PolicyEngine compile(List<PolicySource> sources) {
    if (sources.isEmpty()) throw new PolicyException("no policy source given");
    PolicyCompiler compiler = new PolicyCompiler(issuers);
    List<PolicyError> errors = new ArrayList<>();
    for (PolicySource s : sources) {
      try {
        compiler.add(yaml.read(s.name(), s.text(), PolicyDocument.class));
      } catch (PolicyException e) {
        errors.addAll(e.errors());
      }
    }
    List<CompiledRule> rules = compiler.finish();
    errors.addAll(compiler.errors());
    if (!errors.isEmpty()) throw new PolicyException(errors);
    return new PolicyEngine(rules, digest(sources), sources.stream().map(PolicySource::name).toList(), clock, grants);
  }

  /** Every error in these sources; empty when the policy is valid. */
  public List<PolicyError> check(List<PolicySource> sources) {
    try {
      compile(sources);
      return List.of();
    } catch (PolicyException e) {
      return e.errors();
    }
  }

  static String digest(List<PolicySource> sources) {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      for (PolicySource s : sources) {
        sha.update(s.name().getBytes(StandardCharsets.UTF_8));
        sha.update((byte) 0);
        sha.update(s.text().getBytes(StandardCharsets.UTF_8));
        sha.update((byte) 0);
      }
      return HexFormat.of().formatHex(sha.digest()).substring(0, 12);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JDK", e);
    }
  }
}
