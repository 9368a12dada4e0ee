#!/usr/bin/env bash
# Profiles the gateway under pgbench: starts a Gatehouse (bench/gatehouse.sh) with Java Flight
# Recorder on, runs one pgbench select-only run through it, and prints where the gateway's CPU
# samples fall (top frames, and the project's own methods by inclusive samples), plus the JFR file
# for JDK Mission Control. A tool for finding hot spots, not a benchmark: JFR costs a few percent.
# Java code only: a thread's time in the kernel lands on the native frame of its system call
# (write0, read0), and weighs more there than perf says it does (bench/README.md, session 8; use
# `perf record -g` for the kernel's share). Warm-up: WARMUP seconds (default 32) in WARMUP_RUNS runs.
#
#   bench/profile.sh [--mode simple|extended|prepared] [--clients N] [--duration S] [--policy minimal|realistic|FILE]
#                    [--out FILE.jfr]
#
# Needs what pgbench.sh needs, and the pgbench tables (run bench/pgbench.sh once to create them).
set -euo pipefail
MODE=simple CLIENTS=16 DURATION=20 POLICY=minimal OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --mode) MODE=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --policy) POLICY=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "profile.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
unset PGHOST PGPORT PGUSER PGDATABASE PGPASSWORD PGSERVICE PGOPTIONS PGSSLMODE
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/gatehouse.sh"
PG_HOST=${BENCH_PG_HOST:-127.0.0.1}
PG_PORT=${BENCH_PG_PORT:-5432}
BENCH_DB=${BENCH_DB:-gatehouse_bench}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-profile.XXXXXX")
trap 'gh_stop; rm -rf "$WORK"' EXIT
[ -n "$OUT" ] || OUT="$HERE/results/profile-$MODE-c$CLIENTS-$(date -u +%Y%m%dT%H%M%SZ).jfr"
mkdir -p "$(dirname "$OUT")"

. "$GH_ROOT/scripts/jdk.sh"
gh_find_jdk
# CPU-time sampling (jdk.CPUTimeSample, JDK 25 on Linux) samples every thread by the CPU it burns,
# virtual threads included; on older JDKs fall back to execution sampling every millisecond.
EVENT=jdk.CPUTimeSample
"$JAVA_HOME/bin/jfr" configure --input profile "$EVENT#enabled=true" "$EVENT#throttle=1ms" --output "$WORK/cpu.jfc" >/dev/null 2>&1 \
  || { EVENT=jdk.ExecutionSample; "$JAVA_HOME/bin/jfr" configure --input profile "$EVENT#period=1ms" --output "$WORK/cpu.jfc" >/dev/null; }
gh_start "$WORK" prof "$PG_HOST" "$PG_PORT" "$BENCH_DB" "$POLICY" off 200 "${GATEHOUSE_JAVA_OPTS:-}"
threads=$(( CLIENTS < 2 ? CLIENTS : 2 ))
# Warm-up (the JIT compiles the data path) in WARMUP_RUNS runs that each open and close their
# connections, as pgbench.sh's does: the first sessions to end after the JIT compiled the relay
# deoptimize it, and a profile taken before it is compiled again shows the interpreter and C1
# (bench/README.md, session 7). Then the measured run with the recording on.
WARMUP=${WARMUP:-32} WARMUP_RUNS=${WARMUP_RUNS:-4}
[[ "$WARMUP" =~ ^[0-9]+$ && "$WARMUP_RUNS" =~ ^[1-9][0-9]*$ ]] \
  || { echo "profile.sh: WARMUP must be seconds and WARMUP_RUNS a positive count" >&2; exit 2; }
each=$(( WARMUP / WARMUP_RUNS ))
if [ "$each" -gt 0 ]; then
  for _ in $(seq 1 "$WARMUP_RUNS"); do
    PGPASSWORD=$GATEHOUSE_TOKEN timeout 90 pgbench -n -S -M "$MODE" -c "$CLIENTS" -j "$threads" \
      -T "$each" -h 127.0.0.1 -p "$GATEHOUSE_PORT" -U bench bench >/dev/null 2>&1 || true
  done
fi
"$JAVA_HOME/bin/jcmd" "$GATEHOUSE_PID" JFR.start name=measured settings="$WORK/cpu.jfc" >/dev/null
CPU0=$(awk '{print $14 + $15}' "/proc/$GATEHOUSE_PID/stat")
PGPASSWORD=$GATEHOUSE_TOKEN timeout $(( DURATION + 60 )) pgbench -n -S -M "$MODE" -c "$CLIENTS" -j "$threads" -T "$DURATION" \
  -h 127.0.0.1 -p "$GATEHOUSE_PORT" -U bench bench >"$WORK/pgbench.out" 2>&1 || true
CPU1=$(awk '{print $14 + $15}' "/proc/$GATEHOUSE_PID/stat")
"$JAVA_HOME/bin/jcmd" "$GATEHOUSE_PID" JFR.dump name=measured filename="$OUT" >/dev/null
grep -E '^(tps|latency average|number of transactions actually processed)' "$WORK/pgbench.out"
TX=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$WORK/pgbench.out")
echo "gateway CPU during the run: $(( (CPU1 - CPU0) * 10 )) ms over ${DURATION}s, $(awk -v c=$(( (CPU1 - CPU0) * 10 )) -v n="${TX:-0}" 'BEGIN { printf "%.1f", n ? c * 1000 / n : 0 }') us per transaction; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "JFR recording: $OUT ($EVENT)"

"$JAVA_HOME/bin/jfr" print --events "$EVENT" --stack-depth 64 "$OUT" >"$WORK/samples.txt"
TOTAL=$(grep -c "^$EVENT" "$WORK/samples.txt" || true)
echo
echo "== samples by thread (virtual threads as 'virtual') =="
awk -v ev="$EVENT" '$0 ~ "^" ev { t = "" } /(sampledThread|eventThread) = / { t = $0; sub(/.*(sampledThread|eventThread) = "/, "", t); v = ($0 ~ /virtual\)/); sub(/".*/, "", t); gsub(/[0-9]+$/, "N", t); if (v) t = "virtual " t; print t }' \
  "$WORK/samples.txt" | sort | uniq -c | sort -rn | head -15
echo
echo "== top frames (self samples) =="
awk '/stackTrace = \[/ { getline; sub(/^[ \t]+/, ""); sub(/line:.*/, ""); print }' "$WORK/samples.txt" | sort | uniq -c | sort -rn | head -40
echo
echo "== methods, inclusive samples (each method once per sample) =="
awk -v ev="$EVENT" '$0 ~ "^" ev { for (m in seen) print m; delete seen }
     /^[ \t]+[a-zA-Z_$][a-zA-Z0-9_$.]*\(.*line:/ { s = $0; sub(/^[ \t]+/, "", s); sub(/line:.*/, "", s); seen[s] = 1 }
     END { for (m in seen) print m }' "$WORK/samples.txt" | sort | uniq -c | sort -rn | grep -v 'java.lang.Thread.run\|VirtualThread.run\|Continuation' | head -"${TOP:-70}"
echo
echo "total samples: $TOTAL"
