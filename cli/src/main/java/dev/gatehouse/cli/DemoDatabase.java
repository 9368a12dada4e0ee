package dev.gatehouse.cli;

import dev.gatehouse.core.Secret;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HexFormat;
import java.util.Properties;

/**
 * The demo's target: an embedded PostgreSQL 15 (nothing to install but a JDK) holding a small shop
 * with personal data. The gateway logs in as {@code gatehouse_demo}, an unprivileged role that owns
 * the demo tables and must authenticate with SCRAM-SHA-256; its password is random per start and
 * known only to the gateway.
 */
final class DemoDatabase implements AutoCloseable {
  static final String ROLE = "gatehouse_demo";
  static final String DATABASE = "shop";

  private final EmbeddedPostgres postgres;
  private final Secret password;

  private DemoDatabase(EmbeddedPostgres postgres, Secret password) {
    this.postgres = postgres;
    this.password = password;
  }

  static DemoDatabase start(Path dir) throws IOException, SQLException {
    Files.createDirectories(dir);
    Path hba = dir.resolve("pg_hba.conf");
    Files.writeString(hba, """
        # The superuser only locally and only for setup; everyone else proves a password with SCRAM.
        host all postgres 127.0.0.1/32 trust
        host all all 127.0.0.1/32 scram-sha-256
        host all all ::1/128 scram-sha-256
        """);
    EmbeddedPostgres pg = EmbeddedPostgres.builder()
        .setServerConfig("listen_addresses", "127.0.0.1")
        .setServerConfig("hba_file", hba.toAbsolutePath().toString())
        .setServerConfig("password_encryption", "scram-sha-256")
        .setServerConfig("max_connections", "200")
        .start();
    byte[] random = new byte[24];
    new SecureRandom().nextBytes(random);
    Secret password = Secret.of(HexFormat.of().formatHex(random));
    try (Connection c = connect(pg.getPort(), "postgres", "postgres", Secret.of(""));
        Statement s = c.createStatement()) {
      // The password is hex, so quoting it as a literal is safe.
      s.execute("CREATE ROLE " + ROLE + " LOGIN PASSWORD '" + password.reveal() + "' NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS");
      s.execute("CREATE DATABASE " + DATABASE + " OWNER " + ROLE);
    }
    try (Connection c = connect(pg.getPort(), DATABASE, ROLE, password);
        Statement s = c.createStatement()) {
      s.execute(resource("demo-data.sql"));
    }
    return new DemoDatabase(pg, password);
  }

  int port() {
    return postgres.getPort();
  }

  Secret password() {
    return password;
  }

  private static Connection connect(int port, String database, String user, Secret password) throws SQLException {
    Properties p = new Properties();
    p.setProperty("user", user);
    if (!password.isEmpty()) p.setProperty("password", password.reveal());
    return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/" + database, p);
  }

  private static String resource(String name) throws IOException {
    try (InputStream in = DemoDatabase.class.getResourceAsStream(name)) {
      if (in == null) throw new IOException("missing resource " + name);
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  @Override
  public void close() throws IOException {
    postgres.close();
  }
}
