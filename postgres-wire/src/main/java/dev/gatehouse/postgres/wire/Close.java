package dev.gatehouse.postgres.wire;

/** Close: close a prepared statement ({@code 'S'}) or portal ({@code 'P'}). */
public record Close(byte kind, String name) implements FrontendMessage {
  public static final byte TYPE = 'C';
  public static final byte STATEMENT = 'S';
  public static final byte PORTAL = 'P';

  public Close {
    if (kind != STATEMENT && kind != PORTAL) {
      throw new IllegalArgumentException("kind is not 'S' or 'P'");
    }
    Values.text(name, "name");
  }

  public static Close statement(String name) {
    return new Close(STATEMENT, name);
  }

  public static Close portal(String name) {
    return new Close(PORTAL, name);
  }
}
