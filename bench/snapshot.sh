#!/usr/bin/env bash
# Freezes the current build of the gateway into DIR (the CLI jar and its lib/ copied), with a
# `gatehouse` launcher there that runs exactly that build, for bench/ab.sh and GATEHOUSE_CMD:
#
#   bench/snapshot.sh DIR                      copy cli/target as it is (run ./gatehouse --help first to build it)
#   bench/snapshot.sh DIR module/target/x.jar  ... then replace that module jar in DIR/lib (an A/B of one module's change)
#
# A snapshot does not rebuild itself when the sources change, so a comparison measures the builds
# it names and nothing that other people changed meanwhile.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: bench/snapshot.sh DIR [MODULE_JAR...]" >&2; exit 2; }
DIR=$1; shift
ROOT=$(cd "$(dirname "$0")/.." && pwd)
[ -f "$ROOT/cli/target/gatehouse-cli.jar" ] || { echo "snapshot.sh: no cli/target/gatehouse-cli.jar: build first (./gatehouse --help)" >&2; exit 1; }
mkdir -p "$DIR/lib"
cp "$ROOT/cli/target/gatehouse-cli.jar" "$DIR/"
cp "$ROOT"/cli/target/lib/*.jar "$DIR/lib/"
for jar in "$@"; do
  name=$(basename "$jar")
  [ -f "$DIR/lib/$name" ] || { echo "snapshot.sh: $name is not in the build's lib/" >&2; exit 1; }
  cp "$jar" "$DIR/lib/$name"
  echo "replaced lib/$name"
done
cat >"$DIR/gatehouse" <<EOF
#!/usr/bin/env bash
# A frozen gateway build (bench/snapshot.sh); same JVM options as ./gatehouse.
set -euo pipefail
. "$ROOT/scripts/jdk.sh"
gh_find_jdk
gh_jvm_options
# shellcheck disable=SC2086
exec "\$JAVA_HOME/bin/java" \$GH_JVM_OPTS \${JAVA_OPTS:-} -cp "$DIR/gatehouse-cli.jar:$DIR/lib/*" dev.gatehouse.cli.Main "\$@"
EOF
chmod +x "$DIR/gatehouse"
echo "snapshot in $DIR (run it with GATEHOUSE_CMD=$DIR/gatehouse)"
