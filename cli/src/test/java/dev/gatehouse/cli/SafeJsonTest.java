package dev.gatehouse.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SafeJsonTest {
  @Test
  void charactersThatActOnTerminalsOrSplitLinesAreEscapedAndTheJsonMeansTheSame() throws Exception {
    String hostile = "a\u007fb\u0085c\u009b31md\u202ee\u2028f\u2029g\u200bh\uDB40\uDC41i😀j é\n\u001b[2J";
    String json = SafeJson.mapper().writeValueAsString(Map.of("text", hostile));
    assertThat(json.codePoints().filter(cp -> cp < 0x20 || cp > 0x7E)
        .filter(cp -> cp != 'é').count()).as(json).isZero();
    assertThat(json).contains("\\u007F", "\\u0085", "\\u009b", "\\u202e", "\\u2028", "\\u2029", "\\u200b", "é");
    assertThat(json.lines()).hasSize(1);
    assertThat(new ObjectMapper().readTree(json).get("text").asText()).isEqualTo(hostile);
  }
}
