package dev.gatehouse.postgres.sql;

/** Classifier over libpg_query. Placeholder until the JNA binding lands. */
public final class LibPgQueryClassifier implements SqlClassifier {
  private LibPgQueryClassifier() {}

  /** Loads the native library; throws {@link ClassifierException} saying why when it cannot. */
  public static LibPgQueryClassifier create() {
    throw new ClassifierException("libpg_query binding not implemented yet");
  }

  @Override
  public Analysis analyze(String sql) {
    throw new UnsupportedOperationException();
  }

  @Override
  public String name() {
    return "libpg_query";
  }
}
