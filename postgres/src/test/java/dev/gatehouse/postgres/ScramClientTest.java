package dev.gatehouse.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ScramClientTest {
  // RFC 7677 section 3: the SCRAM-SHA-256 exchange for user "user", password "pencil".
  private static final String CLIENT_NONCE = "rOprNGfwEbeRWgbNEkqO";
  private static final String SERVER_FIRST =
      "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
  private static final String CLIENT_FINAL =
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
          + "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
  private static final String SERVER_FINAL = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

  private static ScramClient rfcClient() {
    return new ScramClient(bytes("pencil"), Optional.empty(), false, CLIENT_NONCE, "user");
  }

  @Test
  void exchangeMatchesTheRfc7677TestVector() {
    ScramClient client = rfcClient();

    assertThat(text(client.clientFirstMessage())).isEqualTo("n,,n=user,r=" + CLIENT_NONCE);
    assertThat(text(client.clientFinalMessage(bytes(SERVER_FIRST)))).isEqualTo(CLIENT_FINAL);
    client.verifyServerFinal(bytes(SERVER_FINAL));

    assertThat(client.serverVerified()).isTrue();
    assertThat(client.mechanism()).isEqualTo("SCRAM-SHA-256");
  }

  @Test
  void serverSignatureThatDoesNotMatchIsRefused() {
    ScramClient client = rfcClient();
    client.clientFirstMessage();
    client.clientFinalMessage(bytes(SERVER_FIRST));
    String forged = "v=" + Base64.getEncoder().encodeToString(new byte[32]);

    assertThatThrownBy(() -> client.verifyServerFinal(bytes(forged)))
        .isInstanceOf(PostgresGatewayException.class)
        .hasMessageContaining("server signature is wrong")
        .satisfies(e -> assertThat(((PostgresGatewayException) e).sqlstate()).isEqualTo("28000"));
    assertThat(client.serverVerified()).isFalse();
  }

  @Test
  void serverNonceThatDoesNotExtendOursIsRefused() {
    ScramClient client = rfcClient();
    client.clientFirstMessage();

    assertThatThrownBy(
            () -> client.clientFinalMessage(bytes("r=someoneElsesNonce,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")))
        .isInstanceOf(PostgresGatewayException.class)
        .hasMessageContaining("nonce does not extend");
    // the nonce must also be longer than ours: the server contributes randomness too
    ScramClient second = rfcClient();
    second.clientFirstMessage();
    assertThatThrownBy(
            () -> second.clientFinalMessage(bytes("r=" + CLIENT_NONCE + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")))
        .hasMessageContaining("nonce does not extend");
  }

  @Test
  void mandatoryExtensionAndAbsurdIterationCountAreRefused() {
    ScramClient withExtension = rfcClient();
    withExtension.clientFirstMessage();
    assertThatThrownBy(() -> withExtension.clientFinalMessage(bytes("m=ext," + SERVER_FIRST)))
        .hasMessageContaining("server-first-message is not");

    ScramClient costly = rfcClient();
    costly.clientFirstMessage();
    assertThatThrownBy(
            () -> costly.clientFinalMessage(bytes(SERVER_FIRST.replace("i=4096", "i=2000000000"))))
        .hasMessageContaining("iteration count out of range");
  }

  @Test
  void serverErrorInFinalMessageIsReported() {
    ScramClient client = rfcClient();
    client.clientFirstMessage();
    client.clientFinalMessage(bytes(SERVER_FIRST));

    assertThatThrownBy(() -> client.verifyServerFinal(bytes("e=invalid-proof")))
        .hasMessageContaining("invalid-proof");
  }

  @Test
  void messagesOutOfOrderAreRefused() {
    ScramClient client = rfcClient();

    assertThatThrownBy(() -> client.verifyServerFinal(bytes(SERVER_FINAL)))
        .hasMessageContaining("out of order");
  }

  @Test
  void channelBindingPutsTheCertificateHashIntoTheFinalMessage() {
    byte[] certificateHash = new byte[32];
    for (int i = 0; i < 32; i++) certificateHash[i] = (byte) i;
    ScramClient client =
        new ScramClient(bytes("pencil"), Optional.of(certificateHash), false, new SecureRandom());

    assertThat(client.mechanism()).isEqualTo("SCRAM-SHA-256-PLUS");
    String first = text(client.clientFirstMessage());
    assertThat(first).startsWith("p=tls-server-end-point,,n=,r=");
    String nonce = first.substring(first.indexOf("r=") + 2);
    String clientFinal =
        text(client.clientFinalMessage(bytes("r=" + nonce + "xyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")));

    String c = clientFinal.substring(2, clientFinal.indexOf(','));
    byte[] cbind = Base64.getDecoder().decode(c);
    byte[] header = bytes("p=tls-server-end-point,,");
    assertThat(cbind).startsWith(header);
    assertThat(java.util.Arrays.copyOfRange(cbind, header.length, cbind.length))
        .isEqualTo(certificateHash);
  }

  @Test
  void tlsWithoutPlusOfferSendsTheYFlagSoAStrippedOfferIsDetected() {
    ScramClient client = new ScramClient(bytes("pencil"), Optional.empty(), true, new SecureRandom());

    assertThat(text(client.clientFirstMessage())).startsWith("y,,n=,r=");
    assertThat(client.mechanism()).isEqualTo("SCRAM-SHA-256");
  }

  @Test
  void clientNoncesAreFreshForEveryExchange() {
    SecureRandom random = new SecureRandom();
    String a = text(new ScramClient(bytes("x"), Optional.empty(), false, random).clientFirstMessage());
    String b = text(new ScramClient(bytes("x"), Optional.empty(), false, random).clientFirstMessage());

    assertThat(a).isNotEqualTo(b);
    assertThat(a.substring(a.indexOf("r=") + 2)).hasSize(24);
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static String text(byte[] b) {
    return new String(b, StandardCharsets.UTF_8);
  }
}
