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
 * @param opaqueCalls the functions among {@code functions} whose calls raised {@link
 *     CommandFlag#OPAQUE_CODE} (not known to be harmless), as called: what a refusal of opaque code
 *     names, so the user learns which call to qualify or take out. Empty when the flag came from
 *     elsewhere (a DO block, an operator) or is not raised
 */
public record Classification(
    List<String> kinds, Set<String> objects, Set<String> functions, Set<CommandFlag> flags, Set<String> opaqueCalls) {
  public Classification {
    kinds = List.copyOf(kinds);
    objects = Set.copyOf(objects);
    functions = Set.copyOf(functions);
    flags = flags.isEmpty() ? Set.of() : Set.copyOf(EnumSet.copyOf(flags));
    opaqueCalls = opaqueCalls.isEmpty() ? Set.of() : Set.copyOf(opaqueCalls);
    Objects.requireNonNull(kinds, "kinds == null");
  }

  /** A classification that names no opaque call. */
  public Classification(List<String> kinds, Set<String> objects, Set<String> functions, Set<CommandFlag> flags) {
    this(kinds, objects, functions, flags, Set.of());
  }

  /** The classification of something that could not be understood. */
  public static Classification unclassified() {
    return new Classification(List.of(), Set.of(), Set.of(), Set.of(CommandFlag.UNCLASSIFIED));
  }

  public boolean has(CommandFlag flag) {
    return flags.contains(flag);
  }
}
