package dev.gatehouse.audit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AuditSignerTest {
  @TempDir Path tmp;

  @Test
  void aMissingKeyFileIsCreatedReadableOnlyByItsOwner() throws Exception {
    Path key = tmp.resolve("keys/audit.key");
    AuditSigner signer = AuditSigner.loadOrCreate(key);
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(key))).isEqualTo("rw-------");
    assertThat(Files.readString(key)).contains("BEGIN PRIVATE KEY").contains("BEGIN PUBLIC KEY");
    assertThat(Files.readString(tmp.resolve("keys/audit.key.pub"))).doesNotContain("PRIVATE");
    assertThat(signer.toString()).isEqualTo("AuditSigner[keyId=" + signer.keyId() + "]");
  }

  @Test
  void anExistingKeyIsLoadedAndItsPublicFileVerifiesItsCheckpoints() {
    Path key = tmp.resolve("audit.key");
    AuditSigner created = AuditSigner.loadOrCreate(key);
    AuditSigner loaded = AuditSigner.loadOrCreate(key);
    assertThat(loaded.keyId()).isEqualTo(created.keyId());
    SignedCheckpoint c = SignedCheckpoint.sign(loaded, "gw-1:ab", 7, AuditEvent.GENESIS, Instant.now());
    assertThat(c.verifiedBy(AuditSigner.readPublicKey(tmp.resolve("audit.key.pub")))).isTrue();
    assertThat(c.verifiedBy(AuditSigner.generate().publicKey())).isFalse();
  }

  @Test
  void aCheckpointDoesNotVerifyOnceAnyOfItsFieldsChanged() {
    AuditSigner signer = AuditSigner.generate();
    SignedCheckpoint c = SignedCheckpoint.sign(signer, "gw-1:ab", 7, AuditEvent.GENESIS, Instant.now());
    assertThat(new SignedCheckpoint(c.chainId(), 8, c.hash(), c.time(), c.keyId(), c.signature()).verifiedBy(signer.publicKey())).isFalse();
    assertThat(new SignedCheckpoint("gw-1:ac", 7, c.hash(), c.time(), c.keyId(), c.signature()).verifiedBy(signer.publicKey())).isFalse();
    assertThat(new SignedCheckpoint(c.chainId(), 7, c.hash(), c.time().plusNanos(1000), c.keyId(), c.signature())
        .verifiedBy(signer.publicKey())).isFalse();
    assertThat(new SignedCheckpoint(c.chainId(), 7, c.hash(), c.time(), c.keyId(), "not base64!").verifiedBy(signer.publicKey())).isFalse();
  }

  @Test
  void aKeyFileOthersCanReadIsRefused() throws Exception {
    Path key = tmp.resolve("audit.key");
    AuditSigner.loadOrCreate(key);
    Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-r--r--"));
    assertThatThrownBy(() -> AuditSigner.loadOrCreate(key))
        .isInstanceOf(AuditException.class)
        .hasMessageContaining("chmod 600")
        .hasMessageNotContaining("BEGIN");
  }

  @Test
  void aKeyFileThatIsNotAKeyIsRefusedWithoutEchoingIt() throws Exception {
    Path key = tmp.resolve("audit.key");
    Files.writeString(key, "hunter2");
    Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-------"));
    assertThatThrownBy(() -> AuditSigner.loadOrCreate(key))
        .isInstanceOf(AuditException.class)
        .hasMessageContaining("no valid PRIVATE KEY block")
        .hasMessageNotContaining("hunter2");
  }
}
