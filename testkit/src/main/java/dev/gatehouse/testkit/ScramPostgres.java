package dev.gatehouse.testkit;

import dev.gatehouse.core.Secret;
import dev.gatehouse.tls.CertificateAuthority;
import dev.gatehouse.tls.PemFiles;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Properties;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A second real PostgreSQL 15 that demands passwords: the target a gateway's backend
 * authentication and TLS are tested against. Started once per JVM on first use (embedded, on a free
 * loopback port), stopped by a shutdown hook.
 *
 * <p>What it demands, from 127.0.0.1 and ::1 (pg_hba.conf, first match wins):
 *
 * <ul>
 *   <li>{@link #scramUser()}: SCRAM-SHA-256 (its password is stored as a SCRAM verifier), with or
 *       without TLS;
 *   <li>{@link #md5User()}: MD5 (its password is stored as an MD5 hash), with or without TLS;
 *   <li>{@link #tlsUser()}: SCRAM-SHA-256 over TLS only; a plaintext connection is rejected;
 *   <li>{@link #cleartextUser()}: the {@code password} method, the password sent in clear text inside
 *       the protocol (its stored form is a SCRAM verifier, which the server checks it against), with
 *       or without TLS;
 *   <li>the superuser {@code postgres}: trusted, for the fixture's own set-up through {@link
 *       #admin()} (never use it as a gateway resource's role: the gateway refuses superusers);
 *   <li>anyone else: SCRAM-SHA-256.
 * </ul>
 *
 * <p>TLS is on with a server certificate for {@code localhost}, {@code 127.0.0.1}, {@code ::1} and
 * {@link #certificateOnlyHostName()} signed by a fresh CA ({@link #caCertificateFile()}), so clients
 * can use {@code sslmode=verify-full}. The server certificate is signed with ECDSA/SHA-384, not the
 * SHA-256 of the tls module's generator: SCRAM-SHA-256-PLUS then only succeeds when a client hashes
 * the certificate with the hash of its signature (RFC 5929 section 4.1), so a client that always
 * uses SHA-256 fails against this server. Each role
 * may connect to {@link #database()}, which holds {@code public.items(id int, name text)} with three
 * rows the roles may read. Passwords are random per JVM and exposed only as {@link Secret}s.
 * Thread-safe.
 */
public final class ScramPostgres {
  private static final Logger log = LoggerFactory.getLogger(ScramPostgres.class);
  private static final String SCRAM_USER = "gatehouse_scram";
  private static final String MD5_USER = "gatehouse_md5";
  private static final String TLS_USER = "gatehouse_tls";
  private static final String CLEARTEXT_USER = "gatehouse_clear";
  private static final String CERTIFICATE_ONLY_NAME = "scram-postgres.gatehouse.test";
  private static final String DATABASE = "app";

  private static volatile ScramPostgres shared;
  // A failed start is remembered, so a broken machine costs one attempt, not one per test.
  private static TestkitException failure;

  private final PostgresFixture admin;
  private final Path caFile;
  private final X509Certificate ca;
  private final Secret scramPassword;
  private final Secret md5Password;
  private final Secret tlsPassword;
  private final Secret cleartextPassword;

  private ScramPostgres(
      PostgresFixture admin, Path caFile, X509Certificate ca, Secret scram, Secret md5, Secret tls, Secret cleartext) {
    this.admin = admin;
    this.caFile = caFile;
    this.ca = ca;
    this.scramPassword = scram;
    this.md5Password = md5;
    this.tlsPassword = tls;
    this.cleartextPassword = cleartext;
  }

  /**
   * The JVM's password-demanding server, started on first call (a few seconds).
   *
   * @throws TestkitException when it cannot be started
   */
  public static ScramPostgres shared() {
    ScramPostgres s = shared;
    if (s != null) return s;
    synchronized (ScramPostgres.class) {
      if (failure != null) throw new TestkitException(failure.getMessage(), failure);
      if (shared == null) {
        ScramPostgres started;
        try {
          started = start();
        } catch (TestkitException e) {
          failure = e;
          throw e;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(started::stop, "scram-postgres-shutdown"));
        shared = started;
      }
      return shared;
    }
  }

  /** Starts a new server, not shared (tests of the fixture); the caller {@linkplain #stop stops} it. */
  static ScramPostgres start() {
    Path dir;
    try {
      dir = Files.createTempDirectory("gatehouse-scram-pg-");
    } catch (IOException e) {
      throw new TestkitException("could not create a directory for the test CA: " + e.getMessage(), e);
    }
    // deleteOnExit runs in reverse order of registration: the files go before their directory.
    dir.toFile().deleteOnExit();
    for (String f : List.of(CertificateAuthority.CA_CERTIFICATE, CertificateAuthority.CA_KEY,
        CertificateAuthority.SERVER_CERTIFICATE, CertificateAuthority.SERVER_KEY)) {
      dir.resolve(f).toFile().deleteOnExit();
    }
    // The tls module's generator: a CA and a server certificate for localhost, 127.0.0.1, ::1 and
    // the certificate-only name; the certificate is then signed again with SHA-384 (see the javadoc).
    CertificateAuthority.Prepared pki;
    X509Certificate ca;
    try {
      pki = CertificateAuthority.prepare(dir, List.of(CERTIFICATE_ONLY_NAME));
      ca = PemFiles.readCertificates(pki.caCertificate()).getFirst();
      resignWithSha384(pki.serverCertificate(), PemFiles.readPrivateKey(dir.resolve(CertificateAuthority.CA_KEY)));
    } catch (RuntimeException e) {
      throw new TestkitException("could not generate the test CA and server certificate: " + e.getMessage(), e);
    }
    EmbeddedPostgres pg = PostgresFixture.startEmbedded(EmbeddedPostgres.builder()
        .setServerConfig("listen_addresses", "localhost")
        .setServerConfig("ssl", "on")
        .setServerConfig("ssl_cert_file", pki.serverCertificate().toString())
        .setServerConfig("ssl_key_file", pki.serverKey().toString())
        .setServerConfig("password_encryption", "scram-sha-256")
        .setServerConfig("max_connections", "200")
        // Runs after initdb, before the server starts.
        .setDataDirectoryCustomizer(dataDir -> writeHba(dataDir.toPath().resolve("pg_hba.conf"))),
        "SCRAM/TLS PostgreSQL");
    PostgresFixture admin = PostgresFixture.ofEmbedded(pg);
    Secret scram = randomPassword();
    Secret md5 = randomPassword();
    Secret tls = randomPassword();
    Secret cleartext = randomPassword();
    try {
      admin.execute("postgres", String.join(";\n",
          "SET password_encryption = 'scram-sha-256'",
          "CREATE ROLE " + SCRAM_USER + " LOGIN PASSWORD " + PostgresFixture.quoteLiteral(scram.reveal()),
          "CREATE ROLE " + TLS_USER + " LOGIN PASSWORD " + PostgresFixture.quoteLiteral(tls.reveal()),
          "CREATE ROLE " + CLEARTEXT_USER + " LOGIN PASSWORD " + PostgresFixture.quoteLiteral(cleartext.reveal()),
          // md5 is deprecated but still met in the field; the role's password must be stored as
          // an MD5 hash, or the server would silently run SCRAM instead.
          "SET password_encryption = 'md5'",
          "CREATE ROLE " + MD5_USER + " LOGIN PASSWORD " + PostgresFixture.quoteLiteral(md5.reveal())));
      admin.execute("postgres", "CREATE DATABASE " + DATABASE);
      admin.execute(DATABASE, String.join(";\n",
          "CREATE TABLE public.items (id int PRIMARY KEY, name text NOT NULL)",
          "INSERT INTO public.items VALUES (1, 'anchor'), (2, 'bolt'), (3, 'chain')",
          "GRANT SELECT ON public.items TO " + SCRAM_USER + ", " + MD5_USER + ", " + TLS_USER + ", " + CLEARTEXT_USER));
    } catch (RuntimeException e) {
      PostgresFixture failed = admin;
      failed.shutdown();
      throw new TestkitException("could not set up roles on the SCRAM/TLS PostgreSQL: " + e.getMessage(), e);
    }
    log.info("SCRAM/TLS PostgreSQL started on 127.0.0.1:{}", pg.getPort());
    return new ScramPostgres(admin, pki.caCertificate(), ca, scram, md5, tls, cleartext);
  }

  /** Replaces {@code certificateFile} by the same certificate signed by the CA with ECDSA/SHA-384. */
  private static void resignWithSha384(Path certificateFile, PrivateKey caKey) {
    X509Certificate template = PemFiles.readCertificates(certificateFile).getFirst();
    X509Certificate resigned;
    try {
      resigned = new JcaX509CertificateConverter().getCertificate(
          new JcaX509v3CertificateBuilder(template).build(new JcaContentSignerBuilder("SHA384withECDSA").build(caKey)));
    } catch (GeneralSecurityException | OperatorCreationException e) {
      throw new TestkitException("could not sign the test server certificate with SHA-384: " + e.getMessage(), e);
    }
    PemFiles.writeCertificates(certificateFile, List.of(resigned));
  }

  private static void writeHba(Path file) {
    String hba = String.join("\n",
        "# Written by dev.gatehouse.testkit.ScramPostgres. First match wins.",
        "# TYPE    DATABASE USER            ADDRESS       METHOD",
        "local     all      postgres                      trust",
        "host      all      postgres        127.0.0.1/32  trust",
        "host      all      postgres        ::1/128       trust",
        "hostnossl all      " + TLS_USER + "   all           reject",
        "host      all      " + MD5_USER + "   127.0.0.1/32  md5",
        "host      all      " + MD5_USER + "   ::1/128       md5",
        "host      all      " + CLEARTEXT_USER + " 127.0.0.1/32  password",
        "host      all      " + CLEARTEXT_USER + " ::1/128       password",
        "host      all      all             127.0.0.1/32  scram-sha-256",
        "host      all      all             ::1/128       scram-sha-256",
        "");
    try {
      Files.writeString(file, hba, StandardCharsets.US_ASCII);
    } catch (IOException e) {
      throw new TestkitException("could not write " + file + ": " + e.getMessage(), e);
    }
  }

  private static Secret randomPassword() {
    byte[] b = new byte[18];
    new SecureRandom().nextBytes(b);
    return Secret.of("pw-" + HexFormat.of().formatHex(b));
  }

  /** Stops the server. */
  void stop() {
    admin.shutdown();
  }

  /** {@code 127.0.0.1}. */
  public String host() {
    return admin.host();
  }

  public int port() {
    return admin.port();
  }

  /** The database every role may connect to. */
  public String database() {
    return DATABASE;
  }

  /** A role that must authenticate with SCRAM-SHA-256; not a superuser, may read public.items. */
  public String scramUser() {
    return SCRAM_USER;
  }

  public Secret scramPassword() {
    return scramPassword;
  }

  /** A role that must authenticate with MD5; not a superuser, may read public.items. */
  public String md5User() {
    return MD5_USER;
  }

  public Secret md5Password() {
    return md5Password;
  }

  /** A role that must authenticate with SCRAM-SHA-256 over TLS; plaintext is rejected (28000). */
  public String tlsUser() {
    return TLS_USER;
  }

  public Secret tlsPassword() {
    return tlsPassword;
  }

  /**
   * A role the server asks for its password in clear text (pg_hba.conf method {@code password});
   * not a superuser, may read public.items.
   */
  public String cleartextUser() {
    return CLEARTEXT_USER;
  }

  public Secret cleartextPassword() {
    return cleartextPassword;
  }

  /**
   * A host name the server certificate carries besides the loopback names, which no DNS resolves:
   * connect to {@link #host()} and verify the certificate against this name, to prove that a
   * client checks the configured name rather than the address it dialled.
   */
  public String certificateOnlyHostName() {
    return CERTIFICATE_ONLY_NAME;
  }

  /** The PEM file of the CA that signed the server's certificate (libpq's {@code sslrootcert}). */
  public Path caCertificateFile() {
    return caFile;
  }

  public X509Certificate caCertificate() {
    return ca;
  }

  /** Superuser access to this server, for set-up: databases, tables, grants. */
  public PostgresFixture admin() {
    return admin;
  }

  /**
   * A JDBC connection as one of the roles, verifying the server's certificate when {@code tls}.
   *
   * @throws TestkitException with the server's message (never the password) when refused
   */
  public Connection connect(String user, Secret password, boolean tls) {
    Objects.requireNonNull(user, "user == null");
    Objects.requireNonNull(password, "password == null");
    Properties p = new Properties();
    p.setProperty("user", user);
    p.setProperty("password", password.reveal());
    p.setProperty("connectTimeout", "10");
    p.setProperty("sslmode", tls ? "verify-full" : "disable");
    if (tls) p.setProperty("sslrootcert", caFile.toString());
    try {
      return DriverManager.getConnection("jdbc:postgresql://" + host() + ":" + port() + "/" + DATABASE, p);
    } catch (SQLException e) {
      throw new TestkitException("connecting as " + user + " (tls=" + tls + ") failed: " + e.getMessage()
          + " [SQLSTATE " + e.getSQLState() + "]", e);
    }
  }

  @Override
  public String toString() {
    return "ScramPostgres[127.0.0.1:" + port() + "]";
  }
}
