package dev.gatehouse.postgres;

import dev.gatehouse.core.ColumnOrigin;
import dev.gatehouse.masking.MaskPlan;
import dev.gatehouse.masking.MaskPlanner;
import dev.gatehouse.masking.Refusal;
import dev.gatehouse.masking.ResultColumn;
import dev.gatehouse.masking.StatementFacts;
import dev.gatehouse.masking.TypeFamily;
import dev.gatehouse.masking.ValueFormat;
import dev.gatehouse.postgres.wire.RowDescription;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The masking of one allowed statement: the rules in force (a {@link MaskPlanner}), what the
 * statement reads ({@link StatementFacts}), and the means to plan each result shape it produces.
 *
 * <p>Immutable except for nothing: plans are built fresh per shape (a {@link MaskPlan} holds
 * scratch buffers and belongs to the thread that applies it). Safe to hand from the client→target
 * thread to the target→client thread through the session's expectation queue.
 */
final class StatementMasking {
  private final MaskPlanner planner;
  private final StatementFacts facts;
  private final StatementFacts screenFacts;
  private final Optional<ColumnCatalog> catalog;
  private final Optional<String> copyTable;
  private final List<String> copyColumns;
  private final boolean touches;

  /**
   * @param facts what the statement names (plans and strict mode use it)
   * @param screenFacts what may flow into its writes, and what it uses outside its select list
   * @param everything every column of what it touches (decides whether its messages are withheld)
   */
  StatementMasking(MaskPlanner planner, StatementFacts facts, StatementFacts screenFacts, StatementFacts everything,
      Optional<ColumnCatalog> catalog, Optional<String> copyTable, List<String> copyColumns) {
    this.copyColumns = List.copyOf(copyColumns);
    this.planner = planner;
    this.facts = facts;
    this.screenFacts = screenFacts;
    this.catalog = catalog;
    this.copyTable = copyTable;
    this.touches = planner.plan(List.of(), everything).touchesMasked();
  }

  /** Whether the statement may run at all (laundering, confined columns). */
  Optional<Refusal> screen() {
    return planner.screen(screenFacts);
  }

  /**
   * Whether the statement touches a relation holding a masked column: then the texts of its notices
   * and errors, and the parameter values it changes, are withheld (they may quote a value).
   */
  boolean touchesMasked() {
    return touches;
  }

  /** For {@code COPY table (a, b) TO STDOUT}: the column list; empty for every column. */
  List<String> copyColumns() {
    return copyColumns;
  }

  MaskPlanner planner() {
    return planner;
  }

  /** The plan for a result shape, with the formats the client asked for (empty: the description's own). */
  MaskPlan plan(RowDescription description, short[] formats) {
    List<ResultColumn> columns = catalog.isPresent()
        ? catalog.get().columns(description, formats)
        : untraceable(description, formats);
    MaskPlan plan = planner.plan(columns, facts);
    return plan.nullsAny() && plan.refusal().isEmpty() ? plan.withNotice(nulledNotice(plan, description)) : plan;
  }

  /**
   * What a client is told when strict mode turns columns into NULL: which, and why, so a NULL is not
   * taken for the data's own.
   */
  static String nulledNotice(MaskPlan plan, RowDescription description) {
    List<String> names = new ArrayList<>();
    java.util.Set<String> rules = new java.util.TreeSet<>();
    for (int i = 0; i < plan.size(); i++) {
      if (!plan.nulled(i)) continue;
      String name = i < description.fields().size() ? description.fields().get(i).name() : "";
      names.add("\"" + StartupParameters.sanitizeName(name) + "\" (column " + (i + 1) + ")");
      plan.rule(i).ifPresent(rules::add);
    }
    return "Gatehouse returns NULL for " + String.join(", ", names) + ": "
        + (names.size() == 1 ? "its values are" : "their values are")
        + " computed from columns masked by rule " + String.join(", ", rules)
        + " in a way masking cannot follow (strict masking); select the masked columns themselves to see them masked";
  }

  /**
   * The plan for the rows of {@code COPY … TO STDOUT}: a table's columns map through the catalog;
   * {@code COPY (query)} columns are untraceable (strict mode decides). COPY text format carries
   * every value as text.
   *
   * @param columns how many columns the CopyOutResponse announced
   */
  MaskPlan copyPlan(int columns, List<String> columnNames, boolean binary) {
    ValueFormat format = binary ? ValueFormat.BINARY : ValueFormat.TEXT;
    List<ResultColumn> out = new ArrayList<>(columns);
    List<ColumnOrigin.Column> table = copyTable.isPresent() && catalog.isPresent()
        ? catalog.get().tableColumns(copyTable.get()) : List.of();
    if (!table.isEmpty() && !columnNames.isEmpty()) {
      List<ColumnOrigin.Column> picked = new ArrayList<>();
      for (String n : columnNames) {
        table.stream().filter(c -> c.column().equals(n)).findFirst().ifPresent(picked::add);
      }
      table = picked;
    }
    for (int i = 0; i < columns; i++) {
      ColumnOrigin origin = table.size() == columns ? table.get(i) : ColumnOrigin.untraceable("COPY (query)");
      out.add(new ResultColumn(origin, TypeFamily.TEXT, format));
    }
    return planner.plan(out, facts);
  }

  private static List<ResultColumn> untraceable(RowDescription description, short[] formats) {
    List<ResultColumn> out = new ArrayList<>();
    for (int i = 0; i < description.fields().size(); i++) {
      short f = formats.length == 0 ? description.fields().get(i).format() : formats.length == 1 ? formats[0] : formats[i];
      out.add(new ResultColumn(ColumnOrigin.untraceable("no catalog"), TypeFamily.OTHER,
          f == 1 ? ValueFormat.BINARY : ValueFormat.TEXT));
    }
    return out;
  }
}
