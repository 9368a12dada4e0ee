package dev.gatehouse.policy;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * The text of one policy (or test-case) file and the name errors call it by.
 *
 * @param name the file name as the user gave it, or a resource name
 * @param text the UTF-8 decoded content
 */
public record PolicySource(String name, String text) {
  /** Name of the reference policy shipped for {@code gatehouse demo} and the documentation. */
  public static final String DEMO = "demo-policy.yaml";

  public PolicySource {
    Objects.requireNonNull(name, "name == null");
    Objects.requireNonNull(text, "text == null");
  }

  /**
   * Reads a file, refusing one larger than the policy size limit before reading it and one that is
   * not valid UTF-8.
   *
   * @throws PolicyException naming the file when it cannot be read
   */
  public static PolicySource read(Path file) {
    String name = file.toString();
    try {
      long size = Files.size(file);
      if (size > PolicyYaml.MAX_CHARS * 4L) {
        throw new PolicyException(List.of(new PolicyError(name, 0, 0, "",
            "file is " + size + " bytes, more than the policy size limit (" + PolicyYaml.MAX_CHARS + " characters)")));
      }
      return new PolicySource(name, decode(name, Files.readAllBytes(file)));
    } catch (IOException e) {
      throw new PolicyException(List.of(new PolicyError(name, 0, 0, "", "cannot read file: " + e)));
    }
  }

  /** The reference policy: the demo's, and a starting point for users. */
  public static PolicySource demo() {
    try (InputStream in = PolicySource.class.getResourceAsStream(DEMO)) {
      if (in == null) throw new IllegalStateException(DEMO + " is missing from the policy jar");
      return new PolicySource(DEMO, decode(DEMO, in.readAllBytes()));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String decode(String name, byte[] bytes) {
    try {
      return StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(bytes))
          .toString();
    } catch (CharacterCodingException e) {
      throw new PolicyException(List.of(new PolicyError(name, 0, 0, "", "file is not valid UTF-8")));
    }
  }
}
