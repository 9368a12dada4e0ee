/**
 * Who is calling: OIDC/JWT verification for people and machines.
 *
 * <ul>
 *   <li>{@link dev.gatehouse.identity.TrustedIssuer} and {@link dev.gatehouse.identity.ClaimMapping}:
 *       configuration records, one per trusted provider (built from YAML by the server module);
 *   <li>{@link dev.gatehouse.identity.OidcAuthenticator}: the {@link dev.gatehouse.core.Authenticator}
 *       that verifies tokens against those issuers (discovery, cached and rate-limited JWKS, an
 *       asymmetric algorithm allow-list, {@code iss}, {@code aud}, {@code exp}, {@code nbf});
 *   <li>{@link dev.gatehouse.identity.DevelopmentIssuer}: an in-process provider for demos only.
 * </ul>
 *
 * <p>A rejected token raises {@link dev.gatehouse.core.AuthenticationException} with a message safe
 * to show the caller; unusable configuration raises {@link dev.gatehouse.identity.IdentityException}.
 */
package dev.gatehouse.identity;
