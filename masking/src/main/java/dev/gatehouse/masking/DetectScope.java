package dev.gatehouse.masking;

/** Which result columns a rule's value detectors scan. */
public enum DetectScope {
  /** Only columns Gatehouse cannot trace to a base column (default). */
  UNTRACEABLE,
  /** Every column that can hold text, traced or not (unless a column rule masks it whole). */
  ALL
}
