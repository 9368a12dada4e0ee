package dev.gatehouse.cli;

import com.fasterxml.jackson.core.SerializableString;
import com.fasterxml.jackson.core.io.CharacterEscapes;
import com.fasterxml.jackson.core.io.SerializedString;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

/**
 * The JSON the CLI prints for scripts: audit events carry text clients chose (statements, user
 * names), so besides what JSON itself requires, every character that can act on a terminal or split
 * a line for a reader that splits on more than {@code \n} is written as a {@code \\uXXXX} escape:
 * DEL and the C1 controls (U+0080–U+009F, among them NEL and the one-byte CSI), format characters
 * (bidi overrides, zero-width ones), the line and paragraph separators U+2028/U+2029, and every
 * character outside the Basic Multilingual Plane (tag characters among them). The JSON means the
 * same; only its bytes are plain.
 */
final class SafeJson {
  private SafeJson() {}

  static ObjectMapper mapper() {
    ObjectMapper mapper = new ObjectMapper().disable(SerializationFeature.FAIL_ON_EMPTY_BEANS);
    mapper.getFactory().setCharacterEscapes(new Escapes());
    return mapper;
  }

  private static final class Escapes extends CharacterEscapes {
    private final int[] ascii;

    Escapes() {
      ascii = CharacterEscapes.standardAsciiEscapesForJSON();
      ascii[0x7F] = CharacterEscapes.ESCAPE_STANDARD;
    }

    @Override
    public int[] getEscapeCodesForAscii() {
      return ascii;
    }

    @Override
    public SerializableString getEscapeSequence(int ch) {
      if (!unsafe(ch)) return null;
      return new SerializedString(String.format("\\u%04x", ch));
    }

    private static boolean unsafe(int ch) {
      if (ch < 0xA0) return true; // 0x80-0x9F: C1 controls (ASCII is handled by the table above)
      return switch (Character.getType(ch)) {
        case Character.FORMAT, Character.LINE_SEPARATOR, Character.PARAGRAPH_SEPARATOR, Character.SURROGATE,
            Character.UNASSIGNED, Character.CONTROL, Character.PRIVATE_USE -> true;
        default -> false;
      };
    }
  }
}
