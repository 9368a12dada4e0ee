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
  /** How the rows of a COPY … TO STDOUT are written, as far as the relay can read them to mask them. */
  enum CopyLayout {
    /** Text format, tab-separated, {@code \N} for NULL, backslash escapes. */
    TEXT,
    /** CSV with PostgreSQL's defaults: comma, double quotes doubled inside quotes, NULL unquoted empty. */
    CSV,
    /** Binary, or an option that changes how values are written (DELIMITER, NULL, QUOTE, ESCAPE, FORCE_QUOTE, ENCODING …). */
    OTHER
  }

  /** A COPY's layout and whether its first line is a header of column names. */
  record CopyOutput(CopyLayout layout, boolean header) {
    /**
     * Reads a COPY statement's options as the classifier gives them (name → value; a bare option is
     * {@code true}). Only FORMAT text or csv and HEADER on or off leave rows the relay can parse.
     */
    static CopyOutput of(java.util.Map<String, String> options) {
      CopyLayout layout = CopyLayout.TEXT;
      boolean header = false;
      for (java.util.Map.Entry<String, String> o : options.entrySet()) {
        String v = o.getValue().toLowerCase(java.util.Locale.ROOT);
        switch (o.getKey()) {
          case "format" -> layout = switch (v) {
            case "text" -> layout;
            case "csv" -> CopyLayout.CSV;
            default -> CopyLayout.OTHER;
          };
          case "header" -> {
            switch (v) {
              case "true", "on", "1", "yes" -> header = true;
              case "false", "off", "0", "no" -> header = false;
              default -> { return new CopyOutput(CopyLayout.OTHER, false); }
            }
          }
          default -> { return new CopyOutput(CopyLayout.OTHER, false); }
        }
      }
      return new CopyOutput(layout, header);
    }
  }

  private final MaskPlanner planner;
  private final StatementFacts facts;
  private final StatementFacts screenFacts;
  private final Optional<ColumnCatalog> catalog;
  private final Optional<String> copyTable;
  private final List<String> copyColumns;
  private final CopyOutput copyOutput;
  private final boolean touches;
  private final SessionMasking.Facts read;

  /**
   * @param read what the statement names (plans and strict mode use it), what may flow into its
   *     writes and what it uses outside its select list (screening), and every column of what it
   *     touches (decides whether its messages are withheld)
   */
  StatementMasking(MaskPlanner planner, SessionMasking.Facts read,
      Optional<ColumnCatalog> catalog, Optional<String> copyTable, List<String> copyColumns, CopyOutput copyOutput) {
    this.copyColumns = List.copyOf(copyColumns);
    this.copyOutput = copyOutput;
    this.planner = planner;
    this.read = read;
    this.facts = read.plan();
    this.screenFacts = read.screen();
    this.catalog = catalog;
    this.copyTable = copyTable;
    this.touches = planner.plan(List.of(), read.everything()).touchesMasked();
  }

  /** What the statement reads, as masking found when it was decided. */
  SessionMasking.Facts read() {
    return read;
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

  /** For COPY … TO STDOUT: how its rows are written. */
  CopyOutput copyOutput() {
    return copyOutput;
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
    java.util.Set<String> rules = nulled(plan, i -> {
      String name = i < description.fields().size() ? description.fields().get(i).name() : "";
      names.add("\"" + StartupParameters.sanitizeName(name) + "\" (column " + (i + 1) + ")");
    });
    return "Gatehouse returns NULL for " + String.join(", ", names) + ": "
        + (names.size() == 1 ? "it is" : "they are")
        + " computed, and the statement reads columns masked by rule " + String.join(", ", rules)
        + ", from which a computed value could be made in a way masking cannot follow (strict masking);"
        + " select the masked columns themselves to see them masked";
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
    MaskPlan plan = planner.plan(out, facts);
    if (!plan.nullsAny() || plan.refusal().isPresent()) return plan;
    List<String> nulled = new ArrayList<>();
    java.util.Set<String> rules = nulled(plan, i -> nulled.add(String.valueOf(i + 1)));
    return plan.withNotice("Gatehouse returns NULL for column" + (nulled.size() == 1 ? " " : "s ") + String.join(", ", nulled)
        + " of this COPY: the columns of COPY (query) cannot be traced to their tables, and the query reads columns"
        + " masked by rule " + String.join(", ", rules) + " (strict masking); COPY the table itself, or SELECT, to see"
        + " the masked columns masked and the others clear");
  }

  /** Tells {@code column} each column strict mode turns into NULL; returns the rules that did, sorted. */
  private static java.util.Set<String> nulled(MaskPlan plan, java.util.function.IntConsumer column) {
    java.util.Set<String> rules = new java.util.TreeSet<>();
    for (int i = 0; i < plan.size(); i++) {
      if (!plan.nulled(i)) continue;
      column.accept(i);
      plan.rule(i).ifPresent(rules::add);
    }
    return rules;
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
