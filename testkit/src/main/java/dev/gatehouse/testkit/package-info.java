/**
 * Fixtures every integration test uses: real targets, a real identity provider, real clients, and
 * the conformance suite every protocol module runs.
 *
 * <ul>
 *   <li>{@link dev.gatehouse.testkit.PostgresFixture}: the machine's PostgreSQL or an embedded 15.x,
 *       one per JVM, with throw-away databases ({@code GATEHOUSE_TEST_PG} chooses);
 *   <li>{@link dev.gatehouse.testkit.ScramPostgres}: a second PostgreSQL that demands SCRAM-SHA-256
 *       (and MD5 for one role), with TLS and a CA for {@code verify-full};
 *   <li>{@link dev.gatehouse.testkit.OidcFixture}: an OIDC provider over HTTP with key rotation and
 *       forged tokens;
 *   <li>{@link dev.gatehouse.testkit.Psql}: the real psql binary, bounded in time;
 *   <li>{@link dev.gatehouse.testkit.GatewayConformance} over {@link
 *       dev.gatehouse.testkit.GatewayUnderTest}: what every protocol's gateway must show.
 * </ul>
 *
 * <p>Not for production code: this module is a test-scope dependency only.
 */
package dev.gatehouse.testkit;
