package dev.gatehouse.masking;

import java.util.Locale;
import java.util.Optional;

/**
 * A kind of sensitive value {@link Detectors} recognise inside text. Each masks only the match.
 * What each one accepts and refuses, with the ambiguous cases, is in docs/masking.md.
 */
public enum Detector {
  /** Payment card numbers: 13–19 digits, single spaces or dashes between groups, known issuer prefix, Luhn-valid. */
  CARD,
  /** E-mail addresses: ASCII local part, a dotted domain ending in an alphabetic top-level label. */
  EMAIL,
  /** Phone numbers: {@code +} and 8–15 digits (E.164, separators allowed), or North American {@code (555) 234-5678} / {@code 555-234-5678} / {@code 555.234.5678}. */
  PHONE,
  /** US social security numbers written {@code AAA-GG-SSSS}, with the SSA's validity rules. */
  SSN,
  /** IBANs: registered country length and the mod-97 checksum; plain or in groups of four. */
  IBAN,
  /** IPv4 dotted quads and IPv6 addresses (full or compressed, with an IPv4 tail). */
  IP,
  /** Cloud and SaaS credentials with a recognisable prefix: AWS key ids, Google API keys, GitHub, GitLab, Slack, Stripe, GCP private key ids. */
  CLOUD_KEY,
  /** PEM private key blocks ({@code -----BEGIN … PRIVATE KEY-----} through its END line). */
  PRIVATE_KEY,
  /** JSON Web Tokens: three base64url segments, the first starting {@code eyJ}. */
  JWT,
  /** Bearer tokens after {@code Bearer }, and values of {@code access_token}, {@code refresh_token}, {@code id_token}, {@code client_secret}, {@code api_key}. */
  BEARER_TOKEN;

  private static final Detector[] VALUES = values();

  static Detector of(int ordinal) {
    return VALUES[ordinal];
  }

  /** The name used in configuration: lower case, {@code card}, {@code cloud_key}. */
  public String configName() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** The detector a configuration name stands for. */
  public static Optional<Detector> named(String name) {
    for (Detector d : VALUES) if (d.configName().equals(name)) return Optional.of(d);
    return Optional.empty();
  }
}
