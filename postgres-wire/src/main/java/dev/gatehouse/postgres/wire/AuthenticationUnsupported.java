package dev.gatehouse.postgres.wire;

/**
 * An authentication request for a mechanism Gatehouse does not speak: Kerberos V5 (2), GSSAPI (7),
 * GSSAPI continue (8) or SSPI (9). The GSSAPI continue data is not kept: the only correct answer
 * to any of these is to refuse the exchange.
 */
public record AuthenticationUnsupported(int code) implements Authentication {
  public AuthenticationUnsupported {
    if (code != KERBEROS_V5 && code != GSS && code != GSS_CONTINUE && code != SSPI) {
      throw new IllegalArgumentException("code is not 2, 7, 8 or 9");
    }
  }
}
