package dev.gatehouse.postgres.wire;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gatehouse.postgres.wire.Wire.Feed;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Traffic captured from psql 15 and pgjdbc 42.7 against PostgreSQL 15 (by {@link
 * CapturedTrafficTest} with {@code -Dgatehouse.wire.vectors}), decoded without a server: fed whole
 * and byte by byte, every message decodes and encodes back to the captured bytes.
 */
class RecordedVectorsTest {

  @ParameterizedTest
  @EnumSource(Feed.class)
  void capturedPsqlSessionDecodesCompletely(Feed feed) throws IOException {
    List<FrontendMessage> sent = CapturedTrafficTest.decodeClient(vector("psql-client"), feed);
    List<BackendMessage> received = CapturedTrafficTest.decodeServer(vector("psql-server"), feed);

    assertThat(sent).hasSize(16).endsWith(Terminate.INSTANCE);
    assertThat(sent.get(1)).isEqualTo(
        new Query("SELECT 1 AS one, NULL AS nothing, 'é'::text AS accent;"));
    assertThat(received).contains(AuthenticationOk.INSTANCE, new CommandComplete("COPY 1"))
        .hasAtLeastOneElementOfType(NotificationResponse.class)
        .hasAtLeastOneElementOfType(NoticeResponse.class)
        .hasAtLeastOneElementOfType(ErrorResponse.class);
  }

  @ParameterizedTest
  @EnumSource(Feed.class)
  void capturedPgjdbcSessionDecodesCompletely(Feed feed) throws IOException {
    List<FrontendMessage> sent = CapturedTrafficTest.decodeClient(vector("pgjdbc-client"), feed);
    List<BackendMessage> received = CapturedTrafficTest.decodeServer(vector("pgjdbc-server"), feed);

    assertThat(sent).hasAtLeastOneElementOfType(Parse.class).endsWith(Terminate.INSTANCE);
    assertThat(received).contains(PortalSuspended.INSTANCE)
        .hasAtLeastOneElementOfType(RowDescription.class).contains(BindComplete.INSTANCE);
  }

  private static byte[] vector(String name) throws IOException {
    try (InputStream in = RecordedVectorsTest.class.getResourceAsStream("/captured/" + name + ".hex")) {
      String hex = new String(in.readAllBytes(), StandardCharsets.US_ASCII).replaceAll("\\s", "");
      return HexFormat.of().parseHex(hex);
    }
  }
}
