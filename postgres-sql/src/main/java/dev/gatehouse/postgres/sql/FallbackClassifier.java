package dev.gatehouse.postgres.sql;

import dev.gatehouse.core.Classification;
import dev.gatehouse.core.CommandFlag;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * The classifier used when libpg_query is absent: a hand-written {@link Lexer} splits statements,
 * and a recogniser accepts ONLY these shapes, which it understands completely (no function call,
 * cast, subquery, CTE or operator beyond plain comparisons can appear in them):
 *
 * <pre>
 * SELECT [ALL|DISTINCT] * | item [AS name], ... [FROM table [[AS] alias] [join ...], ...]
 *        [WHERE cond] [ORDER BY column [ASC|DESC], ...] [LIMIT n|$n|ALL] [OFFSET n|$n]
 *   join:  [INNER|LEFT [OUTER]|RIGHT [OUTER]|FULL [OUTER]] JOIN table [[AS] alias] ON cond | CROSS JOIN table [[AS] alias]
 *   item:  column | table.* | literal | $n
 * INSERT INTO table [(column, ...)] VALUES (value, ...), ... [RETURNING items]
 * UPDATE table [AS alias] SET column = value|column, ... [WHERE cond] [RETURNING items]
 * DELETE FROM table [AS alias] [WHERE cond] [RETURNING items]
 * BEGIN|START TRANSACTION|COMMIT|END|ROLLBACK|ABORT [WORK|TRANSACTION]; SAVEPOINT s; RELEASE [SAVEPOINT] s;
 * ROLLBACK [WORK|TRANSACTION] TO [SAVEPOINT] s; SHOW name|ALL
 *   cond:  comparisons (= &lt;&gt; != &lt; &gt; &lt;= &gt;=), IS [NOT] NULL|TRUE|FALSE, [NOT] IN (values),
 *          [NOT] LIKE|ILIKE, combined with AND, OR, NOT and parentheses
 *   value: number, string, TRUE, FALSE, NULL, DEFAULT (INSERT), $n, -number
 * </pre>
 *
 * Names are unquoted identifiers that are not reserved words, or quoted identifiers; at most 63
 * bytes. Everything else, including every function call, is {@code UNCLASSIFIED} with every literal
 * redacted. It may be stricter than libpg_query, never looser: the shared test corpus checks that.
 * Stateless and thread-safe.
 */
public final class FallbackClassifier implements SqlClassifier {

  /** PostgreSQL 15 reserved, type/function-name and column-name keywords: never names here. */
  private static final Set<String> RESERVED = Set.of(
      "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "both", "case", "cast",
      "check", "collate", "column", "constraint", "create", "current_catalog", "current_date", "current_role",
      "current_time", "current_timestamp", "current_user", "default", "deferrable", "desc", "distinct", "do",
      "else", "end", "except", "false", "fetch", "for", "foreign", "from", "grant", "group", "having", "in",
      "initially", "intersect", "into", "lateral", "leading", "limit", "localtime", "localtimestamp", "not",
      "null", "offset", "on", "only", "or", "order", "placing", "primary", "references", "returning", "select",
      "session_user", "some", "symmetric", "system_user", "table", "then", "to", "trailing", "true", "union",
      "unique", "user", "using", "variadic", "when", "where", "window", "with",
      "authorization", "binary", "collation", "concurrently", "cross", "current_schema", "freeze", "full",
      "ilike", "inner", "is", "isnull", "join", "left", "like", "natural", "notnull", "outer", "overlaps",
      "right", "similar", "tablesample", "verbose",
      "between", "bigint", "bit", "boolean", "char", "character", "coalesce", "dec", "decimal", "exists",
      "extract", "float", "greatest", "grouping", "inout", "int", "integer", "interval", "least", "national",
      "nchar", "none", "normalize", "nullif", "numeric", "out", "overlay", "position", "precision", "real",
      "row", "setof", "smallint", "substring", "time", "timestamp", "treat", "trim", "values", "varchar",
      "xmlattributes", "xmlconcat", "xmlelement", "xmlexists", "xmlforest", "xmlnamespaces", "xmlparse",
      "xmlpi", "xmlroot", "xmlserialize", "xmltable",
      // unreserved, but they start clauses in the shapes above: never an alias
      "set");

  private static final Set<String> COMPARISONS = Set.of("=", "<>", "!=", "<", ">", "<=", ">=");

  @Override
  public Analysis analyze(String sql) {
    Objects.requireNonNull(sql, "sql == null");
    try {
      return split(sql);
    } catch (RuntimeException | StackOverflowError e) {
      return LibPgQueryClassifier.unclassified(sql);
    }
  }

  private Analysis split(String sql) {
    if (sql.indexOf('\0') >= 0 || LibPgQueryClassifier.hasLoneSurrogate(sql)) return LibPgQueryClassifier.unclassified(sql);
    List<Lexer.Token> tokens = Lexer.tokens(sql);
    if (!tokens.isEmpty() && tokens.get(tokens.size() - 1).kind() == Lexer.Kind.ERROR) {
      return LibPgQueryClassifier.unclassified(sql);
    }
    List<ClassifiedStatement> out = new ArrayList<>();
    int segmentStart = 0;
    List<Lexer.Token> significant = new ArrayList<>();
    for (int i = 0; i <= tokens.size(); i++) {
      Lexer.Token t = i < tokens.size() ? tokens.get(i) : null;
      if (t == null || (t.kind() == Lexer.Kind.PUNCT && t.value().equals(";"))) {
        if (!significant.isEmpty()) {
          int end = t == null ? sql.length() : t.start();
          out.add(statement(sql.substring(segmentStart, end).strip(), significant));
        }
        significant = new ArrayList<>();
        segmentStart = t == null ? sql.length() : t.end();
        continue;
      }
      if (t.kind() != Lexer.Kind.WHITESPACE && t.kind() != Lexer.Kind.COMMENT) significant.add(t);
    }
    return new Analysis(out);
  }

  private static ClassifiedStatement statement(String text, List<Lexer.Token> tokens) {
    Recogniser r = new Recogniser(tokens);
    Classification c = r.statement();
    // A write to pg_settings runs set_config through the view's rule: left to libpg_query's walker.
    if (c != null && c.has(CommandFlag.DATA_MODIFYING)
        && (c.objects().contains("pg_settings") || c.objects().contains("pg_catalog.pg_settings"))) {
      c = null;
    }
    if (c == null) {
      return new ClassifiedStatement(text, Redaction.allStrings(text), Classification.unclassified(), true);
    }
    return new ClassifiedStatement(text, text, c, false);
  }

  @Override
  public String name() {
    return "fallback";
  }

  @Override
  public String toString() {
    return "FallbackClassifier";
  }

  /** Recursive descent over one statement's significant tokens; null when the shape is not on the list. */
  private static final class Recogniser {
    private static final class NoMatch extends RuntimeException {
      NoMatch() {
        super(null, null, false, false);
      }
    }

    private final List<Lexer.Token> t;
    private int i;
    private final LinkedHashSet<String> objects = new LinkedHashSet<>();
    private int depth;
    /** Column references read so far: a WHERE that adds none selects every row or none (NO_WHERE). */
    private int columnRefs;

    Recogniser(List<Lexer.Token> tokens) {
      this.t = tokens;
    }

    Classification statement() {
      try {
        Classification c = shape();
        if (i != t.size()) return null;
        return c;
      } catch (NoMatch e) {
        return null;
      }
    }

    private Classification shape() {
      if (accept("select")) return select();
      if (accept("insert")) return insert();
      if (accept("update")) return update();
      if (accept("delete")) return delete();
      if (accept("begin")) return transaction("BEGIN", true);
      if (accept("start")) {
        expect("transaction");
        return result("START TRANSACTION", EnumSet.of(CommandFlag.TRANSACTION_CONTROL));
      }
      if (accept("commit") || accept("end")) return transaction("COMMIT", true);
      if (accept("rollback") || accept("abort")) {
        boolean abort = t.get(i - 1).value().equals("abort");
        if (!accept("work")) accept("transaction");
        if (!abort && accept("to")) {
          accept("savepoint");
          name();
        }
        return result("ROLLBACK", EnumSet.of(CommandFlag.TRANSACTION_CONTROL));
      }
      if (accept("savepoint")) {
        name();
        return result("SAVEPOINT", EnumSet.of(CommandFlag.TRANSACTION_CONTROL));
      }
      if (accept("release")) {
        accept("savepoint");
        name();
        return result("RELEASE", EnumSet.of(CommandFlag.TRANSACTION_CONTROL));
      }
      if (accept("show")) {
        if (!accept("all")) {
          name();
          while (acceptPunct(".")) name();
        }
        return result("SHOW", EnumSet.noneOf(CommandFlag.class));
      }
      throw new NoMatch();
    }

    private Classification transaction(String kind, boolean optionalNoise) {
      if (optionalNoise && !accept("work")) accept("transaction");
      return result(kind, EnumSet.of(CommandFlag.TRANSACTION_CONTROL));
    }

    private Classification select() {
      if (!accept("all")) accept("distinct");
      selectItems();
      if (accept("from")) {
        fromItem();
        while (acceptPunct(",")) fromItem();
      }
      if (accept("where")) condition();
      if (accept("order")) {
        expect("by");
        do {
          columnRef();
          if (!accept("asc")) accept("desc");
        } while (acceptPunct(","));
      }
      if (accept("limit")) {
        if (!accept("all")) countValue();
      }
      if (accept("offset")) countValue();
      return result("SELECT", EnumSet.noneOf(CommandFlag.class));
    }

    private void countValue() {
      Lexer.Token x = peek();
      if (x == null || (x.kind() != Lexer.Kind.NUMBER && x.kind() != Lexer.Kind.PARAM)) throw new NoMatch();
      i++;
    }

    private void selectItems() {
      if (acceptOperator("*")) return;
      do {
        selectItem();
      } while (acceptPunct(","));
    }

    private void selectItem() {
      // table.* : a name, a dot and a star
      if (isName(peek()) && isPunct(peek(1), ".") && isOperator(peek(2), "*")) {
        name();
        i += 2;
        return;
      }
      operand();
      if (accept("as")) name();
    }

    private void fromItem() {
      tableRef();
      while (true) {
        if (accept("cross")) {
          expect("join");
          tableRef();
          continue;
        }
        boolean join;
        if (accept("inner")) {
          expect("join");
          join = true;
        } else if (accept("left") || accept("right") || accept("full")) {
          accept("outer");
          expect("join");
          join = true;
        } else {
          join = accept("join");
        }
        if (!join) return;
        tableRef();
        expect("on");
        condition();
      }
    }

    private void tableRef() {
      table();
      // "FROM f(...)" is a function call.
      if (isPunct(peek(), "(")) throw new NoMatch();
      if (accept("as")) {
        name();
      } else if (isName(peek())) {
        name();
      }
    }

    private Classification insert() {
      expect("into");
      table();
      if (acceptPunct("(")) {
        do {
          name();
        } while (acceptPunct(","));
        expectPunct(")");
      }
      expect("values");
      do {
        expectPunct("(");
        do {
          if (!accept("default")) value();
        } while (acceptPunct(","));
        expectPunct(")");
      } while (acceptPunct(","));
      returning();
      return result("INSERT", EnumSet.of(CommandFlag.DATA_MODIFYING));
    }

    private Classification update() {
      table();
      if (accept("as")) name();
      expect("set");
      do {
        name();
        expectOperator("=");
        operand();
      } while (acceptPunct(","));
      boolean where = whereNamingColumn();
      returning();
      EnumSet<CommandFlag> flags = EnumSet.of(CommandFlag.DATA_MODIFYING);
      if (!where) flags.add(CommandFlag.NO_WHERE);
      return result("UPDATE", flags);
    }

    private Classification delete() {
      expect("from");
      table();
      if (accept("as")) name();
      boolean where = whereNamingColumn();
      returning();
      EnumSet<CommandFlag> flags = EnumSet.of(CommandFlag.DATA_MODIFYING);
      if (!where) flags.add(CommandFlag.NO_WHERE);
      return result("DELETE", flags);
    }

    /**
     * Reads an optional WHERE clause; true when there is one and it names a column ({@code WHERE true}
     * and {@code WHERE 1 = 1} keep every row or none: NO_WHERE, as libpg_query's classification says).
     */
    private boolean whereNamingColumn() {
      if (!accept("where")) return false;
      int before = columnRefs;
      condition();
      return columnRefs > before;
    }

    private void returning() {
      if (accept("returning")) selectItems();
    }

    private void condition() {
      if (++depth > 100) throw new NoMatch();
      conjunction();
      while (accept("or")) conjunction();
      depth--;
    }

    private void conjunction() {
      negation();
      while (accept("and")) negation();
    }

    private void negation() {
      if (accept("not")) {
        negation();
        return;
      }
      if (acceptPunct("(")) {
        condition();
        expectPunct(")");
        return;
      }
      operand();
      Lexer.Token x = peek();
      if (x != null && x.kind() == Lexer.Kind.OPERATOR && COMPARISONS.contains(x.value())) {
        i++;
        operand();
        return;
      }
      if (accept("is")) {
        accept("not");
        if (!(accept("null") || accept("true") || accept("false"))) throw new NoMatch();
        return;
      }
      accept("not");
      if (accept("in")) {
        expectPunct("(");
        do {
          value();
        } while (acceptPunct(","));
        expectPunct(")");
        return;
      }
      if (accept("like") || accept("ilike")) {
        operand();
        return;
      }
      throw new NoMatch();
    }

    private void operand() {
      Lexer.Token x = peek();
      if (isName(x)) {
        columnRef();
        return;
      }
      value();
    }

    private void value() {
      Lexer.Token x = peek();
      if (x == null) throw new NoMatch();
      switch (x.kind()) {
        case NUMBER, PARAM, DOLLAR_STRING -> i++;
        case STRING -> {
          // U&'...' may be followed by UESCAPE: not worth understanding here.
          if (x.value().equals("u&")) throw new NoMatch();
          i++;
        }
        case IDENT -> {
          if (!(x.value().equals("true") || x.value().equals("false") || x.value().equals("null"))) throw new NoMatch();
          i++;
        }
        case OPERATOR -> {
          // unary minus on a number; the lexer never glues "-" to a following digit
          if (!x.value().equals("-") || peek(1) == null || peek(1).kind() != Lexer.Kind.NUMBER) throw new NoMatch();
          i += 2;
        }
        default -> throw new NoMatch();
      }
    }

    private void columnRef() {
      columnRefs++;
      name();
      int parts = 1;
      while (isPunct(peek(), ".") && isName(peek(1))) {
        i++;
        // a.b.f may call f(a.b) (attribute notation): left to libpg_query's classification.
        if (Functions.calledByAttribute(name())) throw new NoMatch();
        if (++parts > 3) throw new NoMatch();
      }
      // A name followed by "(" is a function call; a name followed by a string is a typed literal.
      Lexer.Token x = peek();
      if (x != null && (isPunct(x, "(") || x.kind() == Lexer.Kind.STRING || x.kind() == Lexer.Kind.DOLLAR_STRING)) throw new NoMatch();
    }

    private void table() {
      String first = name();
      String qualified = first;
      if (acceptPunct(".")) qualified = first + "." + name();
      if (isPunct(peek(), ".")) throw new NoMatch();
      objects.add(qualified);
    }

    private String name() {
      Lexer.Token x = peek();
      if (!isName(x)) throw new NoMatch();
      i++;
      return x.value();
    }

    private static boolean isName(Lexer.Token x) {
      if (x == null) return false;
      boolean ok = (x.kind() == Lexer.Kind.IDENT && !RESERVED.contains(x.value())) || x.kind() == Lexer.Kind.QUOTED_IDENT;
      // PostgreSQL truncates longer names to 63 bytes; rather than imitate that, refuse them.
      return ok && x.value().getBytes(StandardCharsets.UTF_8).length <= 63;
    }

    private Classification result(String kind, EnumSet<CommandFlag> flags) {
      return new Classification(List.of(kind), objects, Set.of(), flags);
    }

    private Lexer.Token peek() {
      return peek(0);
    }

    private Lexer.Token peek(int ahead) {
      return i + ahead < t.size() ? t.get(i + ahead) : null;
    }

    private boolean accept(String keyword) {
      Lexer.Token x = peek();
      if (x != null && x.kind() == Lexer.Kind.IDENT && x.value().equals(keyword)) {
        i++;
        return true;
      }
      return false;
    }

    private void expect(String keyword) {
      if (!accept(keyword)) throw new NoMatch();
    }

    private boolean acceptPunct(String p) {
      if (isPunct(peek(), p)) {
        i++;
        return true;
      }
      return false;
    }

    private void expectPunct(String p) {
      if (!acceptPunct(p)) throw new NoMatch();
    }

    private boolean acceptOperator(String op) {
      if (isOperator(peek(), op)) {
        i++;
        return true;
      }
      return false;
    }

    private void expectOperator(String op) {
      if (!acceptOperator(op)) throw new NoMatch();
    }

    private static boolean isPunct(Lexer.Token x, String p) {
      return x != null && x.kind() == Lexer.Kind.PUNCT && x.value().equals(p);
    }

    private static boolean isOperator(Lexer.Token x, String op) {
      return x != null && x.kind() == Lexer.Kind.OPERATOR && x.value().equals(op);
    }
  }
}
