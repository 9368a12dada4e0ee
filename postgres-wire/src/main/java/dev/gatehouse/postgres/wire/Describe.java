package dev.gatehouse.postgres.wire;

/** Describe: ask for the description of a prepared statement ({@code 'S'}) or portal ({@code 'P'}). */
public record Describe(byte kind, String name) implements FrontendMessage {
  public static final byte TYPE = 'D';
  public static final byte STATEMENT = 'S';
  public static final byte PORTAL = 'P';

  public Describe {
    if (kind != STATEMENT && kind != PORTAL) {
      throw new IllegalArgumentException("kind is not 'S' or 'P'");
    }
    Values.text(name, "name");
  }

  public static Describe statement(String name) {
    return new Describe(STATEMENT, name);
  }

  public static Describe portal(String name) {
    return new Describe(PORTAL, name);
  }
}
