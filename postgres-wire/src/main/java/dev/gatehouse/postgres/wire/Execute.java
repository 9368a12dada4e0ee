package dev.gatehouse.postgres.wire;

/** Execute: run {@code portal}, returning at most {@code maxRows} rows (0 = no limit). */
public record Execute(String portal, int maxRows) implements FrontendMessage {
  public static final byte TYPE = 'E';

  public Execute {
    Values.text(portal, "portal");
  }
}
