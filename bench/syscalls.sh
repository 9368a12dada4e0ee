#!/usr/bin/env bash
# Counts what the gateway asks of the kernel per pgbench transaction: read and write system calls
# (syscr/syscw of /proc/PID/io, which include the audit store's file I/O), the gateway's CPU
# (user + system), and its threads' voluntary context switches (a thread sleeping in a read) and
# involuntary ones (preempted). Sampled in the middle of a run, while the sessions' threads exist.
# A tool for understanding where per-transaction cost comes from, not a benchmark.
#
#   bench/syscalls.sh [--mode simple|extended|prepared] [--clients N] [--warmup S]
#
# Needs what pgbench.sh needs, and the pgbench tables (run bench/pgbench.sh once to create them).
set -euo pipefail
MODE=prepared CLIENTS=16 WARMUP=15
while [ $# -gt 0 ]; do
  case "$1" in
    --mode) MODE=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "syscalls.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
unset PGHOST PGPORT PGUSER PGDATABASE PGPASSWORD PGSERVICE PGOPTIONS PGSSLMODE
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/gatehouse.sh"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-syscalls.XXXXXX")
trap 'gh_stop; rm -rf "$WORK"' EXIT
gh_start "$WORK" sys "${BENCH_PG_HOST:-127.0.0.1}" "${BENCH_PG_PORT:-5432}" "${BENCH_DB:-gatehouse_bench}" minimal off 200 \
  "${GATEHOUSE_JAVA_OPTS:-}" >/dev/null
threads=$(( CLIENTS < 2 ? CLIENTS : 2 ))
run() { # run SECONDS [extra pgbench options]
  local t=$1; shift
  PGPASSWORD=$GATEHOUSE_TOKEN timeout $(( t + 60 )) pgbench -n -S -M "$MODE" -c "$CLIENTS" -j "$threads" -T "$t" "$@" \
    -h 127.0.0.1 -p "$GATEHOUSE_PORT" -U bench bench
}
[ "$WARMUP" -gt 0 ] && run "$WARMUP" >/dev/null 2>&1
# io counters, CPU ticks, voluntary and involuntary switches summed over the live threads
snap() {
  local p=$GATEHOUSE_PID
  echo "$(awk '/^syscr/{print $2}' /proc/$p/io) $(awk '/^syscw/{print $2}' /proc/$p/io) $(awk '{print $14 + $15}' /proc/$p/stat)" \
    "$(cat /proc/$p/task/*/status 2>/dev/null | awk '/^voluntary_ctxt_switches/{s += $2} END {print s}')" \
    "$(cat /proc/$p/task/*/status 2>/dev/null | awk '/^nonvoluntary_ctxt_switches/{s += $2} END {print s}')"
}
run 14 -P 1 >"$WORK/pgbench.out" 2>&1 &
pgb=$!
sleep 2.5; a=$(snap); sleep 10; b=$(snap)
wait "$pgb" || true
# transactions in the window: pgbench's per-second progress of seconds 3 to 12
tx=$(awk '/^progress: [0-9.]+ s, [0-9.]+ tps/ { t = $2 + 0; if (t >= 3 && t <= 12) s += $4 } END { printf "%d", s }' "$WORK/pgbench.out")
[ "${tx:-0}" -gt 0 ] || { echo "syscalls.sh: no transactions counted; pgbench said:" >&2; cat "$WORK/pgbench.out" >&2; exit 1; }
read -r r0 w0 c0 v0 n0 <<<"$a"
read -r r1 w1 c1 v1 n1 <<<"$b"
hz=$(getconf CLK_TCK)
echo "$MODE, $CLIENTS clients, about $tx transactions in 10 s (load average $(cut -d' ' -f1-3 /proc/loadavg)); per transaction:"
awk -v r=$((r1 - r0)) -v w=$((w1 - w0)) -v c=$((c1 - c0)) -v hz="$hz" -v t="$tx" -v v=$((v1 - v0)) -v n=$((n1 - n0)) \
  'BEGIN { printf "  read calls %.2f, write calls %.2f, gateway CPU %.1f us, voluntary context switches %.2f, involuntary %.2f\n",
           r / t, w / t, c * 1e6 / hz / t, v / t, n / t }'
