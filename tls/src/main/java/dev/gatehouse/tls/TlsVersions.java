package dev.gatehouse.tls;

import java.util.Arrays;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;

/**
 * The protocol versions and cipher suites every Gatehouse TLS endpoint offers, in one place so
 * listeners and target connections cannot drift apart: TLS 1.3 and 1.2 only, and for 1.2 only
 * ECDHE key exchange with an AEAD cipher (forward secrecy, no CBC padding oracles).
 */
final class TlsVersions {
  static final String[] PROTOCOLS = {"TLSv1.3", "TLSv1.2"};

  private TlsVersions() {}

  /** Fresh parameters for {@code context} restricted to the protocols and suites above. */
  static SSLParameters restrictedParameters(SSLContext context) {
    SSLParameters parameters = context.getDefaultSSLParameters();
    parameters.setProtocols(PROTOCOLS.clone());
    // Keep the JDK's preference order, which puts the strongest suites first.
    parameters.setCipherSuites(Arrays.stream(parameters.getCipherSuites())
        .filter(TlsVersions::acceptable)
        .toArray(String[]::new));
    return parameters;
  }

  private static boolean acceptable(String suite) {
    if (suite.startsWith("TLS_AES_") || suite.startsWith("TLS_CHACHA20_")) return true; // TLS 1.3
    return suite.startsWith("TLS_ECDHE_") && (suite.contains("_GCM_") || suite.contains("_CHACHA20_"));
  }

  static SSLContext newContext() {
    try {
      return SSLContext.getInstance("TLS");
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new TlsException("this JDK provides no TLS implementation", e);
    }
  }
}
