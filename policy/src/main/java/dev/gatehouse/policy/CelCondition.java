package dev.gatehouse.policy;

import dev.cel.common.CelAbstractSyntaxTree;
import dev.cel.common.CelOptions;
import dev.cel.common.CelValidationException;
import dev.cel.common.CelValidationResult;
import dev.cel.common.ast.CelExpr;
import dev.cel.common.navigation.CelNavigableAst;
import dev.cel.common.navigation.CelNavigableExpr;
import dev.cel.common.types.MapType;
import dev.cel.common.types.SimpleType;
import dev.cel.compiler.CelCompiler;
import dev.cel.compiler.CelCompilerFactory;
import dev.cel.parser.CelStandardMacro;
import dev.cel.runtime.CelEvaluationException;
import dev.cel.runtime.CelRuntime;
import dev.cel.runtime.CelRuntimeFactory;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A compiled CEL condition. Compilation (parse, type check, and a check that every field selected
 * on {@code principal}, {@code resource}, {@code session} or {@code command} exists) happens when
 * the policy loads, so a typo is a load error rather than a runtime surprise. Evaluation is bounded:
 * comprehensions stop after {@value #MAX_ITERATIONS} iterations and CEL's {@code matches()} uses
 * RE2, which cannot backtrack. Immutable and thread-safe.
 */
final class CelCondition {
  static final int MAX_ITERATIONS = 1000;
  static final int MAX_LENGTH = 4096;

  /** The variables and the fields each one offers; see docs/policy.md "CEL". */
  static final Map<String, Set<String>> FIELDS = Map.of(
      "principal", Set.of("subject", "display_name", "groups", "kind", "issuer", "claims", "expires_at"),
      "resource", Set.of("name", "type", "address", "tags"),
      "session", Set.of("id", "stage", "client_address", "client_user", "application", "start", "deadline"),
      "command", Set.of("protocol", "text", "kinds", "objects", "functions", "flags", "details"));

  private static final CelOptions OPTIONS = CelOptions.current()
      .comprehensionMaxIterations(MAX_ITERATIONS)
      .maxExpressionCodePointSize(MAX_LENGTH)
      .maxParseRecursionDepth(64)
      .build();

  private static final CelCompiler COMPILER = compiler();
  private static final CelRuntime RUNTIME = CelRuntimeFactory.standardCelRuntimeBuilder().setOptions(OPTIONS).build();

  private final String source;
  private final CelRuntime.Program program;

  private CelCondition(String source, CelRuntime.Program program) {
    this.source = source;
    this.program = program;
  }

  private static CelCompiler compiler() {
    var builder = CelCompilerFactory.standardCelCompilerBuilder()
        .setOptions(OPTIONS)
        .setStandardMacros(CelStandardMacro.STANDARD_MACROS)
        .addVar("now", SimpleType.TIMESTAMP)
        .setResultType(SimpleType.BOOL);
    for (String name : FIELDS.keySet()) builder.addVar(name, MapType.create(SimpleType.STRING, SimpleType.DYN));
    return builder.build();
  }

  /**
   * Compiles an expression, or returns the reason it cannot be used (syntax, type, unknown field).
   */
  static Compiled compile(String expression) {
    if (expression.isBlank()) return new Compiled(Optional.empty(), Optional.of("expression is empty"));
    CelValidationResult result = COMPILER.compile(expression);
    if (result.hasError()) {
      return new Compiled(Optional.empty(), Optional.of("CEL does not compile: " + result.getErrorString().strip()));
    }
    try {
      CelAbstractSyntaxTree ast = result.getAst();
      Optional<String> unknown = unknownField(ast);
      if (unknown.isPresent()) return new Compiled(Optional.empty(), unknown);
      if (!ast.getResultType().equals(SimpleType.BOOL)) {
        // Map fields are dyn to the checker; insisting on a visibly boolean expression catches
        // "resource.name" written where "resource.name == ..." was meant.
        return new Compiled(Optional.empty(), Optional.of("CEL: the expression must yield a boolean, but it yields "
            + ast.getResultType().name() + " (compare it, e.g. principal.claims.admin == true)"));
      }
      return new Compiled(Optional.of(new CelCondition(expression, RUNTIME.createProgram(ast))), Optional.empty());
    } catch (CelValidationException | CelEvaluationException e) {
      return new Compiled(Optional.empty(), Optional.of("CEL does not compile: " + e.getMessage()));
    }
  }

  record Compiled(Optional<CelCondition> condition, Optional<String> error) {}

  /** The declared variables are maps, so CEL itself cannot see a misspelt field: look for one. */
  private static Optional<String> unknownField(CelAbstractSyntaxTree ast) {
    return CelNavigableAst.fromAst(ast).getRoot().allNodes()
        .map(CelNavigableExpr::expr)
        .filter(e -> e.getKind() == CelExpr.ExprKind.Kind.SELECT)
        .map(CelExpr::select)
        .filter(s -> s.operand().getKind() == CelExpr.ExprKind.Kind.IDENT)
        .filter(s -> FIELDS.containsKey(s.operand().ident().name()))
        .filter(s -> !FIELDS.get(s.operand().ident().name()).contains(s.field()))
        .findFirst()
        .map(s -> "CEL: " + s.operand().ident().name() + " has no field \"" + s.field() + "\" (it has: "
            + String.join(", ", FIELDS.get(s.operand().ident().name()).stream().sorted().toList()) + ")");
  }

  /**
   * Evaluates against the facts.
   *
   * @throws CelEvaluationException when evaluation fails (a missing claim, a division by zero, a
   *     non-boolean result); the caller decides which way that leans
   */
  boolean evaluate(Map<String, Object> variables) throws CelEvaluationException {
    Object result = program.eval(variables);
    if (result instanceof Boolean b) return b;
    throw new CelEvaluationException("expression did not yield a boolean");
  }

  String source() {
    return source;
  }

  @Override
  public String toString() {
    return source;
  }
}
