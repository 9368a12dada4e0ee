package dev.gatehouse.masking;

/**
 * Receives the matches of {@link Detectors#scan}, in increasing, non-overlapping order. Called on
 * the scanning thread; must not keep the buffer.
 */
@FunctionalInterface
public interface MatchSink {
  /**
   * @param start index of the match's first byte in the scanned array
   * @param end index just past the match's last byte
   */
  void match(Detector detector, int start, int end);
}
