package dev.gatehouse.masking;

import dev.gatehouse.core.ColumnOrigin;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Detector throughput, single thread, on the data the issue #4 benchmark reads and on realistic
 * mixed text. Not part of the test run (surefire runs {@code *Test} classes only). Run:
 *
 * <pre>{@code
 * ./mvnw -B -ntp -q -pl masking -am install -DskipTests
 * ./mvnw -B -ntp -q -pl masking test-compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt -Dmdep.includeScope=test
 * $JAVA_HOME/bin/java -cp masking/target/test-classes:masking/target/classes:$(cat masking/target/cp.txt) \
 *     org.openjdk.jmh.Main DetectorsBenchmark
 * }</pre>
 *
 * The {@code bytes} secondary result of the {@code scan*} benchmarks is the throughput in bytes per
 * second per core; {@code planDetectRow} gives the cost per row of an (integer, 32-character text)
 * row when every text column is scanned, the budget of the issue being about 450 ns.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class DetectorsBenchmark {
  private static final int VALUES = 4096;

  private final Detectors all = Detectors.all();
  private byte[] random32;
  private int[] random32Offsets;
  private byte[] mixed;
  private byte[] mixedPristine;
  private int[] mixedOffsets;
  private byte[] json;
  private byte[] jsonPristine;
  private MaskPlan plan;
  private byte[][] rows;

  /** Bytes scanned, reported by JMH as a rate. */
  @State(Scope.Thread)
  @AuxCounters(AuxCounters.Type.OPERATIONS)
  public static class Bytes {
    public long bytes;

    @Setup(Level.Iteration)
    public void reset() {
      bytes = 0;
    }
  }

  @Setup
  public void setUp() {
    Random random = new Random(42);
    String alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    StringBuilder sb = new StringBuilder();
    random32Offsets = new int[VALUES + 1];
    for (int i = 0; i < VALUES; i++) {
      random32Offsets[i] = sb.length();
      for (int j = 0; j < 32; j++) sb.append(alphabet.charAt(random.nextInt(alphabet.length())));
    }
    random32Offsets[VALUES] = sb.length();
    random32 = sb.toString().getBytes(StandardCharsets.US_ASCII);

    String[] words = ("the order was shipped on 2024-03-15 to our customer in Berlin after payment of 129.90 EUR "
        + "please call back regarding ticket 48213 version 2.4.1 status OK delivered returned refund pending note "
        + "Zoë Müller asked about invoice INV-2024-0042 and the API returned HTTP 503 at 10:42 retry later").split(" ");
    String[] pii = {"alice.smith@example.com", "+44 20 7946 0958", "4111 1111 1111 1111", "123-45-6789",
        "DE89 3704 0044 0532 0130 00", "192.168.10.24", "AKIAIOSFODNN7EXAMPLE", "(415) 555-2671"};
    sb.setLength(0);
    mixedOffsets = new int[VALUES + 1];
    for (int i = 0; i < VALUES; i++) {
      mixedOffsets[i] = sb.length();
      int n = 4 + random.nextInt(25);
      for (int w = 0; w < n; w++) {
        if (w > 0) sb.append(' ');
        // About one value in ten carries a piece of personal data.
        if (w == n / 2 && random.nextInt(10) == 0) sb.append(pii[random.nextInt(pii.length)]);
        else sb.append(words[random.nextInt(words.length)]);
      }
    }
    mixedOffsets[VALUES] = sb.length();
    mixedPristine = sb.toString().getBytes(StandardCharsets.UTF_8);
    mixed = mixedPristine.clone();

    sb.setLength(0);
    for (int i = 0; i < 200; i++) {
      sb.append("{\"id\":").append(i).append(",\"name\":\"customer ").append(i).append("\",\"tags\":[\"a\",\"b\"],")
          .append("\"note\":\"").append(words[i % words.length]).append(' ').append(words[(i * 7) % words.length]).append("\",")
          .append(i % 10 == 0 ? "\"email\":\"user" + i + "@example.com\"," : "")
          .append("\"total\":").append(i * 13.5).append("}\n");
    }
    jsonPristine = sb.toString().getBytes(StandardCharsets.UTF_8);
    json = jsonPristine.clone();

    Masking masking = Masking.compile(MaskingRules.of(new MaskingRules.Rule("pii", null, null, null, null,
        List.of("all"), "all", null, null)), java.util.Optional.empty());
    plan = masking.planner("bench", Fixtures.ALICE, List.of("pii")).plan(List.of(
        ResultColumn.text(ColumnOrigin.column("public", "big", "id"), TypeFamily.INTEGER),
        ResultColumn.text(ColumnOrigin.column("public", "big", "t"), TypeFamily.TEXT)), StatementFacts.readsNothing());
    rows = new byte[VALUES][];
    for (int i = 0; i < VALUES; i++) {
      // A DataRow body: column count, then (length, bytes) per column, as the proxy would hold it.
      byte[] id = Integer.toString(i).getBytes(StandardCharsets.US_ASCII);
      byte[] row = new byte[2 + 4 + id.length + 4 + 32];
      row[1] = 2;
      row[5] = (byte) id.length;
      System.arraycopy(id, 0, row, 6, id.length);
      row[6 + id.length + 3] = 32;
      System.arraycopy(random32, i * 32, row, 6 + id.length + 4, 32);
      rows[i] = row;
    }
  }

  /** 32 random alphanumeric characters per value: the pgbench table; nothing to find. */
  @Benchmark
  public int scanRandom32(Bytes counter) {
    int changed = 0;
    for (int i = 0; i < VALUES; i++) {
      int off = random32Offsets[i];
      if (all.redact(random32, off, random32Offsets[i + 1] - off)) changed++;
    }
    counter.bytes += random32.length;
    return changed;
  }

  /** Sentences of 4–28 words, one value in ten with personal data, masked in place (restored each time). */
  @Benchmark
  public int scanMixedText(Bytes counter) {
    System.arraycopy(mixedPristine, 0, mixed, 0, mixed.length);
    int changed = 0;
    for (int i = 0; i < VALUES; i++) {
      int off = mixedOffsets[i];
      if (all.redact(mixed, off, mixedOffsets[i + 1] - off)) changed++;
    }
    counter.bytes += mixed.length;
    return changed;
  }

  /** Small JSON documents, one in ten with an e-mail address, scanned as one JSON value. */
  @Benchmark
  public boolean scanJson(Bytes counter) {
    System.arraycopy(jsonPristine, 0, json, 0, json.length);
    counter.bytes += json.length;
    return all.redact(json, 0, json.length, Detectors.Replacement.JSON);
  }

  /** Per row: what the proxy does for a (integer, 32-character text) row with every detector on every text column. */
  @Benchmark
  @BenchmarkMode(Mode.AverageTime)
  @OutputTimeUnit(TimeUnit.NANOSECONDS)
  @OperationsPerInvocation(VALUES)
  public int planDetectRow() {
    int changed = 0;
    for (byte[] row : rows) {
      int p = 2;
      for (int c = 0; c < 2; c++) {
        int len = ((row[p] & 0xff) << 24) | ((row[p + 1] & 0xff) << 16) | ((row[p + 2] & 0xff) << 8) | (row[p + 3] & 0xff);
        p += 4;
        if (plan.action(c) == MaskPlan.Action.DETECT && plan.detect(c, row, p, len)) changed++;
        p += len;
      }
    }
    return changed;
  }
}
