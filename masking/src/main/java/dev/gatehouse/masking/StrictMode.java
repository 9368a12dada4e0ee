package dev.gatehouse.masking;

/**
 * What a rule does when a statement reads one of its masked columns through something Gatehouse
 * cannot trace (an expression, a function, a UNION, a temporary table), or copies it somewhere
 * masking cannot follow (a write, an SQL string).
 */
public enum StrictMode {
  /** Untraceable result columns are masked entirely with the rule's style; copying is refused. (Default.) */
  MASK,
  /** The statement is refused. */
  DENY,
  /** Untraceable columns get the value detectors only; copying is allowed. Not recommended. */
  OFF
}
