package dev.gatehouse.tls;

import java.io.IOException;
import java.io.Reader;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.PrivateKey;
import java.security.cert.CertificateEncodingException;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.openssl.PEMEncryptedKeyPair;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;

/**
 * Reads and writes PEM files: certificate chains and private keys.
 *
 * <p>Private keys are read in the three forms people actually have on disk: PKCS#8 ({@code PRIVATE
 * KEY}), and the OpenSSL "traditional" forms {@code EC PRIVATE KEY} (optionally preceded by an
 * {@code EC PARAMETERS} block) and {@code RSA PRIVATE KEY}. Encrypted keys are refused with a
 * message saying so, because a gateway that starts unattended has nowhere to get a passphrase from.
 *
 * <p>Files are written atomically (a temporary file in the same directory, flushed, then renamed),
 * private keys with permissions 0600 from the moment the file exists, so a crash never leaves a
 * truncated or briefly world-readable key behind.
 *
 * <p>Stateless and thread-safe.
 */
public final class PemFiles {
  private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");
  private static final Set<PosixFilePermission> WORLD_READABLE = PosixFilePermissions.fromString("rw-r--r--");

  private PemFiles() {}

  /**
   * Reads every certificate in {@code file}, in file order (leaf first for a chain).
   *
   * @throws TlsException naming the file when it is missing, unreadable, not PEM, or holds no
   *     certificate
   */
  public static List<X509Certificate> readCertificates(Path file) {
    Objects.requireNonNull(file, "file == null");
    List<X509Certificate> certificates = new ArrayList<>();
    JcaX509CertificateConverter converter = new JcaX509CertificateConverter();
    try (PEMParser parser = new PEMParser(open(file))) {
      Object object;
      while ((object = readObject(parser, file)) != null) {
        if (object instanceof X509CertificateHolder holder) {
          certificates.add(converter.getCertificate(holder));
        }
        // Other blocks (keys, parameters) may legitimately share a bundle file; they are not ours.
      }
    } catch (IOException e) {
      throw new TlsException(file + ": cannot read certificates: " + e.getMessage(), e);
    } catch (CertificateException e) {
      throw new TlsException(file + ": contains a certificate that cannot be decoded: " + e.getMessage(), e);
    }
    if (certificates.isEmpty()) {
      throw new TlsException(file + ": no certificate found (expected a PEM 'BEGIN CERTIFICATE' block)");
    }
    return List.copyOf(certificates);
  }

  /**
   * Reads the single private key in {@code file}.
   *
   * @throws TlsException naming the file when it is missing, unreadable, not PEM, encrypted, or does
   *     not hold exactly one private key
   */
  public static PrivateKey readPrivateKey(Path file) {
    Objects.requireNonNull(file, "file == null");
    JcaPEMKeyConverter converter = new JcaPEMKeyConverter();
    PrivateKey key = null;
    try (PEMParser parser = new PEMParser(open(file))) {
      Object object;
      while ((object = readObject(parser, file)) != null) {
        PrivateKey found;
        if (object instanceof PrivateKeyInfo info) {
          found = converter.getPrivateKey(info);
        } else if (object instanceof PEMKeyPair pair) {
          // The public half inside an "EC PRIVATE KEY" is optional (RFC 5915), so only the private part is used.
          found = converter.getPrivateKey(pair.getPrivateKeyInfo());
        } else if (object instanceof PKCS8EncryptedPrivateKeyInfo || object instanceof PEMEncryptedKeyPair) {
          throw new TlsException(file + ": the private key is encrypted, which is not supported; store it"
              + " unencrypted with permissions 0600 (for example: openssl pkey -in encrypted.key -out "
              + file.getFileName() + ")");
        } else if (object instanceof ASN1ObjectIdentifier || object instanceof X509CertificateHolder) {
          continue; // "EC PARAMETERS" before an EC key, or a certificate in a combined file
        } else {
          throw new TlsException(file + ": unexpected PEM block of type " + object.getClass().getSimpleName()
              + " where a private key was expected");
        }
        if (key != null) {
          throw new TlsException(file + ": holds more than one private key; keep exactly one per file");
        }
        key = found;
      }
    } catch (IOException e) {
      throw new TlsException(file + ": cannot read the private key: " + e.getMessage(), e);
    }
    if (key == null) {
      throw new TlsException(file + ": no private key found (expected a PEM 'PRIVATE KEY', "
          + "'EC PRIVATE KEY' or 'RSA PRIVATE KEY' block)");
    }
    return key;
  }

  /** Writes {@code certificates} as PEM to {@code file} atomically, readable by everyone (0644). */
  public static void writeCertificates(Path file, List<X509Certificate> certificates) {
    Objects.requireNonNull(file, "file == null");
    if (certificates.isEmpty()) throw new IllegalArgumentException("certificates is empty");
    StringBuilder pem = new StringBuilder();
    for (X509Certificate certificate : certificates) {
      try {
        pem.append(block("CERTIFICATE", certificate.getEncoded()));
      } catch (CertificateEncodingException e) {
        throw new TlsException(file + ": cannot encode certificate " + certificate.getSubjectX500Principal(), e);
      }
    }
    writeAtomically(file, pem.toString().getBytes(StandardCharsets.US_ASCII), WORLD_READABLE);
  }

  /** Writes {@code key} as an unencrypted PKCS#8 PEM to {@code file} atomically, with permissions 0600. */
  public static void writePrivateKey(Path file, PrivateKey key) {
    Objects.requireNonNull(file, "file == null");
    byte[] encoded = key.getEncoded();
    if (encoded == null || !"PKCS#8".equals(key.getFormat())) {
      throw new TlsException(file + ": the " + key.getAlgorithm() + " key cannot be exported as PKCS#8");
    }
    writeAtomically(file, block("PRIVATE KEY", encoded).getBytes(StandardCharsets.US_ASCII), OWNER_ONLY);
  }

  private static Reader open(Path file) {
    try {
      return Files.newBufferedReader(file, StandardCharsets.US_ASCII);
    } catch (NoSuchFileException e) {
      throw new TlsException(file + ": file does not exist", e);
    } catch (IOException e) {
      throw new TlsException(file + ": cannot open: " + e.getMessage(), e);
    }
  }

  private static Object readObject(PEMParser parser, Path file) {
    try {
      return parser.readObject();
    } catch (IOException e) {
      throw new TlsException(file + ": not a valid PEM file: " + e.getMessage(), e);
    }
  }

  private static String block(String type, byte[] der) {
    String body = Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der);
    return "-----BEGIN " + type + "-----\n" + body + "\n-----END " + type + "-----\n";
  }

  private static void writeAtomically(Path file, byte[] content, Set<PosixFilePermission> permissions) {
    Path target = file.toAbsolutePath();
    Path directory = target.getParent();
    Path temporary = null;
    try {
      Files.createDirectories(directory);
      temporary = createTemporary(directory, target.getFileName().toString(), permissions);
      try (FileChannel channel = FileChannel.open(temporary, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
        channel.write(java.nio.ByteBuffer.wrap(content));
        channel.force(true);
      }
      try {
        Files.move(temporary, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(temporary, target, StandardCopyOption.REPLACE_EXISTING);
      }
      temporary = null;
    } catch (IOException e) {
      throw new TlsException(target + ": cannot write: " + e.getMessage(), e);
    } finally {
      if (temporary != null) {
        try {
          Files.deleteIfExists(temporary);
        } catch (IOException ignored) {
          // the write already failed and says so; a stray temporary file is the lesser problem
        }
      }
    }
  }

  private static Path createTemporary(Path directory, String name, Set<PosixFilePermission> permissions)
      throws IOException {
    // The permissions are set at creation, so a key is never readable by others, not even briefly.
    FileAttribute<Set<PosixFilePermission>> attribute = PosixFilePermissions.asFileAttribute(permissions);
    for (int attempt = 0; ; attempt++) {
      Path candidate = directory.resolve("." + name + "." + Long.toHexString(System.nanoTime()) + attempt + ".tmp");
      try {
        Path created = Files.createFile(candidate, attribute);
        Files.setPosixFilePermissions(created, permissions); // the umask may have narrowed a certificate's
        return created;
      } catch (UnsupportedOperationException e) {
        return Files.createFile(candidate); // not a POSIX file system (Windows): ACLs inherit from the directory
      } catch (FileAlreadyExistsException e) {
        if (attempt > 10) throw e;
      }
    }
  }
}
