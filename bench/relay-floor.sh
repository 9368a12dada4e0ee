#!/usr/bin/env bash
# How much of the gateway's CPU per transaction is the relay itself: pgbench select-only through
# haproxy, through bench/RelayFloor.java (a Java relay that copies bytes and nothing else) in each
# threading model (platform threads, virtual threads, one NIO selector), and through Gatehouse
# (audit on, minimal policy), interleaved. Reports TPS and, steadier on a shared machine, each
# relay's own CPU time per transaction and the whole machine's (from /proc); and where the rest of the
# machine's time went: the PostgreSQL backends' CPU (the postmaster's reaped children, when its pid
# file is readable), pgbench's, and the time the CPUs were idle (idle + iowait) per transaction. A
# relay that leaves the CPUs idle while 16 clients wait stalls the pipeline (bench/README.md, session 6).
#
#   bench/relay-floor.sh [--mode prepared|extended|simple] [--clients N] [--duration S] [--rounds N]
#
# Needs pgbench, haproxy, a JDK 21+, and the pgbench tables of bench/pgbench.sh (run it once).
set -euo pipefail
MODE=prepared CLIENTS=16 DURATION=10 ROUNDS=3
while [ $# -gt 0 ]; do
  case "$1" in
    --mode) MODE=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "relay-floor.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
unset PGHOST PGPORT PGUSER PGDATABASE PGPASSWORD PGSERVICE PGOPTIONS PGSSLMODE
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/gatehouse.sh"
. "$GH_ROOT/scripts/jdk.sh"
gh_find_jdk
PG_PORT=${BENCH_PG_PORT:-5432} DB=${BENCH_DB:-gatehouse_bench}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-floor.XXXXXX")
PIDS=()
cleanup() { gh_stop; for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

NAMES=() PORTS=() RPIDS=() USERS=() DBS=() PASS=()
add() { NAMES+=("$1"); PORTS+=("$2"); RPIDS+=("$3"); USERS+=("$4"); DBS+=("$5"); PASS+=("$6"); }
wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "relay-floor.sh: nothing listens on $1" >&2; exit 1; }

port=$(gh_free_port 25432)
printf 'global\n    maxconn 4096\ndefaults\n    mode tcp\n    timeout connect 5s\n    timeout client 10m\n    timeout server 10m\nfrontend bench\n    bind 127.0.0.1:%s\n    default_backend postgres\nbackend postgres\n    server pg 127.0.0.1:%s\n' "$port" "$PG_PORT" >"$WORK/haproxy.cfg"
haproxy -f "$WORK/haproxy.cfg" -db >"$WORK/haproxy.log" 2>&1 &
PIDS+=($!); wait_port "$port"; add haproxy "$port" "${PIDS[-1]}" postgres "$DB" ""
"$JAVA_HOME/bin/javac" -d "$WORK/classes" "$HERE/RelayFloor.java"
for m in platform virtual nio; do
  port=$(gh_free_port $(( 25500 + ${#NAMES[@]} )))
  "$JAVA_HOME/bin/java" -XX:+UseSerialGC -cp "$WORK/classes" RelayFloor "$m" "$port" "$PG_PORT" >"$WORK/$m.log" 2>&1 &
  PIDS+=($!); wait_port "$port"; add "java-$m" "$port" "${PIDS[-1]}" postgres "$DB" ""
done
gh_start "$WORK" gh 127.0.0.1 "$PG_PORT" "$DB" minimal off 200 "${GATEHOUSE_JAVA_OPTS:-}" >/dev/null
add gatehouse "$GATEHOUSE_PORT" "$GATEHOUSE_PID" bench bench "$GATEHOUSE_TOKEN"

machine() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }
idle() { awk '/^cpu /{print $5+$6}' /proc/stat; }
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
# The PostgreSQL backends' CPU: they are the postmaster's children, whose time it collects as it reaps them.
PG_DATA=$(psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -Atc 'show data_directory' postgres 2>/dev/null || true)
POSTMASTER=$(head -1 "$PG_DATA/postmaster.pid" 2>/dev/null || true)
backends() { if [ -n "$POSTMASTER" ] && [ -r "/proc/$POSTMASTER/stat" ]; then awk '{print $16+$17}' "/proc/$POSTMASTER/stat"; else echo -1; fi; }
# CHILDREN: this shell's reaped children's CPU (pgbench), in clock ticks, from the builtin times (run
# in this shell, not in a command substitution's subshell, whose own children would be counted).
children() {
  times >"$WORK/times"
  CHILDREN=$(tail -1 "$WORK/times" | awk -v t="$(getconf CLK_TCK)" '{ s = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); s += a[1] * 60 + a[2] } printf "%.0f\n", s * t }')
}
run() { # run INDEX ROUND
  local i=$1 out="$WORK/${NAMES[$1]}-r$2" m0 m1 c0 c1 n b0 b1 k0 k1 i0 i1
  m0=$(machine); c0=$(cpu "${RPIDS[$i]}"); b0=$(backends); children; k0=$CHILDREN; i0=$(idle)
  PGPASSWORD=${PASS[$i]} timeout $(( DURATION + 60 )) pgbench -n -S -M "$MODE" -c "$CLIENTS" -j $(( CLIENTS < 2 ? CLIENTS : 2 )) \
    -T "$DURATION" -h 127.0.0.1 -p "${PORTS[$i]}" -U "${USERS[$i]}" "${DBS[$i]}" >"$out" 2>&1 || { tail -3 "$out" >&2; exit 1; }
  sleep 0.3 # the backends exit and are reaped
  m1=$(machine); c1=$(cpu "${RPIDS[$i]}"); b1=$(backends); children; k1=$CHILDREN; i1=$(idle)
  n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out")
  [ "$2" = 0 ] && return
  awk -v name="${NAMES[$i]}" -v n="$n" -v d="$DURATION" -v m=$(( m1 - m0 )) -v c=$(( c1 - c0 )) -v t="$(getconf CLK_TCK)" \
    -v b=$(( b0 < 0 ? -1 : b1 - b0 )) -v k=$(( k1 - k0 )) -v idle=$(( i1 - i0 )) 'BEGIN {
    printf "%s\t%.0f\t%.1f\t%.1f\t%s\t%.1f\t%.1f\n", name, n / d, c * 1e6 / t / n, m * 1e6 / t / n,
      b < 0 ? "n/a" : sprintf("%.1f", b * 1e6 / t / n), k * 1e6 / t / n, idle * 1e6 / t / n }' | tee -a "$WORK/runs.tsv" \
    | awk -F'\t' -v r="$2" '{ printf "  round %s %-15s %8s tps  relay %6s  postgres %6s  pgbench %6s  idle %6s  machine %6s us/tx\n", r, $1, $2, $3, $5, $6, $7, $4 }'
}
echo "warming up the Java relays and the gateway (JIT) ..."
for i in "${!NAMES[@]}"; do [ "${NAMES[$i]}" = haproxy ] || { run "$i" 0; run "$i" 0; }; done
: >"$WORK/runs.tsv"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq 1 "$ROUNDS"); do for i in "${!NAMES[@]}"; do run "$i" "$r"; done; done
echo
echo "relay floor $(date -u +%Y-%m-%dT%H:%M:%SZ): pgbench -S -M $MODE -c $CLIENTS, ${DURATION}s x $ROUNDS rounds, $(nproc) CPUs, load $LOAD_BEFORE -> $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-15s %9s %10s %12s %12s %12s %12s %14s\n' relay "tps" "x haproxy" "relay us/tx" "postgres" "pgbench" "idle" "machine us/tx"
med() { sort -n | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
h=$(awk -F'\t' '$1 == "haproxy" { print $2 }' "$WORK/runs.tsv" | med)
for n in "${NAMES[@]}"; do
  t=$(awk -F'\t' -v n="$n" '$1 == n { print $2 }' "$WORK/runs.tsv" | med)
  c=$(awk -F'\t' -v n="$n" '$1 == n { print $3 }' "$WORK/runs.tsv" | med)
  m=$(awk -F'\t' -v n="$n" '$1 == n { print $4 }' "$WORK/runs.tsv" | med)
  b=$(awk -F'\t' -v n="$n" '$1 == n && $5 != "n/a" { print $5 }' "$WORK/runs.tsv" | med)
  k=$(awk -F'\t' -v n="$n" '$1 == n { print $6 }' "$WORK/runs.tsv" | med)
  z=$(awk -F'\t' -v n="$n" '$1 == n { print $7 }' "$WORK/runs.tsv" | med)
  awk -v n="$n" -v t="$t" -v h="$h" -v c="$c" -v m="$m" -v b="${b:-n/a}" -v k="$k" -v z="$z" \
    'BEGIN { printf "%-15s %9.0f %10.3f %12.1f %12s %12.1f %12.1f %14.1f\n", n, t, t / h, c, b == "n/a" ? b : sprintf("%.1f", b), k, z, m }'
done
echo "(medians of the rounds, per transaction: relay = that process's user + system CPU; postgres = the backends'"
echo " CPU; pgbench = its CPU; idle = time the CPUs were idle or waiting for I/O; machine = all CPUs' busy time)"
