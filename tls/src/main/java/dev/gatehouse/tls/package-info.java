/**
 * TLS material for Gatehouse listeners and for connections to targets.
 *
 * <ul>
 *   <li>{@link dev.gatehouse.tls.CertificateAuthority}: a private CA and a server certificate
 *       generated into the data directory on first start, reused afterwards;
 *   <li>{@link dev.gatehouse.tls.ServerTls}: a listener's certificate chain and key, TLS 1.3/1.2,
 *       layered over accepted sockets (PostgreSQL's {@code SSLRequest}, direct TLS with ALPN);
 *   <li>{@link dev.gatehouse.tls.ClientTls}: trusted authorities and host-name verification
 *       towards targets and identity providers;
 *   <li>{@link dev.gatehouse.tls.ChannelBinding}: RFC 5929 {@code tls-server-end-point} data for
 *       SCRAM-SHA-256-PLUS;
 *   <li>{@link dev.gatehouse.tls.PemFiles}: PEM certificates and keys in, atomic 0600 files out.
 * </ul>
 *
 * <p>Depends on BouncyCastle only for certificate building and PEM parsing; it never registers a
 * global JCA provider.
 */
package dev.gatehouse.tls;
