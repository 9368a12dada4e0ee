#!/usr/bin/env bash
# Memory with many idle sessions: opens N (default 1000) PostgreSQL sessions through Gatehouse,
# holds them idle, and reports the gateway's heap after a full GC (jcmd GC.run + jstat), before and
# with the sessions open. Issue #2's target: 1,000 idle sessions within 256 MiB of gateway heap.
#
# The target needs max_connections above N. Changing the machine's server (ALTER SYSTEM SET
# max_connections + restart) is intrusive, so by default this script starts a dedicated, throw-away
# PostgreSQL (initdb into a temp dir, max_connections = N + 100, loopback only) and removes it on
# exit. Everything is bounded in time and cleaned up.
#
# By default the script also starts the gateway itself (bench/gatehouse.sh: development issuer,
# least-privileged role gh_bench on the dedicated target, loopback config, audit on, session caps
# above N) with the heap limit to prove (GATEHOUSE_JAVA_OPTS, default -Xmx256m), and stops it.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/idle-sessions.sh [--count N] [--smoke] [--keep-logs]

By default the script starts a real Gatehouse itself and stops it afterwards.

Environment:
  GATEHOUSE_JAVA_OPTS                         JVM options of the gateway it starts (default: -Xmx256m)
  GATEHOUSE_CMD                               the gatehouse launcher (default: ./gatehouse)
  GATEHOUSE_SSLMODE                           TLS towards the gateway: disable (default: plaintext), require
                                              or verify-full (the gateway then runs with tls mode auto, and
                                              verify-full checks its generated CA)
  GATEHOUSE_PORT                              set it to use an already running gateway instead, with:
  GATEHOUSE_HOST/GATEHOUSE_DB                 its listener and the resource name, whose target must be
                                              TARGET_HOST:TARGET_PORT/TARGET_DB (printed below)
  GATEHOUSE_TOKEN                             the token sent as password
  GATEHOUSE_PID                               the gateway's JVM process id (for jcmd/jstat; same user)
  GATEHOUSE_SSLROOTCERT                       the CA for verify-full
  BENCH_TARGET_HOST/BENCH_TARGET_PORT         use this PostgreSQL (trust for user postgres) instead of
                                              starting a dedicated one; its max_connections must exceed N
  --smoke                                     no gateway: the sessions go straight to the target and the
                                              heap measured is the session holder's own (tests the script)
EOF
}

COUNT=${BENCH_IDLE_COUNT:-1000}
SMOKE=0
KEEP_LOGS=0
while [ $# -gt 0 ]; do
  case "$1" in
    --count) COUNT=$2; shift 2 ;;
    --smoke) SMOKE=1; shift ;;
    --keep-logs) KEEP_LOGS=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "idle-sessions.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ "$COUNT" =~ ^[1-9][0-9]*$ ]] || { echo "idle-sessions.sh: --count must be a positive integer" >&2; exit 2; }
unset PGHOST PGPORT PGUSER PGDATABASE PGSERVICE PGOPTIONS PGSSLMODE

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
. "$HERE/gatehouse.sh"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-idle.XXXXXX")
chmod 755 "$WORK"
PG_DATA=""
PG_CTL=""
HOLDER_PID=""
cleanup() {
  if [ -n "$HOLDER_PID" ] && kill -0 "$HOLDER_PID" 2>/dev/null; then
    kill "$HOLDER_PID" 2>/dev/null || true
    wait "$HOLDER_PID" 2>/dev/null || true
  fi
  stop_gatehouse || true
  if [ -n "$PG_DATA" ] && [ -f "$PG_DATA/postmaster.pid" ]; then
    as_pg "$PG_CTL" -D "$PG_DATA" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
  fi
  if [ "$KEEP_LOGS" = 1 ]; then echo "logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- tools ------------------------------------------------------------------------------------
find_java() {
  local j v
  for j in ${JAVA_HOME:+"$JAVA_HOME/bin/java"} /usr/lib/jvm/*/bin/java "$(command -v java 2>/dev/null || true)"; do
    [ -x "$j" ] || continue
    v=$("$j" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
    [ "${v%%.*}" -ge 21 ] 2>/dev/null && { echo "$j"; return; }
  done
  echo "idle-sessions.sh: no JDK 21+ found (set JAVA_HOME)" >&2
  exit 1
}
JAVA=$(find_java)
JDK_BIN=$(dirname "$JAVA")
PGJDBC_VERSION=42.7.14
PGJDBC="$HOME/.m2/repository/org/postgresql/postgresql/$PGJDBC_VERSION/postgresql-$PGJDBC_VERSION.jar"
if [ ! -f "$PGJDBC" ]; then
  (cd "$ROOT" && JAVA_HOME=$(dirname "$JDK_BIN") ./mvnw -B -q -ntp -N dependency:get -Dartifact="org.postgresql:postgresql:$PGJDBC_VERSION" -Dtransitive=false) >&2
fi

pg_bin_dir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -rn); do
    [ -x "$d/initdb" ] && { echo "$d"; return; }
  done
  d=$(dirname "$(command -v pg_ctl 2>/dev/null || echo /nonexistent/pg_ctl)")
  [ -x "$d/initdb" ] && { echo "$d"; return; }
  echo "idle-sessions.sh: initdb/pg_ctl not found (Debian: apt-get install postgresql)" >&2
  exit 1
}
# PostgreSQL refuses to run as root: run its tools as the postgres user then.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

PSQL=$(command -v psql 2>/dev/null || true)
[ -n "$PSQL" ] || PSQL="$(pg_bin_dir)/psql"
[ -x "$PSQL" ] || { echo "idle-sessions.sh: psql not found (Debian: apt-get install postgresql-client)" >&2; exit 1; }

# ---- the target -------------------------------------------------------------------------------
TARGET_HOST=${BENCH_TARGET_HOST:-127.0.0.1}
TARGET_DB=postgres
if [ -n "${BENCH_TARGET_PORT:-}" ]; then
  TARGET_PORT=$BENCH_TARGET_PORT
else
  BIN=$(pg_bin_dir)
  PG_CTL="$BIN/pg_ctl"
  TARGET_PORT=""
  for p in $(seq 25632 25732); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then TARGET_PORT=$p; break; fi
  done
  [ -n "$TARGET_PORT" ] || { echo "idle-sessions.sh: no free port in 25632-25732" >&2; exit 1; }
  PG_DATA="$WORK/pgdata"
  [ "$(id -u)" = 0 ] && chown postgres "$WORK"
  as_pg "$BIN/initdb" -D "$PG_DATA" -A trust -U postgres -E UTF8 --no-sync >"$WORK/initdb.log" 2>&1 \
    || { cat "$WORK/initdb.log" >&2; exit 1; }
  as_pg "$PG_CTL" -D "$PG_DATA" -l "$WORK/postgres.log" -w -t 60 \
    -o "-p $TARGET_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$WORK -c max_connections=$(( COUNT + 100 )) -c shared_buffers=64MB -c fsync=off" \
    start >/dev/null || { tail -20 "$WORK/postgres.log" >&2; exit 1; }
fi
target_sql() { PGCONNECT_TIMEOUT=10 "$PSQL" -X -w -At -h "$TARGET_HOST" -p "$TARGET_PORT" -U postgres -d "$TARGET_DB" -c "$1"; }
MAXCONN=$(target_sql 'SHOW max_connections')
[ "$MAXCONN" -gt "$COUNT" ] || { echo "idle-sessions.sh: the target's max_connections ($MAXCONN) must exceed $COUNT" >&2; exit 1; }
echo "target: PostgreSQL at $TARGET_HOST:$TARGET_PORT/$TARGET_DB, max_connections $MAXCONN"

# ---- the gateway ------------------------------------------------------------------------------
# start_gatehouse: starts the gateway with bench/gatehouse.sh, its resource "bench" pointing at
# $TARGET_HOST:$TARGET_PORT/$TARGET_DB as the least-privileged role gh_bench, session caps above
# $COUNT; or, when GATEHOUSE_PORT is set, uses that running gateway (GATEHOUSE_DB, GATEHOUSE_TOKEN
# and GATEHOUSE_PID needed too). stop_gatehouse is called on exit.
GH_NOTE=""
start_gatehouse() {
  if [ "$SMOKE" = 1 ]; then
    GATEHOUSE_HOST=$TARGET_HOST GATEHOUSE_PORT=$TARGET_PORT GATEHOUSE_DB=$TARGET_DB GATEHOUSE_TOKEN="" GATEHOUSE_USER=postgres
    GATEHOUSE_PID=""
    return
  fi
  if [ -n "${GATEHOUSE_PORT:-}" ]; then
    : "${GATEHOUSE_HOST:=127.0.0.1}"
    if [ -z "${GATEHOUSE_DB:-}" ] || [ -z "${GATEHOUSE_TOKEN:-}" ] || [ -z "${GATEHOUSE_PID:-}" ]; then
      echo "idle-sessions.sh: with GATEHOUSE_PORT set, set GATEHOUSE_DB, GATEHOUSE_TOKEN and GATEHOUSE_PID too" >&2
      echo "                  (or unset it to let the script start a gateway; --smoke tests the script alone)" >&2
      exit 2
    fi
    : "${GATEHOUSE_USER:=bench}"
    GH_NOTE="an external gateway"
    return
  fi
  local tls=off opts=${GATEHOUSE_JAVA_OPTS:--Xmx256m}
  [ "${GATEHOUSE_SSLMODE:-disable}" = disable ] || tls=auto
  echo "starting Gatehouse (TLS $tls, JVM options $opts) ..."
  gh_start "$WORK" idle "$TARGET_HOST" "$TARGET_PORT" "$TARGET_DB" minimal "$tls" $(( COUNT + 200 )) "$opts" || exit 1
  if [ "${GATEHOUSE_SSLMODE:-disable}" = verify-full ] && [ -z "${GATEHOUSE_SSLROOTCERT:-}" ]; then
    GATEHOUSE_SSLROOTCERT=$GATEHOUSE_CA
  fi
  . "$GH_ROOT/scripts/jdk.sh"
  gh_jvm_options
  GH_NOTE="started by this script: JVM options $opts (after the launcher's: $(printf '%s\n' $GH_JVM_OPTS | grep -v '^--' | paste -sd' ')), policy $GATEHOUSE_POLICY_NAME, audit on (SQLite, durability process)"
}
stop_gatehouse() {
  gh_stop
}

# heap_used_kib PID: heap in use right after a full GC (young + survivor + old), from jstat -gc.
heap_used_kib() {
  "$JDK_BIN/jcmd" "$1" GC.run >/dev/null
  "$JDK_BIN/jstat" -gc "$1" | awk 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i }
    NR == 2 { printf "%.0f\n", $col["S0U"] + $col["S1U"] + $col["EU"] + $col["OU"] }'
}
heap_max_mib() {
  "$JDK_BIN/jcmd" "$1" VM.flags 2>/dev/null | tr ' ' '\n' | sed -n 's/^-XX:MaxHeapSize=//p' | awk '{ printf "%.0f", $1 / 1048576 }'
}

start_gatehouse
SSLMODE=${GATEHOUSE_SSLMODE:-disable}
NOTE=""
[ "$SMOKE" = 1 ] && NOTE="SMOKE TEST ONLY: sessions go straight to PostgreSQL and the heap is the session holder's own, not a gateway's."

# ---- hold the sessions ------------------------------------------------------------------------
mkfifo "$WORK/release"
HOLDER_ARGS=(--url "jdbc:postgresql://$GATEHOUSE_HOST:$GATEHOUSE_PORT/$GATEHOUSE_DB" --user "$GATEHOUSE_USER" --count "$COUNT" --sslmode "$SSLMODE")
[ -n "${GATEHOUSE_SSLROOTCERT:-}" ] && HOLDER_ARGS+=(--sslrootcert "$GATEHOUSE_SSLROOTCERT")

MEASURED_PID=${GATEHOUSE_PID:-}
BEFORE=""
if [ -n "$MEASURED_PID" ]; then BEFORE=$(heap_used_kib "$MEASURED_PID"); fi

PGPASSWORD=$GATEHOUSE_TOKEN timeout $(( 300 + COUNT / 5 )) "$JAVA" -Xmx512m -cp "$PGJDBC" "$HERE/IdleSessions.java" "${HOLDER_ARGS[@]}" \
  <"$WORK/release" >"$WORK/holder.out" 2>"$WORK/holder.err" &
HOLDER_PID=$!
exec 4>"$WORK/release"
for _ in $(seq 1 $(( 600 + COUNT / 2 ))); do
  grep -q '^READY' "$WORK/holder.out" 2>/dev/null && break
  kill -0 "$HOLDER_PID" 2>/dev/null || break
  sleep 0.5
done
grep -q '^READY' "$WORK/holder.out" || { echo "idle-sessions.sh: the sessions were not opened:" >&2; cat "$WORK/holder.out" "$WORK/holder.err" >&2; exit 1; }
READY=$(grep '^READY' "$WORK/holder.out")
if [ "$SMOKE" = 1 ]; then
  # The holder is `timeout`'s child: measure the JVM itself.
  MEASURED_PID=$(pgrep -P "$HOLDER_PID" java || pgrep -P "$HOLDER_PID" || true)
  BEFORE="n/a"
fi
sleep 2 # let the gateway settle: buffers of the last handshakes released
WITH=$(heap_used_kib "$MEASURED_PID")
MAXH=$(heap_max_mib "$MEASURED_PID")
RSS=$(ps -o rss= -p "$MEASURED_PID" | tr -d ' ')
"$JDK_BIN/jcmd" "$MEASURED_PID" GC.heap_info >"$WORK/heap_info.txt" 2>&1 || true
BACKENDS=$(target_sql "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")
echo >&4
exec 4>&-
wait "$HOLDER_PID" || true
HOLDER_PID=""

report() {
  echo "Gatehouse idle sessions $(date -u +%Y-%m-%dT%H:%M:%SZ): $COUNT sessions, TLS to the gateway: $([ "$SSLMODE" = disable ] && echo off || echo "on ($SSLMODE)")"
  [ -n "$NOTE" ] && echo "$NOTE"
  [ -n "$GH_NOTE" ] && echo "gateway: $GH_NOTE"
  echo "holder: $READY; client backends on the target while held: $BACKENDS"
  echo "measured JVM pid $MEASURED_PID: max heap ${MAXH:-?} MiB, RSS $(( ${RSS:-0} / 1024 )) MiB with the sessions open"
  awk -v b="$BEFORE" -v w="$WITH" -v n="$COUNT" 'BEGIN {
    printf "heap in use after full GC: before %s, with sessions %.1f MiB", (b == "n/a" || b == "") ? "n/a" : sprintf("%.1f MiB", b / 1024), w / 1024
    if (b != "n/a" && b != "") printf ", %.1f KiB per session", (w - b) / n
    printf "\ntarget: %d idle sessions within 256 MiB of heap: %s\n", n, (w / 1024 <= 256) ? "ok" : "ABOVE TARGET" }'
  echo
  sed 's/^/  /' "$WORK/heap_info.txt"
}
RESULTS_DIR=${BENCH_RESULTS:-$HERE/results}
mkdir -p "$RESULTS_DIR"
RESULTS_FILE="$RESULTS_DIR/idle-sessions-$(date -u +%Y%m%dT%H%M%SZ).txt"
echo
report | tee "$RESULTS_FILE"
echo "(saved to $RESULTS_FILE)"
