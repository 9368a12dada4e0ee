# Sourced by ./gatehouse and ./run-tests: exports JAVA_HOME pointing at a JDK 21 or newer, and
# GH_JAVA_MAJOR, its major version.
# Order: $JAVA_HOME, the java on PATH, then the usual install locations (Debian/Ubuntu, macOS, SDKMAN).
# Also gh_jvm_options: the JVM options ./gatehouse (and bench/snapshot.sh's frozen builds) run with.

gh_java_major() { # prints the major version of the java binary given, or 0
  "$1" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2; exit}' | cut -d. -f1 | grep -E '^[0-9]+$' || echo 0
}

gh_find_jdk() {
  local candidates=() c
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
  if command -v javac >/dev/null 2>&1; then
    c=$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")") && candidates+=("$c")
  fi
  for c in /usr/lib/jvm/*; do [ -d "$c" ] && candidates+=("$c"); done
  for c in /Library/Java/JavaVirtualMachines/*/Contents/Home "$HOME"/Library/Java/JavaVirtualMachines/*/Contents/Home \
           "$HOME"/.sdkman/candidates/java/* /opt/homebrew/opt/openjdk*/libexec/openjdk.jdk/Contents/Home; do
    [ -d "$c" ] && candidates+=("$c")
  done
  local best="" best_major=0 m
  for c in "${candidates[@]}"; do
    [ -x "$c/bin/java" ] && [ -x "$c/bin/javac" ] || continue
    m=$(gh_java_major "$c/bin/java")
    if [ "$m" -ge 21 ] && [ "$m" -gt "$best_major" ]; then best="$c"; best_major=$m; fi
  done
  if [ -z "$best" ]; then
    echo "gatehouse: no JDK 21 or newer found (looked at JAVA_HOME, PATH, /usr/lib/jvm, macOS and SDKMAN locations)." >&2
    echo "gatehouse: install one (Debian/Ubuntu: apt-get install openjdk-21-jdk; macOS: brew install openjdk@21) and retry." >&2
    return 1
  fi
  export JAVA_HOME="$best"
  export GH_JAVA_MAJOR="$best_major"
}

# Sets GH_JVM_OPTS to the gateway's JVM options (before the user's JAVA_OPTS), for the JDK of major
# version $1 (default: GH_JAVA_MAJOR, else asked of $JAVA_HOME/bin/java, else of the JDK gh_find_jdk
# finds, which it then exports). Only options that JDK knows:
# an unknown one stops the JVM before it starts ("Unrecognized option").
#   --enable-native-access  JNA (libpg_query, posix_fallocate) and the SQLite driver, without warnings
#   --sun-misc-unsafe-memory-access=allow  JDK 23 and newer only (JEP 471 added it; JDK 21 and 22
#                          refuse it): the journal's early unmap and the SQLite driver use
#                          sun.misc.Unsafe's memory access, which JDK 24 and newer warn about
#                          without it
#   -XX:+UseSerialGC       one GC thread: the gateway keeps little alive, and on a small machine
#                          the relay's threads need the CPUs more than a parallel collector does
#   -Xss1m                 platform threads' stacks
#   -XX:+UseTransparentHugePages  only where the kernel offers them (Linux, transparent_hugepage
#                          "always" or "madvise"; elsewhere the JVM would print a warning): the heap
#                          on 2 MiB pages, fewer TLB misses as the relay allocates (bench/README.md,
#                          session 8: about 4% less gateway CPU per transaction)
gh_jvm_options() {
  local major=${1:-${GH_JAVA_MAJOR:-}}
  if [ -z "$major" ]; then
    if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
      major=$(gh_java_major "$JAVA_HOME/bin/java")
    else
      gh_find_jdk || return 1
      major=$GH_JAVA_MAJOR
    fi
  fi
  GH_JVM_OPTS="--enable-native-access=ALL-UNNAMED"
  if [ "$major" -ge 23 ]; then
    GH_JVM_OPTS="$GH_JVM_OPTS --sun-misc-unsafe-memory-access=allow"
  fi
  GH_JVM_OPTS="$GH_JVM_OPTS -XX:+UseSerialGC -Xss1m"
  local thp=/sys/kernel/mm/transparent_hugepage/enabled
  if [ -r "$thp" ] && grep -Eq '\[(always|madvise)\]' "$thp"; then
    GH_JVM_OPTS="$GH_JVM_OPTS -XX:+UseTransparentHugePages"
  fi
}
