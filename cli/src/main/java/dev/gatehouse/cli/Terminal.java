package dev.gatehouse.cli;

/** Plain terminal styling, off when output is not a terminal or NO_COLOR is set. */
final class Terminal {
  private final boolean color;

  Terminal() {
    this.color = System.console() != null && System.getenv("NO_COLOR") == null;
  }

  String bold(String s) {
    return color ? "\u001b[1m" + s + "\u001b[0m" : s;
  }

  String dim(String s) {
    return color ? "\u001b[2m" + s + "\u001b[0m" : s;
  }
}
