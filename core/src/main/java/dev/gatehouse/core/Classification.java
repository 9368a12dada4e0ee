package dev.gatehouse.core;

import java.util.EnumSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * What a command does, as the target language's real parser sees it. Protocol-neutral: SQL
 * statement kinds are upper-case keywords ({@code SELECT}, {@code DROP TABLE}); objects are
 * qualified names as written ({@code public.customers}, or {@code customers} when unqualified);
 * functions are lower-case names as called.
 *
 * @param kinds every statement kind in the command, nested ones included (a DELETE inside a WITH
 *     adds {@code DELETE})
 */
public record Classification(List<String> kinds, Set<String> objects, Set<String> functions, Set<CommandFlag> flags) {
  public Classification {
    kinds = List.copyOf(kinds);
    objects = Set.copyOf(objects);
    functions = Set.copyOf(functions);
    flags = flags.isEmpty() ? Set.of() : Set.copyOf(EnumSet.copyOf(flags));
    Objects.requireNonNull(kinds, "kinds == null");
  }

  /** The classification of something that could not be understood. */
  public static Classification unclassified() {
    return new Classification(List.of(), Set.of(), Set.of(), Set.of(CommandFlag.UNCLASSIFIED));
  }

  public boolean has(CommandFlag flag) {
    return flags.contains(flag);
  }
}
