package dev.gatehouse.postgres.sql;

import dev.gatehouse.core.Classification;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * One statement of a query text.
 *
 * @param text the statement's exact source slice (leading and trailing whitespace trimmed, the
 *     terminating {@code ;} excluded, comments kept)
 * @param redactedText {@code text} with secret-bearing literals (passwords, connection strings,
 *     keys) replaced by {@code '***'}; what audit logs keep
 * @param classification kinds, objects, functions and flags
 * @param changesParsing true when the statement may change {@code client_encoding},
 *     {@code standard_conforming_strings} or {@code backslash_quote} (SET, except to the value
 *     Gatehouse fixes, RESET, RESET ALL, DISCARD ALL, set_config with
 *     such a name or a name that is not a constant, ALTER SYSTEM/ROLE/DATABASE ... SET of them):
 *     Gatehouse reads text with the startup values and refuses every such statement; also true
 *     when the classifier cannot rule it out
 * @param columnUse which columns the statement names and where (for masking); empty when the
 *     classifier cannot tell (the fallback classifier, unclassified text): assume every column
 * @param roles the roles the statement alters, renames, drops, hands on or grants to (ALTER
 *     ROLE/USER, ALTER ROLE … SET, ALTER ROLE … RENAME, DROP ROLE/USER, GRANT role TO role,
 *     REASSIGN/DROP OWNED BY), as the parser gives the names (unquoted ones lower-cased); {@link
 *     #CURRENT_USER}, {@link #SESSION_USER} or {@link #CURRENT_ROLE} for those keywords, {@link
 *     #ALL_ROLES} for ALTER ROLE ALL
 * @param unqualifiedBuiltins the functions and operators the classification took for harmless
 *     built-ins although written without a schema ({@code lower(x)}, {@code a = b}, and the {@code
 *     =}, {@code >=}, {@code <=} that {@code IN (subquery)}, {@code CASE x WHEN}, {@code BETWEEN}
 *     find by name): PostgreSQL picks among every function of that name on the search path by
 *     argument types, so a same-named function or operator in another schema with a better match
 *     runs instead; and, as {@code ::name}, the types casts convert to (a cast function or a domain's
 *     CHECK may run). Whoever runs the statement checks the resource has no such function, operator
 *     or type ({@code pg_catalog.lower(x)} is not listed)
 * @param changesPlanning true when the statement may change a setting that steers the planner's
 *     choice of plan ({@code enable_seqscan}, {@code random_page_cost} and the rest of PostgreSQL's
 *     "Query Planning" settings, {@code work_mem}; SET, SET LOCAL, set_config with such a name or a
 *     name that is not a constant): a plan forced through an index returns rows in that index's
 *     order, which masking's confinement must not let show (red-team round 24)
 * @param roleSet for a statement that is a SET or RESET of {@code role} or {@code
 *     session_authorization}: whom the session acts as afterwards, {@link #LOGIN_ROLE} for the role
 *     it signed in with ({@code RESET ROLE}, {@code SET ROLE NONE}, {@code … DEFAULT}: then the
 *     classification has no {@code ROLE_CHANGE}), else the role's name as the parser gives it;
 *     empty for every other statement, and when the value is not a constant
 */
public record ClassifiedStatement(
    String text, String redactedText, Classification classification, boolean changesParsing, Optional<ColumnUse> columnUse,
    Set<String> roles, Set<String> unqualifiedBuiltins, boolean changesPlanning, Optional<String> roleSet) {
  /**
   * {@link #roleSet} for the role the session signed in with: the empty string, which no role can be
   * named (review round 46: a marker that was a possible role's name let {@code SET ROLE "<login
   * role>"} pass as a return to the login role).
   */
  public static final String LOGIN_ROLE = "";

  /** {@link #roles} entry for the keyword {@code CURRENT_USER} (also {@code USER}). */
  public static final String CURRENT_USER = "<current_user>";
  /** {@link #roles} entry for the keyword {@code SESSION_USER}. */
  public static final String SESSION_USER = "<session_user>";
  /** {@link #roles} entry for the keyword {@code CURRENT_ROLE}. */
  public static final String CURRENT_ROLE = "<current_role>";
  /** {@link #roles} entry for {@code ALTER ROLE ALL …}. */
  public static final String ALL_ROLES = "<all>";

  public ClassifiedStatement {
    Objects.requireNonNull(text, "text == null");
    Objects.requireNonNull(redactedText, "redactedText == null");
    Objects.requireNonNull(classification, "classification == null");
    Objects.requireNonNull(columnUse, "columnUse == null");
    roles = Set.copyOf(roles);
    unqualifiedBuiltins = Set.copyOf(unqualifiedBuiltins);
    Objects.requireNonNull(roleSet, "roleSet == null");
  }

  public ClassifiedStatement(
      String text, String redactedText, Classification classification, boolean changesParsing, Optional<ColumnUse> columnUse,
      Set<String> roles, Set<String> unqualifiedBuiltins, boolean changesPlanning) {
    this(text, redactedText, classification, changesParsing, columnUse, roles, unqualifiedBuiltins, changesPlanning, Optional.empty());
  }

  /** This statement with another classification (its other facts kept). */
  public ClassifiedStatement withClassification(Classification c) {
    return new ClassifiedStatement(text, redactedText, c, changesParsing, columnUse, roles, unqualifiedBuiltins, changesPlanning, roleSet);
  }

  public ClassifiedStatement(
      String text, String redactedText, Classification classification, boolean changesParsing, Optional<ColumnUse> columnUse,
      Set<String> roles, Set<String> unqualifiedBuiltins) {
    this(text, redactedText, classification, changesParsing, columnUse, roles, unqualifiedBuiltins, false);
  }

  public ClassifiedStatement(
      String text, String redactedText, Classification classification, boolean changesParsing, Optional<ColumnUse> columnUse,
      Set<String> roles) {
    this(text, redactedText, classification, changesParsing, columnUse, roles, Set.of());
  }

  public ClassifiedStatement(
      String text, String redactedText, Classification classification, boolean changesParsing, Optional<ColumnUse> columnUse) {
    this(text, redactedText, classification, changesParsing, columnUse, Set.of());
  }

  /** This statement as opaque code: a name it calls may not be the built-in it looks like. */
  public ClassifiedStatement opaque() {
    java.util.EnumSet<dev.gatehouse.core.CommandFlag> flags = java.util.EnumSet.of(dev.gatehouse.core.CommandFlag.OPAQUE_CODE);
    flags.addAll(classification.flags());
    Classification c = new Classification(classification.kinds(), classification.objects(), classification.functions(), flags,
        classification.opaqueCalls());
    return new ClassifiedStatement(text, redactedText, c, changesParsing, columnUse, roles, Set.of(), changesPlanning, roleSet);
  }

  public ClassifiedStatement(String text, String redactedText, Classification classification, boolean changesParsing) {
    this(text, redactedText, classification, changesParsing, Optional.empty());
  }

  public ClassifiedStatement(String text, String redactedText, Classification classification) {
    this(text, redactedText, classification, false);
  }
}
