#!/usr/bin/env bash
# What connection churn costs a warmed-up gateway's JIT: starts a Gatehouse (bench/gatehouse.sh),
# then runs pgbench select-only through it several times, each run with new connections, and
# prints per run its TPS, the CPU time the C2 compiler threads spent during it and the
# deoptimizations it caused (-Xlog:deoptimization), those of the project's methods apart.
# A tool for understanding the warm-up pgbench.sh needs, not a benchmark.
#
#   bench/jit-churn.sh [--runs N] [--duration S] [--first S] [--mode simple|extended|prepared] [--clients N]
#
# Run 0 (--first seconds, default 15) is the first load the gateway sees; runs 1..N (default 6,
# --duration seconds each, default 10) follow, each opening and closing its connections.
set -euo pipefail
RUNS=6 DURATION=10 FIRST=15 MODE=prepared CLIENTS=16
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --first) FIRST=$2; shift 2 ;;
    --mode) MODE=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "jit-churn.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
unset PGHOST PGPORT PGUSER PGDATABASE PGPASSWORD PGSERVICE PGOPTIONS PGSSLMODE
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/gatehouse.sh"
PGBENCH=$(command -v pgbench || true)
[ -n "$PGBENCH" ] || { echo "jit-churn.sh: pgbench not found (Debian: postgresql-contrib)" >&2; exit 1; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-jit.XXXXXX")
trap 'gh_stop; rm -rf "$WORK"' EXIT
DEOPT="$WORK/deopt.log"
gh_start "$WORK" main "${BENCH_PG_HOST:-127.0.0.1}" "${BENCH_PG_PORT:-5432}" "${BENCH_DB:-gatehouse_bench}" minimal off 200 \
  "-Xlog:deoptimization=debug:file=$DEOPT ${GATEHOUSE_JAVA_OPTS:-}" || exit 1
# CPU time (clock ticks) of the JVM's C2 compiler threads.
c2_ticks() {
  local t sum=0
  for t in /proc/"$GATEHOUSE_PID"/task/*; do
    if grep -q '^C2 Compiler' "$t/comm" 2>/dev/null; then
      sum=$(( sum + $(awk '{print $14 + $15}' "$t/stat") ))
    fi
  done
  echo "$sum"
}
HZ=$(getconf CLK_TCK)
echo "jit-churn $(date -u +%Y-%m-%dT%H:%M:%SZ): $MODE, $CLIENTS clients, load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-4s %6s %10s %10s %8s %14s\n' run seconds tps "C2 ms" deopts "of the project"
for r in $(seq 0 "$RUNS"); do
  d=$DURATION; [ "$r" = 0 ] && d=$FIRST
  c0=$(c2_ticks); n0=$(wc -l <"$DEOPT")
  tps=$(PGPASSWORD=$GATEHOUSE_TOKEN "$PGBENCH" -n -S -M "$MODE" -c "$CLIENTS" -j $(( CLIENTS < 2 ? CLIENTS : 2 )) -T "$d" \
    -h "$GATEHOUSE_HOST" -p "$GATEHOUSE_PORT" -U "$GATEHOUSE_USER" "$GATEHOUSE_DB" 2>&1 | awk '/^tps/ {printf "%.0f", $3}')
  sleep 1 # the sessions' ends, and what they deoptimize, belong to this run
  c1=$(c2_ticks); n1=$(wc -l <"$DEOPT")
  own=$(tail -n +"$(( n0 + 1 ))" "$DEOPT" | grep -c 'dev\.gatehouse' || true)
  printf '%-4s %6s %10s %10s %8s %14s\n' "$r" "$d" "${tps:-?}" $(( (c1 - c0) * 1000 / HZ )) $(( n1 - n0 )) "$own"
  sleep 2
done
