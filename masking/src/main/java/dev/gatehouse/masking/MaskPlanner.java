package dev.gatehouse.masking;

import dev.gatehouse.core.ColumnOrigin;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The masking rules in force for one session's statements (one resource, one principal, the rule
 * names policy applied), turning result shapes into {@link MaskPlan}s. Immutable and thread-safe;
 * obtained from {@link Masking#planner}.
 *
 * <p>The protocol module calls {@link #screen} once per statement before forwarding it (strict mode
 * against laundering, the {@code confine} option against probing), {@link #plan} once per result
 * shape (for PostgreSQL: per RowDescription, or per Bind's result formats), then the plan per row and
 * column. {@link #isEmpty()} is the fast path: no rule in force, nothing to do, no plan needed.
 */
public final class MaskPlanner {
  static final MaskPlanner EMPTY = new MaskPlanner(List.of(), Optional.empty(), Optional.empty());

  private final List<CompiledRule> rules;
  private final Optional<byte[]> resourceKey;
  private final Optional<byte[]> principalKey;
  private final Detectors untraceable;
  private final Detectors everywhere;

  MaskPlanner(List<CompiledRule> rules, Optional<byte[]> resourceKey, Optional<byte[]> principalKey) {
    this.rules = rules;
    this.resourceKey = resourceKey;
    this.principalKey = principalKey;
    Detectors all = Detectors.none(), wide = Detectors.none();
    for (CompiledRule r : rules) {
      all = all.with(r.detectors());
      if (r.detectIn() == DetectScope.ALL) wide = wide.with(r.detectors());
    }
    this.untraceable = all;
    this.everywhere = wide;
  }

  /** Whether no rule is in force: results are relayed without a plan. */
  public boolean isEmpty() {
    return rules.isEmpty();
  }

  /** Names of the rules in force, in configuration order. */
  public List<String> rules() {
    return rules.stream().map(CompiledRule::name).toList();
  }

  /**
   * Every detector some rule in force turns on: for text that leaves the target outside result
   * columns (notice and error texts, notification payloads, parameter values).
   */
  public Detectors detectors() {
    return untraceable;
  }

  /**
   * Whether the statement may run at all under these rules: refused when it copies a strict rule's
   * masked columns somewhere masking cannot follow, or uses a confined column outside its select
   * list. Call before forwarding the statement.
   */
  public Optional<Refusal> screen(StatementFacts facts) {
    for (CompiledRule r : rules) {
      if (facts.launders() && r.strict() != StrictMode.OFF && r.read(facts.reads())) {
        return Optional.of(new Refusal(r.name(), "the statement copies columns masked by rule " + r.name()
            + " into a table, a file or an SQL string, where masking cannot follow them"));
      }
      if (r.confine() && r.read(facts.outsideProjection())) {
        // Review round 40: pg_stat_activity was refused with a message about e-mail columns only.
        String untraced = facts.outsideProjection() instanceof Reads.Unknown u
            ? (u.why().isEmpty()
                ? "the statement reads what Gatehouse cannot trace to its columns (a statistics or activity view such as"
                    + " pg_stat_activity, whose text may hold any value, or SQL it cannot follow)"
                : u.why()) + ", which counts as using every masked column; "
            : "";
        return Optional.of(new Refusal(r.name(), untraced + "columns masked by rule " + r.name()
            + " may only be selected as they are: not computed on, not used in WHERE, JOIN, ORDER BY, GROUP BY, aggregates,"
            + " CLUSTER or ANALYZE, their table not written (INSERT, UPDATE, MERGE, COPY FROM), and not read once the session has changed"
            + " the planner's settings (enable_*, *_cost, work_mem …) or run code Gatehouse cannot see into (which may change them),"
            + " since a plan can then return rows in an index's order"));
      }
    }
    return Optional.empty();
  }

  /**
   * The plan for one result shape.
   *
   * @param columns the result's columns in order
   * @param facts what the statement that produced it reads (strict mode decides on it)
   */
  public MaskPlan plan(List<ResultColumn> columns, StatementFacts facts) {
    int n = columns.size();
    if (rules.isEmpty()) return MaskPlan.passThrough(n);
    CompiledRule strict = strictRule(columns, facts);
    boolean touches = false;
    Optional<Refusal> refusal = Optional.empty();
    MaskPlan.Builder plan = new MaskPlan.Builder(n);
    for (int i = 0; i < n && refusal.isEmpty(); i++) {
      ResultColumn col = columns.get(i);
      switch (col.origin()) {
        case ColumnOrigin.Column c -> {
          CompiledRule r = ruleFor(c);
          if (r != null) {
            touches = true;
            Optional<ValueMasker> m = masker(r, col.type(), col.format());
            if (m.isEmpty()) refusal = Optional.of(cannotMask(r, i, c.toString(), col));
            else plan.mask(i, r.name(), m.get());
          } else {
            plan.detect(i, everywhere, col.type(), col.format());
          }
        }
        case ColumnOrigin.Row row -> {
          ValueMasker[] fields = new ValueMasker[row.columns().size()];
          boolean[] toNull = new boolean[fields.length];
          CompiledRule first = null;
          for (int f = 0; f < fields.length; f++) {
            CompiledRule r = ruleFor(row.field(f));
            if (r == null) continue;
            if (first == null) first = r;
            TypeFamily type = f < col.fieldTypes().size() ? col.fieldTypes().get(f) : TypeFamily.OTHER;
            Optional<ValueMasker> m = masker(r, type, ValueFormat.TEXT);
            if (m.isPresent()) fields[f] = m.get();
            else toNull[f] = true; // NULL is valid for a field of any type
          }
          if (first == null) {
            plan.detect(i, everywhere, col.type(), col.format());
          } else {
            touches = true;
            if (col.format() == ValueFormat.BINARY) {
              refusal = Optional.of(cannotMask(first, i, row.schema() + "." + row.table(), col));
            } else {
              plan.maskRow(i, first.name(), new RowText(fields, toNull), everywhere);
            }
          }
        }
        case ColumnOrigin.Untraceable u -> {
          if (strict != null) {
            touches = true;
            if (strict.strict() == StrictMode.DENY) {
              refusal = Optional.of(new Refusal(strict.name(), "the statement reads columns masked by rule "
                  + strict.name() + " and result column " + (i + 1) + " (" + u.reason()
                  + ") cannot be traced to its source, so the statement is refused (strict mode)"));
            } else {
              // NULL, whatever the rule's style and the value: a computed value can carry masked
              // data in anything a style keeps (a piece under keep-last: substr(card, 5, 4); a hash
              // of a guess: 'ada@example.com' || ''; a boolean, a length, a JSON document's shape,
              // whether it is NULL at all: one bit per row is enough to spell a value out).
              plan.nullify(i, strict.name());
            }
          } else {
            plan.detect(i, untraceable, col.type(), col.format());
          }
        }
      }
    }
    if (!touches) {
      for (CompiledRule r : rules) {
        if (r.read(facts.reads())) {
          touches = true;
          break;
        }
      }
    }
    return plan.build(touches, refusal);
  }

  /**
   * The rule strict mode masks the result's untraceable columns under: of the rules with strict
   * mode on whose masked columns the statement reads, the first with {@code deny}, else the first;
   * null when there is none.
   */
  private CompiledRule strictRule(List<ResultColumn> columns, StatementFacts facts) {
    boolean anyUntraceable = false;
    for (ResultColumn c : columns) anyUntraceable |= c.origin() instanceof ColumnOrigin.Untraceable;
    if (!anyUntraceable) return null;
    CompiledRule first = null;
    for (CompiledRule r : rules) {
      if (r.strict() == StrictMode.OFF || r.columns().isEmpty() || !strictlyRead(r, columns, facts)) continue;
      if (r.strict() == StrictMode.DENY) return r;
      if (first == null) first = r;
    }
    return first;
  }

  /** Whether the statement reads a column the rule masks, by its facts or its result's traced columns. */
  private static boolean strictlyRead(CompiledRule r, List<ResultColumn> columns, StatementFacts facts) {
    if (r.read(facts.reads())) return true;
    for (ResultColumn c : columns) {
      if (c.origin() instanceof ColumnOrigin.Column col && r.masks(col)) return true;
      if (c.origin() instanceof ColumnOrigin.Row row) {
        for (int f = 0; f < row.columns().size(); f++) if (r.masks(row.field(f))) return true;
      }
    }
    return false;
  }

  private CompiledRule ruleFor(ColumnOrigin.Column c) {
    for (CompiledRule r : rules) if (r.masks(c)) return r;
    return null;
  }

  private Optional<ValueMasker> masker(CompiledRule r, TypeFamily type, ValueFormat format) {
    boolean perPrincipal = r.style() instanceof MaskStyle.Hash h && h.perPrincipal();
    return ValueMasker.create(r.style(), type, format, perPrincipal ? principalKey : resourceKey);
  }

  private static Refusal cannotMask(CompiledRule r, int index, String what, ResultColumn col) {
    return new Refusal(r.name(), "result column " + (index + 1) + " (" + what + ") must be masked by rule " + r.name()
        + ", and values of type family " + col.type().name().toLowerCase(Locale.ROOT) + " cannot be masked in "
        + col.format().name().toLowerCase(Locale.ROOT) + " format"
        + (col.format() == ValueFormat.BINARY ? "; ask for text results" : "; cast it to text to receive it masked"));
  }

  @Override
  public String toString() {
    List<String> names = new ArrayList<>();
    for (CompiledRule r : rules) names.add(r.name());
    return "MaskPlanner" + names;
  }
}
