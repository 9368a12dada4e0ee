package dev.gatehouse.masking;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gatehouse.masking.RelationNames.Reading;
import org.junit.jupiter.api.Test;

class RelationNamesTest {
  @Test
  void anUnqualifiedNameIsThatTableInAnySchema() {
    assertThat(RelationNames.readings("customers")).containsExactly(new Reading("", "customers"));
  }

  @Test
  void aDotMayBeASeparatorOrPartOfAQuotedName() {
    assertThat(RelationNames.readings("sales.customers"))
        .containsExactlyInAnyOrder(new Reading("", "sales.customers"), new Reading("sales", "customers"));
  }

  @Test
  void threePartsMayBeCatalogSchemaAndTableOrDottedSchemasAndTables() {
    assertThat(RelationNames.readings("\"a.b\".c"))
        .containsExactlyInAnyOrder(new Reading("", "a.b.c"), new Reading("a", "b.c"), new Reading("a.b", "c"),
            new Reading("b", "c"));
  }

  @Test
  void manyDotsAreNotSplitEveryWay() {
    assertThat(RelationNames.readings("a.b.c.d.e.f.g.h.i.j")).hasSize(2);
  }
}
