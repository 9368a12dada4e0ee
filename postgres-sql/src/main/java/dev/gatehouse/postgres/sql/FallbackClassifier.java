package dev.gatehouse.postgres.sql;

import dev.gatehouse.core.Classification;
import java.util.List;

/**
 * The strict classifier used when libpg_query is absent. Placeholder: everything non-blank is one
 * unclassified statement (fail closed) until the lexer-based recogniser lands.
 */
public final class FallbackClassifier implements SqlClassifier {
  @Override
  public Analysis analyze(String sql) {
    if (sql.isBlank()) return new Analysis(List.of());
    return new Analysis(List.of(new ClassifiedStatement(sql.strip(), "'***'", Classification.unclassified(), true)));
  }

  @Override
  public String name() {
    return "fallback";
  }
}
