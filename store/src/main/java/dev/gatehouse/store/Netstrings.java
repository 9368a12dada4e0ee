package dev.gatehouse.store;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Lists and maps in one text column: each element as {@code <length>:<text>,} (length in UTF-16
 * units), a map as its keys and values alternating. Unambiguous whatever the text holds, readable in
 * a SQL console, and needs no JSON library. Decoding refuses malformed input.
 */
final class Netstrings {
  private Netstrings() {}

  static String encode(List<String> values) {
    if (values.isEmpty()) return "";
    int size = 0;
    for (String v : values) size += v.length() + 12;
    StringBuilder b = new StringBuilder(size);
    for (String v : values) b.append(v.length()).append(':').append(v).append(',');
    return b.toString();
  }

  static String encode(Map<String, String> values) {
    if (values.isEmpty()) return "";
    int size = 0;
    for (Map.Entry<String, String> e : values.entrySet()) size += e.getKey().length() + e.getValue().length() + 24;
    StringBuilder b = new StringBuilder(size);
    for (Map.Entry<String, String> e : values.entrySet()) {
      b.append(e.getKey().length()).append(':').append(e.getKey()).append(',');
      b.append(e.getValue().length()).append(':').append(e.getValue()).append(',');
    }
    return b.toString();
  }

  static List<String> decodeList(String text) {
    List<String> out = new ArrayList<>();
    int i = 0;
    while (i < text.length()) {
      int colon = text.indexOf(':', i);
      if (colon < 0 || colon == i || colon - i > 9) throw new IllegalArgumentException("malformed netstring length");
      int len = Integer.parseInt(text, i, colon, 10);
      int end = colon + 1 + len;
      if (len < 0 || end >= text.length() || text.charAt(end) != ',') throw new IllegalArgumentException("malformed netstring");
      out.add(text.substring(colon + 1, end));
      i = end + 1;
    }
    return out;
  }

  static Map<String, String> decodeMap(String text) {
    List<String> flat = decodeList(text);
    if (flat.size() % 2 != 0) throw new IllegalArgumentException("a map needs an even number of netstrings");
    Map<String, String> out = new LinkedHashMap<>();
    for (int i = 0; i < flat.size(); i += 2) out.put(flat.get(i), flat.get(i + 1));
    return out;
  }
}
