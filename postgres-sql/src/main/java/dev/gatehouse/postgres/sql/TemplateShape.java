package dev.gatehouse.postgres.sql;

import dev.gatehouse.core.Classification;
import dev.gatehouse.core.CommandFlag;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * What the full parse of one text proved for every text with the same {@link Template} key: each
 * statement's classification, {@code changesParsing} and column use, and where the statements lie
 * relative to the numbers. {@link #apply} rebuilds the {@link Analysis} of another text of that
 * shape, its statement texts cut from that text. Immutable and thread-safe.
 *
 * <p>{@link #of} accepts a parse only when all of these hold (the rule CLASSIFICATION.md states):
 *
 * <ul>
 *   <li>every statement is a SELECT (VALUES, WITH), INSERT, UPDATE or DELETE with no kind beyond
 *       those four, or a transaction statement holding no number, and {@link ConstantWalker} found no
 *       numeric constant where it could be a select-list position;
 *   <li>no statement is unclassified, may change parsing, touches a setting or the role, or has a
 *       redacted literal (so the redacted text of another text is that text);
 *   <li>every number token of the lexer is a numeric constant of the tree of the same scanner token
 *       type and value, at the token or at a {@code -} the grammar folded into it: the lexer and
 *       PostgreSQL's scanner agree on this text, and no number was consumed by the grammar as
 *       anything but a value (a type modifier such as {@code float(24)} picks a type and leaves no
 *       constant; an array bound leaves a bare Integer): those texts get no template;
 *   <li>no statement boundary falls inside a number.
 * </ul>
 *
 * Given that, two texts with the same key differ only in the values of constants that the grammar
 * stores and the classifier never reads, so their parse trees, and so their classifications, are
 * the same.
 */
final class TemplateShape {
  private static final Set<String> VALUE_KINDS = Set.of("SELECT", "INSERT", "UPDATE", "DELETE");

  private final Template first;
  private final int[] bounds;
  private final List<ClassifiedStatement> statements;
  private final long weight;

  private TemplateShape(Template first, int[] bounds, List<ClassifiedStatement> statements) {
    this.first = first;
    this.bounds = bounds;
    this.statements = statements;
    long w = first.weight() + 64L + 4L * bounds.length;
    for (ClassifiedStatement s : statements) w += s.text().length() + 64;
    this.weight = w;
  }

  /** The shape proved by {@code parsed}, the full parse of {@code sql} whose template is {@code template}; empty when it proves none. */
  static Optional<TemplateShape> of(String sql, Template template, LibPgQueryClassifier.Parsed parsed) {
    if (parsed.constants().isEmpty()) return Optional.empty();
    List<ClassifiedStatement> statements = parsed.analysis().statements();
    int[] bounds = parsed.bounds();
    if (statements.isEmpty() || bounds.length != 2 * statements.size()) return Optional.empty();
    for (int i = 0; i < statements.size(); i++) {
      ClassifiedStatement s = statements.get(i);
      int start = bounds[2 * i];
      int end = bounds[2 * i + 1];
      if (template.insideNumber(start) || template.insideNumber(end)) return Optional.empty();
      if (!s.text().equals(sql.substring(start, end)) || !s.redactedText().equals(s.text())) return Optional.empty();
      if (s.changesParsing() || !qualifies(s.classification(), template, start, end)) return Optional.empty();
    }
    if (!everyNumberIsAValue(sql, template, parsed.constants().get())) return Optional.empty();
    List<ClassifiedStatement> kept = new ArrayList<>(statements.size());
    for (ClassifiedStatement s : statements) {
      kept.add(new ClassifiedStatement(s.text(), s.text(), s.classification(), false, s.columnUse(), s.roles(),
          s.unqualifiedBuiltins(), s.changesPlanning()));
    }
    return Optional.of(new TemplateShape(template, bounds.clone(), List.copyOf(kept)));
  }

  private static boolean qualifies(Classification c, Template template, int start, int end) {
    if (c.has(CommandFlag.UNCLASSIFIED) || c.has(CommandFlag.SETTING_CHANGE) || c.has(CommandFlag.ROLE_CHANGE)) return false;
    if (c.has(CommandFlag.TRANSACTION_CONTROL)) {
      for (int k = 0; k < template.count(); k++) {
        if (template.start(k) < end && template.end(k) > start) return false;
      }
      return true;
    }
    return !c.kinds().isEmpty() && VALUE_KINDS.containsAll(c.kinds());
  }

  /** Each number token matched to a distinct constant of the tree. */
  private static boolean everyNumberIsAValue(String sql, Template template, List<ConstantWalker.Constant> constants) {
    boolean[] used = new boolean[constants.size()];
    for (int k = 0; k < template.count(); k++) {
      String literal = sql.substring(template.start(k), template.end(k));
      boolean integer = Template.isInteger(sql, template.start(k), template.end(k));
      int match = -1;
      for (int j = 0; j < constants.size() && match < 0; j++) {
        ConstantWalker.Constant c = constants.get(j);
        if (used[j] || c.integer() != integer) continue;
        if (c.location() == template.start(k) && sameValue(c, literal, false)) match = j;
        else if (template.minus(k) >= 0 && c.location() == template.minus(k) && sameValue(c, literal, true)) match = j;
      }
      if (match < 0) return false;
      used[match] = true;
    }
    return true;
  }

  private static boolean sameValue(ConstantWalker.Constant c, String literal, boolean negated) {
    if (!c.integer()) return c.value().equals(negated ? "-" + literal : literal);
    long written = Long.parseLong(literal);
    // libpg_query's JSON leaves out an ival of 0 and every negative one.
    if (c.value().isEmpty()) return negated || written == 0;
    long value;
    try {
      value = Long.parseLong(c.value());
    } catch (NumberFormatException e) {
      return false;
    }
    return value == (negated ? -written : written);
  }

  /** The analysis of {@code sql}, whose template has this shape's key. */
  Analysis apply(String sql, Template template) {
    List<ClassifiedStatement> out = new ArrayList<>(statements.size());
    for (int i = 0; i < statements.size(); i++) {
      ClassifiedStatement s = statements.get(i);
      String text = sql.substring(first.shift(bounds[2 * i], template), first.shift(bounds[2 * i + 1], template));
      out.add(new ClassifiedStatement(text, text, s.classification(), false, s.columnUse(), s.roles(),
          s.unqualifiedBuiltins(), s.changesPlanning()));
    }
    return new Analysis(out);
  }

  /** Approximate chars held, for the cache's size bound. */
  long weight() {
    return weight;
  }
}
