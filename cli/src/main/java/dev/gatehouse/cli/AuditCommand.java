package dev.gatehouse.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.gatehouse.audit.AuditEvent;
import dev.gatehouse.audit.AuditFormatter;
import dev.gatehouse.audit.AuditLog;
import dev.gatehouse.audit.AuditQuery;
import dev.gatehouse.audit.AuditSigner;
import dev.gatehouse.audit.AuditVerifier;
import dev.gatehouse.audit.ChainReport;
import dev.gatehouse.audit.JournalEnd;
import dev.gatehouse.audit.VerificationReport;
import dev.gatehouse.audit.Witness;
import dev.gatehouse.server.ConfigLoader;
import dev.gatehouse.server.Gatehouse;
import dev.gatehouse.server.SecretRef;
import dev.gatehouse.store.JdbcStore;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PublicKey;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code gatehouse audit tail|search|verify}: read and verify the audit log of a configuration. */
@Command(name = "audit", mixinStandardHelpOptions = true, description = "Read and verify the audit log.",
    subcommands = {AuditCommand.Tail.class, AuditCommand.Search.class, AuditCommand.Verify.class})
final class AuditCommand {
  private static final ObjectMapper JSON = SafeJson.mapper();

  abstract static class StoreOptions {
    @Option(names = {"-c", "--config"}, defaultValue = "gatehouse.yaml", description = "Configuration naming the audit store (default: ${DEFAULT-VALUE}).")
    Path config;

    @Option(names = "--json", description = "One JSON object per line, for scripts.")
    boolean json;

    ConfigLoader.Loaded loaded() {
      return ConfigLoader.forReading(SecretRef.systemEnv()).load(config);
    }

    JdbcStore open() {
      return open(loaded());
    }

    /**
     * Opens the store, first storing what a stopped gateway left in its journal (a running one
     * indexes its own within a fraction of a second), so readers see every acknowledged event.
     */
    static JdbcStore open(ConfigLoader.Loaded loaded) {
      return open(loaded, new ArrayList<>());
    }

    /** As {@link #open(ConfigLoader.Loaded)}, adding the last event each stopped gateway's journal holds to {@code journalEnds}. */
    static JdbcStore open(ConfigLoader.Loaded loaded, List<JournalEnd> journalEnds) {
      JdbcStore store = JdbcStore.open(Gatehouse.storeConfig(loaded));
      try {
        AuditLog.JournalRecovery recovered =
            AuditLog.recoverJournalsForReading(store.audit(), Gatehouse.journalDir(loaded), Clock.systemUTC());
        journalEnds.addAll(recovered.ends());
        long n = recovered.stored();
        if (n > 0) {
          System.err.println("gatehouse audit: stored " + n + " events that a stopped gateway left in its journal;"
              + " the journal is kept until the gateway starts again and signs a checkpoint over them");
        }
      } catch (RuntimeException e) {
        store.close();
        throw e;
      }
      return store;
    }

    void print(PrintStream out, List<AuditEvent> events) throws Exception {
      for (AuditEvent e : events) {
        out.println(json ? JSON.writeValueAsString(AuditFormatter.toMap(e)) : AuditFormatter.line(e));
      }
      out.flush();
    }
  }

  @Command(name = "tail", mixinStandardHelpOptions = true, description = "Show the newest events; --follow keeps printing new ones.")
  static final class Tail extends StoreOptions implements Callable<Integer> {
    @Option(names = {"-n", "--lines"}, defaultValue = "20", description = "How many events (default: ${DEFAULT-VALUE}).")
    int lines;

    @Option(names = {"-f", "--follow"}, description = "Keep printing events as they are written (Ctrl-C to stop).")
    boolean follow;

    @Override
    public Integer call() throws Exception {
      if (lines < 1) throw new IllegalArgumentException("-n/--lines must be at least 1, not " + lines);
      try (JdbcStore store = open()) {
        List<AuditEvent> events = store.audit().tail(lines);
        print(System.out, events);
        String last = events.isEmpty() ? null : events.get(events.size() - 1).id();
        while (follow) {
          Thread.sleep(500);
          List<AuditEvent> more = last == null ? store.audit().tail(100) : store.audit().after(last, 1000);
          if (!more.isEmpty()) {
            print(System.out, more);
            last = more.get(more.size() - 1).id();
          }
        }
      }
      return 0;
    }
  }

  @Command(name = "search", mixinStandardHelpOptions = true, description = "Find events by principal, resource, time, text and session.")
  static final class Search extends StoreOptions implements Callable<Integer> {
    @Option(names = "--principal", description = "Subject or display name.") String principal;
    @Option(names = "--resource", description = "Resource name.") String resource;
    @Option(names = "--from", description = "ISO-8601 instant, e.g. 2026-11-22T10:00:00Z.") String from;
    @Option(names = "--to", description = "ISO-8601 instant.") String to;
    @Option(names = "--text", description = "Text the command contains.") String text;
    @Option(names = "--session", description = "Session id, as the gateway's log lines give it.") String session;
    @Option(names = "--limit", defaultValue = "100", description = "At most this many events (default: ${DEFAULT-VALUE}).") int limit;

    @Override
    public Integer call() throws Exception {
      if (limit < 1 || limit > AuditQuery.MAX_LIMIT) {
        throw new IllegalArgumentException("--limit must be between 1 and " + AuditQuery.MAX_LIMIT + ", not " + limit);
      }
      AuditQuery q = AuditQuery.all(limit);
      if (principal != null) q = q.withPrincipal(principal);
      if (resource != null) q = q.withResource(resource);
      if (from != null) q = q.withFrom(instant("--from", from));
      if (to != null) q = q.withTo(instant("--to", to));
      if (text != null) q = q.withText(text);
      if (session != null) q = q.withSession(session);
      try (JdbcStore store = open()) {
        List<AuditEvent> found = store.audit().search(q);
        print(System.out, found);
        if (found.isEmpty() && !json) System.err.println("gatehouse audit: no events matched");
      }
      return 0;
    }

    private static Instant instant(String option, String value) {
      try {
        return Instant.parse(value);
      } catch (DateTimeParseException e) {
        throw new IllegalArgumentException(option + ": not an ISO-8601 instant: " + value);
      }
    }
  }

  /**
   * The configured signing key, or its public half ({@code .pub}, written beside it) on a machine
   * that does not hold the private key (round 40: verify said there was no key with the .pub beside it).
   */
  static Path configuredPublicKey(ConfigLoader.Loaded loaded) {
    Path key = Gatehouse.signingKey(loaded);
    Path pub = key.resolveSibling(key.getFileName() + ".pub");
    return !Files.exists(key) && Files.exists(pub) ? pub : key;
  }

  @Command(name = "verify", mixinStandardHelpOptions = true,
      description = "Check every chain: hashes, links, signed checkpoints, and the checkpoints witnessed outside the store "
          + "(the local witness file in the data directory, and --witness logs). Exit 1 and name the first broken link if any.")
  static final class Verify extends StoreOptions implements Callable<Integer> {
    @Option(names = "--public-key", paramLabel = "FILE",
        description = "Verify with this public key (PEM) instead of the configured signing key's public part; repeat it for "
            + "the keys of earlier rotations.")
    List<Path> publicKeys = new ArrayList<>();

    @Option(names = "--witness", paramLabel = "FILE",
        description = "A Gatehouse log file (JSON lines; .gz too) whose 'audit checkpoint' lines witness the chains from "
            + "outside the store: the store must hold each chain up to the newest of them. Repeatable.")
    List<Path> witnessLogs = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
      ConfigLoader.Loaded loaded = loaded();
      List<PublicKey> keys = new ArrayList<>();
      for (Path keyFile : publicKeys.isEmpty() ? List.of(configuredPublicKey(loaded)) : publicKeys) {
        if (!Files.exists(keyFile)) throw new IllegalArgumentException("no signing key at " + keyFile + ": cannot verify signatures");
        keys.add(AuditSigner.readPublicKey(keyFile));
      }
      // Witnesses first, the store after: a running gateway writes a witness only once the store
      // holds its checkpoint, so what is read first can never claim more than the store then holds.
      List<Witness> witnesses = new ArrayList<>();
      for (Path log : witnessLogs) {
        if (!Files.isRegularFile(log)) throw new IllegalArgumentException("--witness " + log + ": no such file");
        List<Witness> found = Witness.read(log);
        if (found.isEmpty()) System.err.println("gatehouse audit: no 'audit checkpoint' lines in " + log + ": it witnesses nothing");
        witnesses.addAll(found);
      }
      witnesses.addAll(Witness.readLocal(Gatehouse.journalDir(loaded)));
      VerificationReport report;
      List<JournalEnd> journalEnds = new ArrayList<>();
      try (JdbcStore store = open(loaded, journalEnds)) {
        report = new AuditVerifier(store.audit(), keys).withWitnesses(witnesses).withJournalEnds(journalEnds).verify();
      }
      PrintStream out = System.out;
      List<Map<String, Object>> rows = new ArrayList<>();
      for (VerificationReport.RejectedWitness w : report.rejectedWitnesses()) {
        if (json) {
          Map<String, Object> row = new LinkedHashMap<>();
          row.put("witness", w.source());
          row.put("status", "rejected");
          row.put("chain", w.chainId());
          row.put("seq", w.seq());
          row.put("message", w.reason());
          rows.add(row);
        } else {
          out.println(AuditFormatter.escape(w.describe())); // its chain id and source are not ours
        }
      }
      for (ChainReport chain : report.chains()) {
        if (json) {
          Map<String, Object> row = new LinkedHashMap<>();
          row.put("chain", chain.chainId());
          row.put("status", chain.status().name().toLowerCase());
          row.put("events", chain.events());
          row.put("lastSeq", chain.lastSeq());
          row.put("anchoredSeq", chain.anchoredSeq());
          chain.firstBreak().ifPresent(b -> row.put("firstBreak", Map.of("seq", b.seq(), "kind", b.kind().name().toLowerCase(), "message", b.message())));
          rows.add(row);
        } else {
          out.println(AuditFormatter.escape(chain.describe())); // chain ids are the store's: no forged lines
        }
      }
      if (json) {
        for (Map<String, Object> row : rows) out.println(JSON.writeValueAsString(row));
      } else {
        String against = witnesses.isEmpty() ? "" : ", against " + witnesses.size() + " checkpoint(s) witnessed outside the store";
        out.println(report.intact()
            ? "audit log intact: " + report.chains().size() + " chain(s) verified" + against
            : report.broken().isEmpty()
            ? "AUDIT LOG BROKEN: " + report.rejectedWitnesses().size() + " witnessed checkpoint(s) rejected (forged, altered or signed by a key not given)"
            : "AUDIT LOG BROKEN: " + report.broken().size() + " of " + report.chains().size() + " chain(s) fail verification"
                + against);
      }
      out.flush();
      return report.intact() ? 0 : 1;
    }
  }
}
