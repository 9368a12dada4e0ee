// Opens N PostgreSQL sessions (through Gatehouse, or straight to a server), holds them idle until a
// line arrives on standard input (or stdin closes), then closes them. Run by bench/idle-sessions.sh
// with the JDK's single-file launcher and pgjdbc on the class path:
//
//   PGPASSWORD=<token> java -cp postgresql.jar bench/IdleSessions.java \
//       --url jdbc:postgresql://127.0.0.1:15432/pg-bench --user bench --count 1000 [--sslmode verify-full --sslrootcert ca.pem]
//
// The password comes from PGPASSWORD only, so it never shows in a process listing. Prints
// "READY <n>" once every session is open (and has answered SELECT 1), "CLOSED" at the end.

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

public class IdleSessions {
  public static void main(String[] args) throws Exception {
    String url = null, user = "bench", sslmode = "disable", sslrootcert = null;
    int count = 1000, parallel = 16;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--url" -> url = args[++i];
        case "--user" -> user = args[++i];
        case "--count" -> count = Integer.parseInt(args[++i]);
        case "--parallel" -> parallel = Integer.parseInt(args[++i]);
        case "--sslmode" -> sslmode = args[++i];
        case "--sslrootcert" -> sslrootcert = args[++i];
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    if (url == null) throw new IllegalArgumentException("--url is required");
    if (count < 1) throw new IllegalArgumentException("--count < 1");

    Properties props = new Properties();
    props.setProperty("user", user);
    String password = System.getenv("PGPASSWORD");
    if (password != null && !password.isEmpty()) props.setProperty("password", password);
    props.setProperty("sslmode", sslmode);
    if (sslrootcert != null) props.setProperty("sslrootcert", sslrootcert);
    props.setProperty("connectTimeout", "20");
    props.setProperty("socketTimeout", "60");
    props.setProperty("ApplicationName", "gatehouse-idle-sessions");
    // Keep the client side small: no statement cache to speak of, no server-side prepares.
    props.setProperty("preparedStatementCacheQueries", "0");

    List<Connection> open = Collections.synchronizedList(new ArrayList<>());
    AtomicInteger failed = new AtomicInteger();
    long start = System.nanoTime();
    String jdbcUrl = url;
    try (ExecutorService pool = Executors.newFixedThreadPool(parallel)) {
      List<Future<?>> futures = new ArrayList<>();
      for (int i = 0; i < count; i++) {
        futures.add(pool.submit(() -> {
          try {
            Connection c = DriverManager.getConnection(jdbcUrl, props);
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT 1")) {
              rs.next();
            }
            open.add(c);
          } catch (Exception e) {
            if (failed.getAndIncrement() < 5) System.err.println("session failed: " + e.getMessage());
          }
          return null;
        }));
      }
      for (Future<?> f : futures) f.get();
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    System.out.printf("READY %d (failed %d) in %.1f s%n", open.size(), failed.get(), seconds);
    System.out.flush();

    new BufferedReader(new InputStreamReader(System.in)).readLine();
    for (Connection c : open) {
      try {
        c.close();
      } catch (Exception ignored) {
        // Closing is best effort; the process ends next.
      }
    }
    System.out.println("CLOSED");
    System.exit(failed.get() == 0 ? 0 : 1);
  }
}
