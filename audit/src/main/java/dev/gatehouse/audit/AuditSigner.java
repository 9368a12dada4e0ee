package dev.gatehouse.audit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.Base64;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Ed25519 key that signs checkpoints. It lives in a file outside the store (so write access to
 * the store is not enough to forge a checkpoint): PEM, the PKCS#8 private key followed by the X.509
 * public key, created with mode 0600 on first start. Its public half is also written to {@code
 * <file>.pub}, which is all {@link AuditVerifier} needs.
 *
 * <p>A key file that group or others may read is refused (as OpenSSH refuses such keys): whoever can
 * read it can recompute a chain undetectably. Thread-safe; {@link #toString()} shows only the key id.
 */
public final class AuditSigner {
  private static final Pattern PEM = Pattern.compile(
      "-----BEGIN ([A-Z ]+)-----\\s*([A-Za-z0-9+/=\\s]+?)\\s*-----END \\1-----");

  private final PrivateKey privateKey;
  private final PublicKey publicKey;
  private final String keyId;

  private AuditSigner(PrivateKey privateKey, PublicKey publicKey) {
    this.privateKey = privateKey;
    this.publicKey = publicKey;
    this.keyId = keyId(publicKey);
  }

  /** A fresh key held only in memory (tests, and verifiers that need a signer of their own). */
  public static AuditSigner generate() {
    try {
      KeyPair pair = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
      return new AuditSigner(pair.getPrivate(), pair.getPublic());
    } catch (GeneralSecurityException e) {
      throw new AuditException("this JDK cannot generate Ed25519 keys", e);
    }
  }

  /**
   * Loads the key at {@code file}, or creates it (mode 0600, parent directories as needed) when the
   * file does not exist, and (re)writes the public key next to it as {@code <file>.pub}.
   *
   * @throws AuditException when the file cannot be read or created, is not an Ed25519 key written by
   *     Gatehouse, or is readable by group or others
   */
  public static AuditSigner loadOrCreate(Path file) {
    Objects.requireNonNull(file, "file == null");
    AuditSigner signer;
    if (Files.exists(file)) {
      signer = load(file);
    } else {
      signer = generate();
      try {
        create(file, signer);
      } catch (FileAlreadyExistsException raced) {
        signer = load(file); // another process created it first: use theirs
      } catch (IOException e) {
        throw new AuditException("cannot create the audit signing key file " + file + ": " + e.getMessage(), e);
      }
    }
    Path pub = file.resolveSibling(file.getFileName() + ".pub");
    try {
      Files.writeString(pub, publicKeyPem(signer.publicKey), StandardCharsets.US_ASCII);
    } catch (IOException e) {
      throw new AuditException("cannot write the audit public key file " + pub + ": " + e.getMessage(), e);
    }
    return signer;
  }

  /**
   * Reads the public key from a {@code .pub} file written by {@link #loadOrCreate}, or from the key
   * file itself (its public part).
   */
  public static PublicKey readPublicKey(Path file) {
    String text = read(file);
    byte[] der = block(text, "PUBLIC KEY", file);
    try {
      return KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(der));
    } catch (GeneralSecurityException e) {
      throw new AuditException("the audit public key in " + file + " is not an Ed25519 key", e);
    }
  }

  /** A short, stable name for a public key: the first 16 hex digits of SHA-256 of its encoding. */
  public static String keyId(PublicKey key) {
    return HexFormat.of().formatHex(CanonicalEncoding.sha256(key.getEncoded())).substring(0, 16);
  }

  /** The public key in PEM, as written to {@code <file>.pub}. */
  public static String publicKeyPem(PublicKey key) {
    return pem("PUBLIC KEY", key.getEncoded());
  }

  public PublicKey publicKey() {
    return publicKey;
  }

  public String keyId() {
    return keyId;
  }

  byte[] sign(byte[] payload) {
    try {
      Signature s = Signature.getInstance("Ed25519");
      s.initSign(privateKey);
      s.update(payload);
      return s.sign();
    } catch (GeneralSecurityException e) {
      throw new AuditException("cannot sign an audit checkpoint with Ed25519", e);
    }
  }

  @Override
  public String toString() {
    return "AuditSigner[keyId=" + keyId + "]";
  }

  private static AuditSigner load(Path file) {
    refuseLoosePermissions(file);
    String text = read(file);
    try {
      KeyFactory factory = KeyFactory.getInstance("Ed25519");
      PrivateKey priv = factory.generatePrivate(new PKCS8EncodedKeySpec(block(text, "PRIVATE KEY", file)));
      PublicKey pub = factory.generatePublic(new X509EncodedKeySpec(block(text, "PUBLIC KEY", file)));
      AuditSigner signer = new AuditSigner(priv, pub);
      // A file whose halves do not belong together would sign checkpoints no verifier accepts.
      SignedCheckpoint probe = SignedCheckpoint.sign(signer, "probe", 1, AuditEvent.GENESIS, java.time.Instant.EPOCH);
      if (!probe.verifiedBy(pub)) {
        throw new AuditException("the audit key file " + file + " holds a public key that does not match its private key");
      }
      return signer;
    } catch (GeneralSecurityException e) {
      throw new AuditException("the audit key file " + file + " does not hold an Ed25519 key pair", e);
    }
  }

  private static void create(Path file, AuditSigner signer) throws IOException {
    Path parent = file.toAbsolutePath().getParent();
    if (parent != null) Files.createDirectories(parent);
    String content = pem("PRIVATE KEY", signer.privateKey.getEncoded()) + publicKeyPem(signer.publicKey);
    boolean posix = Files.getFileStore(parent).supportsFileAttributeView("posix");
    if (posix) {
      // Created with 0600 in one step: the key is never readable by others, not even briefly.
      Files.createFile(file, PosixFilePermissions.asFileAttribute(EnumSet.of(
          PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE)));
    } else {
      Files.createFile(file);
    }
    try (var channel = Files.newByteChannel(file, StandardOpenOption.WRITE)) {
      channel.write(java.nio.ByteBuffer.wrap(content.getBytes(StandardCharsets.US_ASCII)));
    }
  }

  private static void refuseLoosePermissions(Path file) {
    try {
      if (!Files.getFileStore(file).supportsFileAttributeView("posix")) return;
      Set<PosixFilePermission> perms = Files.getPosixFilePermissions(file);
      for (PosixFilePermission p : perms) {
        if (p.name().startsWith("GROUP_") || p.name().startsWith("OTHERS_")) {
          throw new AuditException("the audit key file " + file + " is accessible by group or others ("
              + PosixFilePermissions.toString(perms) + "); restrict it to its owner (chmod 600)");
        }
      }
    } catch (IOException e) {
      throw new AuditException("cannot read the permissions of the audit key file " + file + ": " + e.getMessage(), e);
    }
  }

  private static String read(Path file) {
    try {
      return Files.readString(file, StandardCharsets.US_ASCII);
    } catch (IOException e) {
      throw new AuditException("cannot read the audit key file " + file + ": " + e.getMessage(), e);
    }
  }

  private static byte[] block(String text, String type, Path file) {
    Matcher m = PEM.matcher(text);
    while (m.find()) {
      if (m.group(1).equals(type)) {
        try {
          return Base64.getMimeDecoder().decode(m.group(2));
        } catch (IllegalArgumentException e) {
          break;
        }
      }
    }
    throw new AuditException("the audit key file " + file + " has no valid " + type + " block");
  }

  private static String pem(String type, byte[] der) {
    return "-----BEGIN " + type + "-----\n"
        + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der)
        + "\n-----END " + type + "-----\n";
  }
}
