package dev.gatehouse.postgres.sql;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gatehouse.core.Classification;
import dev.gatehouse.core.CommandFlag;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/** Runs the shared corpus through both classifiers. */
class CorpusTest {
  private static final List<Corpus.Entry> ENTRIES = Corpus.entries();

  @Test
  void corpusHoldsAtLeast150StatementsCoveringThreatItems1To7() {
    assertThat(ENTRIES).hasSizeGreaterThanOrEqualTo(150);
    assertThat(ENTRIES.stream().map(Corpus.Entry::threat).distinct()).contains(1, 2, 4, 5, 6, 7);
  }

  @TestFactory
  Stream<DynamicTest> libpgQueryClassifiesEveryCorpusEntryExactlyAsExpected() {
    LibPgQueryClassifier libpg = LibPgQuerySupport.classifier();
    return ENTRIES.stream().map(e -> DynamicTest.dynamicTest(e.label(), () -> assertMatches(e, libpg.analyze(e.sql()))));
  }

  @TestFactory
  Stream<DynamicTest> fallbackMatchesOrIsStricterOnEveryCorpusEntry() {
    FallbackClassifier fallback = new FallbackClassifier();
    return ENTRIES.stream().map(e -> DynamicTest.dynamicTest(e.label(), () -> {
      Analysis a = fallback.analyze(e.sql());
      if (a.unclassified()) {
        // Stricter is allowed; it must still refuse the settings Gatehouse forbids.
        assertThat(a.changesParsing()).as("an unclassified statement cannot rule out a parsing change").isTrue();
        return;
      }
      assertMatches(e, a);
    }));
  }

  @Test
  void fallbackRecognisesTheSimpleShapesItPromises() {
    FallbackClassifier fallback = new FallbackClassifier();
    long understood = ENTRIES.stream().filter(e -> !e.sql().isBlank() && !fallback.analyze(e.sql()).unclassified()).count();
    // The fallback must be useful, not merely safe: the plain CRUD and transaction entries pass.
    assertThat(understood).isGreaterThanOrEqualTo(30);
  }

  /** libpg_query is the reference: a corpus whose expectations contradict it fails here too. */
  static void assertMatches(Corpus.Entry e, Analysis a) {
    Classification c = a.combined();
    String why = e.label() + (e.note().isEmpty() ? "" : " (" + e.note() + ")") + " got " + c;
    assertThat(c.kinds()).as(why).containsExactlyElementsOf(e.kinds());
    assertThat(c.flags()).as(why).containsExactlyInAnyOrderElementsOf(e.flags());
    e.objects().ifPresent(o -> assertThat(c.objects()).as(why).containsExactlyInAnyOrderElementsOf(o));
    e.functions().ifPresent(f -> assertThat(c.functions()).as(why).containsExactlyInAnyOrderElementsOf(f));
    assertThat(a.changesParsing()).as(why + " changesParsing").isEqualTo(e.changesParsing());
    e.statements().ifPresent(n -> assertThat(a.statements()).as(why).hasSize(n));
    if (e.flags().contains(CommandFlag.UNCLASSIFIED)) assertThat(a.statements()).as(why).hasSize(1);
  }
}
