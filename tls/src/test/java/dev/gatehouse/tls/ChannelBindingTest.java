package dev.gatehouse.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.security.MessageDigest;
import org.junit.jupiter.api.Test;

class ChannelBindingTest {
  @Test
  void certificateSignedWithSha384IsHashedWithSha384() throws Exception {
    SelfSigned certificate = SelfSigned.create("EC", "SHA384withECDSA", "db.test");

    byte[] binding = ChannelBinding.tlsServerEndPoint(certificate.certificate());

    assertThat(binding)
        .hasSize(48)
        .isEqualTo(MessageDigest.getInstance("SHA-384").digest(certificate.certificate().getEncoded()));
  }

  @Test
  void certificateSignedWithSha1IsHashedWithSha256() throws Exception {
    SelfSigned certificate = SelfSigned.create("RSA", "SHA1withRSA", "old.test");

    assertThat(ChannelBinding.tlsServerEndPoint(certificate.certificate()))
        .isEqualTo(MessageDigest.getInstance("SHA-256").digest(certificate.certificate().getEncoded()));
  }

  @Test
  void rsaPssCertificateUsesTheHashNamedInItsParameters() throws Exception {
    SelfSigned certificate = SelfSigned.create("RSA", "SHA512withRSAandMGF1", "pss.test");

    assertThat(ChannelBinding.tlsServerEndPoint(certificate.certificate()))
        .isEqualTo(MessageDigest.getInstance("SHA-512").digest(certificate.certificate().getEncoded()));
  }

  @Test
  void ed25519CertificateHasNoDefinedBindingAndSaysSo() throws Exception {
    SelfSigned certificate = SelfSigned.create("Ed25519", "Ed25519", "ed.test");

    assertThatThrownBy(() -> ChannelBinding.tlsServerEndPoint(certificate.certificate()))
        .isInstanceOf(TlsException.class)
        .hasMessageContaining("no tls-server-end-point channel binding")
        .hasMessageContaining("Ed25519");
  }
}
