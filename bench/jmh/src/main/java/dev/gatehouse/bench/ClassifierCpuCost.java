package dev.gatehouse.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;

/**
 * The cases of {@link ClassifierBenchmark}, measured by the CPU time of the measuring thread
 * instead of wall-clock time: on a shared machine whose load comes and goes, time spent waiting for
 * a core does not count, so two builds can be compared while other work runs. Each case is warmed
 * up for two seconds of CPU, then measured in seven rounds of 0.5 s of CPU; the median µs per call
 * and the spread (lowest–highest round) are printed.
 *
 * <pre>
 * java -cp bench/jmh/target/benchmarks.jar dev.gatehouse.bench.ClassifierCpuCost [engine] [cache,...] [statement,...]
 * </pre>
 *
 * Defaults: {@code libpg_query}, {@code hit,template,miss}, {@code select,insert,multi5}. Not a
 * test: nothing asserts. The {@code big2k} text is parsed on libpg_query's big-stack thread, whose
 * CPU this thread does not see: use JMH for that one.
 */
public final class ClassifierCpuCost {
  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

  private ClassifierCpuCost() {}

  public static void main(String[] args) {
    String engine = args.length > 0 ? args[0] : "libpg_query";
    String[] caches = (args.length > 1 ? args[1] : "hit,template,miss").split(",");
    String[] statements = (args.length > 2 ? args[2] : "select,insert,multi5").split(",");
    System.out.printf("%-9s %-8s %12s  %s%n", "cache", "statement", "CPU us/call", "(rounds: lowest-highest)");
    for (String statement : statements) {
      for (String cache : caches) {
        ClassifierBenchmark b = new ClassifierBenchmark();
        b.engine = engine;
        b.cache = cache;
        b.statement = statement;
        b.setUp();
        run(b, 2_000_000_000L);
        double[] rounds = new double[7];
        for (int r = 0; r < rounds.length; r++) rounds[r] = run(b, 500_000_000L);
        Arrays.sort(rounds);
        System.out.printf("%-9s %-8s %12.3f  (%.3f-%.3f)%n", cache, statement, rounds[3], rounds[0], rounds[rounds.length - 1]);
      }
    }
  }

  /** Calls until {@code cpuNanos} of this thread's CPU are spent; returns CPU µs per call. */
  private static double run(ClassifierBenchmark b, long cpuNanos) {
    long start = THREADS.getCurrentThreadCpuTime();
    long calls = 0;
    long spent;
    Object sink = null;
    do {
      for (int i = 0; i < 256; i++) sink = b.analyze();
      calls += 256;
      spent = THREADS.getCurrentThreadCpuTime() - start;
    } while (spent < cpuNanos);
    if (sink == null) throw new AssertionError("no result");
    return spent / 1000.0 / calls;
  }
}
