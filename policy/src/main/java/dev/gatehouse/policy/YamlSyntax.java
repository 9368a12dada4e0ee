package dev.gatehouse.policy;

import java.util.Optional;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;

/**
 * What a YAML syntax error is, and where: SnakeYAML's message starts with the context ("while
 * parsing a block mapping", at the block's first line) and says the problem itself ("expected
 * &lt;block end&gt;, but found '&lt;block mapping start&gt;'", at the offending line) only after it;
 * Jackson hands on the whole as one message. Shared by the policy and configuration loaders.
 */
public final class YamlSyntax {
  private YamlSyntax() {}

  /**
   * A YAML syntax problem.
   *
   * @param line 1-based line of the problem, 0 when unknown
   * @param column 1-based column, 0 when unknown
   */
  public record Problem(String message, int line, int column) {}

  /** The syntax problem behind {@code e} (or its causes), when it is one SnakeYAML located. */
  public static Optional<Problem> of(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof MarkedYAMLException m && m.getProblem() != null) {
        Mark mark = m.getProblemMark() != null ? m.getProblemMark() : m.getContextMark();
        String context = m.getContext() == null ? "" : " (" + m.getContext().strip()
            + (m.getContextMark() == null ? "" : " that starts at line " + (m.getContextMark().getLine() + 1)) + ")";
        return Optional.of(new Problem(m.getProblem().strip() + context,
            mark == null ? 0 : mark.getLine() + 1, mark == null ? 0 : mark.getColumn() + 1));
      }
    }
    return Optional.empty();
  }
}
