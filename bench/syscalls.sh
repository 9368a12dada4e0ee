#!/usr/bin/env bash
# Counts what the gateway asks of the kernel per pgbench transaction: read and write system calls
# (syscr/syscw of /proc/PID/io, which include the audit store's file I/O), the gateway's CPU
# (user + system), its minor page faults (a first write to a page of the audit journal's mapping
# takes one), and its threads' voluntary context switches (a thread sleeping in a read) and
# involuntary ones (preempted); then the CPU per transaction of each kind of thread, user and system
# apart (the relay's loop threads, the audit indexer, the JIT compilers, the collector): the loop
# threads' user time is the gateway's own code on the statement path. Sampled in the middle of a
# run, while the sessions' threads exist, after a warm-up that opens and closes connections as
# pgbench.sh's does (the JIT recompiles the relay after a warm-up with one set of connections).
# A tool for understanding where per-transaction cost comes from, not a benchmark.
#
#   bench/syscalls.sh [--mode simple|extended|prepared] [--clients N] [--warmup S] [--warmup-runs N]
#
# Needs what pgbench.sh needs, and the pgbench tables (run bench/pgbench.sh once to create them).
set -euo pipefail
MODE=prepared CLIENTS=16 WARMUP=32 WARMUP_RUNS=4
while [ $# -gt 0 ]; do
  case "$1" in
    --mode) MODE=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --warmup-runs) WARMUP_RUNS=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
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
[[ "$WARMUP" =~ ^[0-9]+$ && "$WARMUP_RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "syscalls.sh: --warmup and --warmup-runs take numbers" >&2; exit 2; }
if [ "$WARMUP" -gt 0 ]; then
  for _ in $(seq 1 "$WARMUP_RUNS"); do run $(( (WARMUP + WARMUP_RUNS - 1) / WARMUP_RUNS )) >/dev/null 2>&1; done
fi
# io counters, CPU ticks, voluntary and involuntary switches summed over the live threads
snap() {
  local p=$GATEHOUSE_PID
  echo "$(awk '/^syscr/{print $2}' /proc/$p/io) $(awk '/^syscw/{print $2}' /proc/$p/io) $(awk '{print $14 + $15, $10}' /proc/$p/stat)" \
    "$(cat /proc/$p/task/*/status 2>/dev/null | awk '/^voluntary_ctxt_switches/{s += $2} END {print s}')" \
    "$(cat /proc/$p/task/*/status 2>/dev/null | awk '/^nonvoluntary_ctxt_switches/{s += $2} END {print s}')"
}
# per thread: id, name (spaces as _), user and system ticks
threads() {
  local t st name rest
  for t in /proc/"$GATEHOUSE_PID"/task/*; do
    st=$(cat "$t/stat" 2>/dev/null) || continue
    name=${st#*(}; name=${name%)*}; rest=${st##*) }
    # shellcheck disable=SC2086
    set -- $rest
    echo "${t##*/} ${name// /_} ${12} ${13}"
  done | sort
}
run 14 -P 1 >"$WORK/pgbench.out" 2>&1 &
pgb=$!
sleep 2.5; a=$(snap); threads >"$WORK/threads0"; sleep 10; b=$(snap); threads >"$WORK/threads1"
wait "$pgb" || true
# transactions in the window: pgbench's per-second progress of seconds 3 to 12
tx=$(awk '/^progress: [0-9.]+ s, [0-9.]+ tps/ { t = $2 + 0; if (t >= 3 && t <= 12) s += $4 } END { printf "%d", s }' "$WORK/pgbench.out")
[ "${tx:-0}" -gt 0 ] || { echo "syscalls.sh: no transactions counted; pgbench said:" >&2; cat "$WORK/pgbench.out" >&2; exit 1; }
read -r r0 w0 c0 f0 v0 n0 <<<"$a"
read -r r1 w1 c1 f1 v1 n1 <<<"$b"
hz=$(getconf CLK_TCK)
echo "$MODE, $CLIENTS clients, about $tx transactions in 10 s (load average $(cut -d' ' -f1-3 /proc/loadavg)); per transaction:"
awk -v r=$((r1 - r0)) -v w=$((w1 - w0)) -v c=$((c1 - c0)) -v hz="$hz" -v t="$tx" -v v=$((v1 - v0)) -v n=$((n1 - n0)) -v f=$((f1 - f0)) \
  'BEGIN { printf "  read calls %.2f, write calls %.2f, gateway CPU %.1f us, voluntary context switches %.2f, involuntary %.2f, minor page faults %.3f\n",
           r / t, w / t, c * 1e6 / hz / t, v / t, n / t, f / t }'
# threads alive at both ends, by kind: a loop thread's name ends in -tN, the compilers' in a number
echo "  CPU per transaction by thread (us, user + system):"
join "$WORK/threads0" "$WORK/threads1" | awk -v hz="$hz" -v t="$tx" '{
    k = $2; sub(/-t[0-9]+$/, "", k); sub(/-?[0-9]+$/, "", k)
    u[k] += $6 - $3; s[k] += $7 - $4 }
  END { for (k in u) if (u[k] + s[k] > 0) printf "    %-26s %6.2f + %6.2f\n", k, u[k] * 1e6 / hz / t, s[k] * 1e6 / hz / t }' | sort -k2 -n -r
