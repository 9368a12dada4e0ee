package dev.gatehouse.postgres.sql;

import dev.gatehouse.core.Classification;
import dev.gatehouse.core.CommandFlag;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * The statements of one query text, in source order, each classified. An empty list means the
 * text held no statement (empty, whitespace or comments only). Immutable.
 *
 * @param syntaxError present when PostgreSQL's grammar rejects the text: the statements are then the
 *     whole text as one unclassified statement, so a caller that ignores this still fails closed
 */
public record Analysis(List<ClassifiedStatement> statements, Optional<SyntaxError> syntaxError) {
  public Analysis {
    Objects.requireNonNull(statements, "statements == null");
    Objects.requireNonNull(syntaxError, "syntaxError == null");
    statements = List.copyOf(statements);
  }

  /** Statements of a text that parsed (or that was not parsed at all). */
  public Analysis(List<ClassifiedStatement> statements) {
    this(statements, Optional.empty());
  }

  /** The whole text as one classification: the union of every statement's kinds, objects, functions, flags. */
  public Classification combined() {
    List<String> kinds = new ArrayList<>();
    Set<String> objects = new LinkedHashSet<>();
    Set<String> functions = new LinkedHashSet<>();
    Set<CommandFlag> flags = EnumSet.noneOf(CommandFlag.class);
    Set<String> opaqueCalls = new LinkedHashSet<>();
    for (ClassifiedStatement s : statements) {
      kinds.addAll(s.classification().kinds());
      objects.addAll(s.classification().objects());
      functions.addAll(s.classification().functions());
      flags.addAll(s.classification().flags());
      opaqueCalls.addAll(s.classification().opaqueCalls());
    }
    return new Classification(kinds, objects, functions, flags, opaqueCalls);
  }

  /** True when any statement changes how the server reads later text (see {@link ClassifiedStatement#changesParsing()}). */
  public boolean changesParsing() {
    return statements.stream().anyMatch(ClassifiedStatement::changesParsing);
  }

  /** True when any statement is flagged {@link CommandFlag#UNCLASSIFIED}. */
  public boolean unclassified() {
    return statements.stream().anyMatch(s -> s.classification().has(CommandFlag.UNCLASSIFIED));
  }
}
