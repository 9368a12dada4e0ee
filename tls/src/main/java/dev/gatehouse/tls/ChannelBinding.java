package dev.gatehouse.tls;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.Certificate;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.util.Map;
import java.util.Objects;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.pkcs.RSASSAPSSparams;

/**
 * Channel-binding data of type {@code tls-server-end-point} (RFC 5929, section 4), which the
 * PostgreSQL SCRAM-SHA-256-PLUS mechanism sends so that a man in the middle holding a different
 * certificate cannot relay the authentication.
 *
 * <p>The data is the hash of the server's DER-encoded certificate. RFC 5929 section 4.1 picks the
 * hash: the one the certificate's signature algorithm uses, except that MD5 and SHA-1 are replaced
 * by SHA-256. Algorithms without a single hash function (Ed25519, Ed448) have no defined binding,
 * which PostgreSQL also refuses, so they raise a {@link TlsException}: a caller must then not offer
 * the {@code -PLUS} mechanism rather than send a value the server would compute differently.
 *
 * <p>Stateless and thread-safe.
 */
public final class ChannelBinding {
  /** Signature algorithm OID → JCA digest name, for algorithms with exactly one hash function. */
  private static final Map<String, String> DIGEST_BY_SIGNATURE = Map.ofEntries(
      Map.entry("1.2.840.113549.1.1.4", "SHA-256"), // md5WithRSAEncryption: MD5 → SHA-256
      Map.entry("1.2.840.113549.1.1.5", "SHA-256"), // sha1WithRSAEncryption: SHA-1 → SHA-256
      Map.entry("1.2.840.10045.4.1", "SHA-256"), // ecdsa-with-SHA1
      Map.entry("1.2.840.10040.4.3", "SHA-256"), // dsa-with-sha1
      Map.entry("1.2.840.113549.1.1.14", "SHA-224"),
      Map.entry("1.2.840.113549.1.1.11", "SHA-256"),
      Map.entry("1.2.840.113549.1.1.12", "SHA-384"),
      Map.entry("1.2.840.113549.1.1.13", "SHA-512"),
      Map.entry("1.2.840.10045.4.3.1", "SHA-224"),
      Map.entry("1.2.840.10045.4.3.2", "SHA-256"),
      Map.entry("1.2.840.10045.4.3.3", "SHA-384"),
      Map.entry("1.2.840.10045.4.3.4", "SHA-512"),
      Map.entry("2.16.840.1.101.3.4.3.1", "SHA-224"), // dsa-with-sha224
      Map.entry("2.16.840.1.101.3.4.3.2", "SHA-256")); // dsa-with-sha256

  /** Hash algorithm OID → JCA digest name, for the hash named inside RSASSA-PSS parameters. */
  private static final Map<String, String> DIGEST_BY_HASH = Map.of(
      "1.3.14.3.2.26", "SHA-256", // SHA-1 → SHA-256
      "2.16.840.1.101.3.4.2.4", "SHA-224",
      "2.16.840.1.101.3.4.2.1", "SHA-256",
      "2.16.840.1.101.3.4.2.2", "SHA-384",
      "2.16.840.1.101.3.4.2.3", "SHA-512");

  private ChannelBinding() {}

  /**
   * The {@code tls-server-end-point} data for {@code certificate}, the server's own (leaf)
   * certificate.
   *
   * @throws TlsException when the certificate's signature algorithm has no defined binding hash
   */
  public static byte[] tlsServerEndPoint(X509Certificate certificate) {
    Objects.requireNonNull(certificate, "certificate == null");
    String digest = digestFor(certificate);
    try {
      return MessageDigest.getInstance(digest).digest(certificate.getEncoded());
    } catch (NoSuchAlgorithmException | CertificateEncodingException e) {
      throw new TlsException("cannot compute channel binding for " + certificate.getSubjectX500Principal()
          + ": " + e.getMessage(), e);
    }
  }

  /**
   * The {@code tls-server-end-point} data of the peer's certificate on a client-side session, i.e.
   * what a SCRAM-SHA-256-PLUS client sends.
   *
   * @throws TlsException when the peer is not verified or its certificate is not X.509
   */
  public static byte[] tlsServerEndPoint(SSLSession clientSession) {
    Objects.requireNonNull(clientSession, "clientSession == null");
    Certificate[] peer;
    try {
      peer = clientSession.getPeerCertificates();
    } catch (SSLPeerUnverifiedException e) {
      throw new TlsException("no channel binding: the TLS peer is not verified", e);
    }
    if (peer.length == 0 || !(peer[0] instanceof X509Certificate leaf)) {
      throw new TlsException("no channel binding: the TLS peer presented no X.509 certificate");
    }
    return tlsServerEndPoint(leaf);
  }

  private static String digestFor(X509Certificate certificate) {
    String oid = certificate.getSigAlgOID();
    String digest = DIGEST_BY_SIGNATURE.get(oid);
    if (digest != null) return digest;
    if (PKCSObjectIdentifiers.id_RSASSA_PSS.getId().equals(oid)) {
      byte[] parameters = certificate.getSigAlgParams();
      // Absent parameters mean the RFC 4055 defaults, whose hash is SHA-1 (→ SHA-256 per RFC 5929).
      ASN1ObjectIdentifier hash = parameters == null
          ? RSASSAPSSparams.DEFAULT_HASH_ALGORITHM.getAlgorithm()
          : RSASSAPSSparams.getInstance(parameters).getHashAlgorithm().getAlgorithm();
      digest = DIGEST_BY_HASH.get(hash.getId());
      if (digest != null) return digest;
    }
    throw new TlsException("no tls-server-end-point channel binding is defined for certificate "
        + certificate.getSubjectX500Principal() + " signed with " + certificate.getSigAlgName()
        + " (" + oid + ")");
  }
}
