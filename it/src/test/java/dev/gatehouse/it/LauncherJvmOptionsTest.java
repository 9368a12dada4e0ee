package dev.gatehouse.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gatehouse.testkit.Psql;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The JVM options {@code ./gatehouse} starts the gateway with ({@code gh_jvm_options} in
 * scripts/jdk.sh) are ones the chosen JDK knows: a JVM stops before it starts on an option it does
 * not know, so an option of a newer JDK would make the gateway unusable on the JDK 21 the README
 * promises.
 */
class LauncherJvmOptionsTest {
  private static final Path JDK_SH = Path.of("..", "scripts", "jdk.sh").toAbsolutePath().normalize();
  private static final String UNSAFE = "--sun-misc-unsafe-memory-access=allow";

  @Test
  void theJdkRunningTheTestsStartsWithTheOptionsComputedForIt() throws Exception {
    Path home = Path.of(System.getProperty("java.home"));
    Psql.Result r = jvmWithOptions(home);
    assertThat(r.exitCode()).as("java -version with gh_jvm_options' options:\n%s", r.stdout()).isZero();
  }

  @Test
  void everyJdkUnderUsrLibJvmStartsWithTheOptionsComputedForIt() throws Exception {
    // JDKs older than 23 refuse the option JEP 471 added: a JDK 17 found here stands in for 21 and 22
    // (./gatehouse never picks it). JDKs before 17 lack --enable-native-access and are not checked.
    List<Path> homes = new ArrayList<>();
    Path jvms = Path.of("/usr/lib/jvm");
    if (Files.isDirectory(jvms)) {
      try (Stream<Path> s = Files.list(jvms)) {
        s.filter(p -> Files.isExecutable(p.resolve("bin/java")) && !Files.isSymbolicLink(p)).sorted().forEach(homes::add);
      }
    }
    for (Path home : homes) {
      Psql.Result r = jvmWithOptions(home);
      assertThat(r.exitCode()).as("%s: java -version with gh_jvm_options' options:\n%s", home, r.stdout()).isZero();
    }
  }

  @Test
  void theUnsafeMemoryAccessOptionIsGivenOnlyToJdksThatKnowIt() throws Exception {
    assertThat(options(21)).contains("--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC").doesNotContain(UNSAFE);
    assertThat(options(22)).doesNotContain(UNSAFE);
    assertThat(options(23)).contains(UNSAFE);
    assertThat(options(25)).contains(UNSAFE, "-XX:+UseSerialGC");
  }

  @Test
  void withoutAJavaHomeTheOptionsAreThoseOfTheJdkItWouldFind() throws Exception {
    // As bench/idle-sessions.sh calls it: no gh_find_jdk before, no JAVA_HOME, under set -u.
    Path bin = Path.of(System.getProperty("java.home"), "bin");
    Psql.Result r = bash("set -euo pipefail; unset JAVA_HOME GH_JAVA_MAJOR; export PATH='" + bin + "':\"$PATH\"; . '" + JDK_SH + "'"
        + "; gh_jvm_options; printf '%s|%s' \"$GH_JAVA_MAJOR\" \"$GH_JVM_OPTS\"");
    assertThat(r.exitCode()).as(r.stdout()).isZero();
    String[] found = r.stdout().split("\\|", 2);
    int major = Integer.parseInt(found[0]);
    assertThat(major).as("the JDK gh_find_jdk found").isGreaterThanOrEqualTo(21);
    assertThat(found[1]).as("options for JDK %d", major).isEqualTo(options(major));
  }

  private static String options(int major) {
    Psql.Result r = bash(". '" + JDK_SH + "' && gh_jvm_options " + major + " && printf '%s' \"$GH_JVM_OPTS\"");
    assertThat(r.exitCode()).as(r.stdout()).isZero();
    return r.stdout();
  }

  /** java -version of {@code home}, with the options gh_jvm_options computes for that JDK (its major asked of it). */
  private static Psql.Result jvmWithOptions(Path home) {
    return bash("unset GH_JAVA_MAJOR; export JAVA_HOME='" + home + "'; . '" + JDK_SH + "'"
        + " && if [ \"$(gh_java_major \"$JAVA_HOME/bin/java\")\" -lt 17 ]; then echo 'before JDK 17: not checked'; exit 0; fi"
        + " && gh_jvm_options && \"$JAVA_HOME/bin/java\" $GH_JVM_OPTS -version 2>&1");
  }

  /** Runs {@code script} in bash, its stderr merged into its stdout. */
  private static Psql.Result bash(String script) {
    return Psql.Processes.run(new ProcessBuilder("bash", "-c", script).redirectErrorStream(true), new byte[0],
        Duration.ofSeconds(60), "bash -c " + script);
  }
}
