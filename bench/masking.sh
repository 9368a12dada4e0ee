#!/usr/bin/env bash
# Issue #4's masking benchmark: pgbench reads a 1,000,000-row table (an integer and a 32-character
# text per row, about 50 MiB of rows) with the custom script `SELECT * FROM big;`, which reads and
# discards the rows without formatting them, through four targets interleaved in one run:
#   direct     PostgreSQL itself
#   haproxy    Debian's haproxy as a plain TCP relay
#   gh-nomatch Gatehouse with masking configured and applied by policy, but no rule matching the
#              table (target: >= 0.90 x direct rows/s: rows are relayed without being decoded)
#   gh-scan    Gatehouse with value detectors scanning every text column of every row
#              (target: >= 0.60 x direct rows/s)
# Both gateways are real (`gatehouse serve`, development issuer, least-privileged role, audit on),
# started by this script with bench/gatehouse.sh's helpers and stopped on exit. Besides rows/s the
# report gives each relay's CPU time per row (haproxy's and each gateway's, read from /proc before
# and after its runs: steadier than rows/s on a shared machine) and each gateway's peak RSS.
#
# BENCH_COMPARE_CMD=/path/to/gatehouse (a frozen build from bench/snapshot.sh) adds gh-nomatch-b and
# gh-scan-b: the same two gateways run by that build, interleaved with the others (an A/B of a change).
#
# usage: bench/masking.sh [--duration S] [--rounds N] [--rows N] [--keep-logs]
set -euo pipefail

DURATION=${BENCH_DURATION:-20}
ROUNDS=${BENCH_ROUNDS:-3}
ROWS=${BENCH_ROWS:-1000000}
KEEP_LOGS=0
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --rows) ROWS=$2; shift 2 ;;
    --keep-logs) KEEP_LOGS=1; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "masking.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
for n in "$DURATION" "$ROUNDS" "$ROWS"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "masking.sh: duration, rounds and rows must be positive integers" >&2; exit 2; }
done

PG_HOST=${BENCH_PG_HOST:-127.0.0.1}
PG_PORT=${BENCH_PG_PORT:-5432}
PG_USER=${BENCH_PG_USER:-postgres}
BENCH_DB=${BENCH_MASKING_DB:-gatehouse_masking_bench}
unset PGHOST PGPORT PGUSER PGDATABASE PGPASSWORD PGSERVICE PGOPTIONS PGSSLMODE
. "$(cd "$(dirname "$0")" && pwd)/gatehouse.sh"

PGBENCH=$(gh_pg_bin pgbench)
PSQL=$(gh_pg_bin psql)
command -v haproxy >/dev/null 2>&1 || { echo "masking.sh: haproxy not found (Debian: apt-get install haproxy)" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-masking-bench.XXXXXX")
HAPROXY_PID=""
cleanup() {
  if [ -n "$HAPROXY_PID" ] && kill -0 "$HAPROXY_PID" 2>/dev/null; then
    kill "$HAPROXY_PID" 2>/dev/null || true
    wait "$HAPROXY_PID" 2>/dev/null || true
  fi
  gh_stop || true
  if [ "$KEEP_LOGS" = 1 ]; then echo "logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pg_direct() { "$PSQL" -X -w -At -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" "$@"; }

# ---- the table ----------------------------------------------------------------------------------
pg_direct -d postgres -c 'SELECT 1' >/dev/null || { echo "masking.sh: cannot reach PostgreSQL at $PG_HOST:$PG_PORT" >&2; exit 1; }
if [ "$(pg_direct -d postgres -c "SELECT count(*) FROM pg_database WHERE datname = '$BENCH_DB'")" = 0 ]; then
  pg_direct -d postgres -c "CREATE DATABASE \"$BENCH_DB\"" >/dev/null
fi
have=0
if [ "$(pg_direct -d "$BENCH_DB" -c "SELECT to_regclass('big') IS NOT NULL")" = t ]; then
  have=$(pg_direct -d "$BENCH_DB" -c "SELECT count(*) FROM big")
fi
if [ "$have" != "$ROWS" ]; then
  echo "creating table big ($ROWS rows of int + 32-character text) in $BENCH_DB ..."
  pg_direct -d "$BENCH_DB" -c "DROP TABLE IF EXISTS big" \
    -c "CREATE TABLE big AS SELECT g AS id, md5(g::text) AS t FROM generate_series(1, $ROWS) AS g" \
    -c "VACUUM ANALYZE big" >/dev/null
fi
echo 'SELECT * FROM big;' >"$WORK/select-big.sql"

# ---- haproxy ------------------------------------------------------------------------------------
HAPROXY_PORT=$(gh_free_port 25432)
cat >"$WORK/haproxy.cfg" <<EOF
global
    maxconn 256
defaults
    mode tcp
    timeout connect 5s
    timeout client 10m
    timeout server 10m
frontend bench
    bind 127.0.0.1:$HAPROXY_PORT
    default_backend postgres
backend postgres
    server pg $PG_HOST:$PG_PORT
EOF
haproxy -f "$WORK/haproxy.cfg" -db >"$WORK/haproxy.log" 2>&1 &
HAPROXY_PID=$!
for _ in $(seq 1 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$HAPROXY_PORT") 2>/dev/null && break
  sleep 0.1
done

# ---- the gateways -------------------------------------------------------------------------------
# Masking rules in gatehouse.yaml and a policy that applies them to group bench (docs/masking.md).
masking_policy() {
  local file=$1 masks=$2
  cat >"$file" <<POLICY
version: 1
rules:
  - name: bench-all-masked
    effect: allow
    applies_to: [connect, commands]
    subjects: {groups: [bench]}
    resources: {names: [bench]}
    mask: [$masks]
POLICY
}
MASKING_RULES='masking:
  rules:
    - name: nomatch
      description: masks columns the benchmark table does not have
      columns: ["*.customers.email", "*.*.ssn", "*.*.card_number"]
      style: {type: redact}
    - name: scan
      description: every detector over every text column
      detect: [all]
      detectIn: all'

# start_masked NAME MASKS: a gateway whose policy applies masking rules MASKS; sets NAME_PORT.
start_masked() {
  local name=$1 masks=$2
  # gh_start writes its own masking section, and the gateway refuses a policy naming rules that
  # section does not define: start with the minimal policy, then swap in this benchmark's rules
  # and policy and restart that instance.
  gh_start "$WORK" "$name" "$PG_HOST" "$PG_PORT" "$BENCH_DB" minimal off 20 "${GATEHOUSE_JAVA_OPTS:-}" || exit 1
  gh_stop_last
  masking_policy "$GH_DIR/policy.yaml" "$masks"
  awk '/^masking:/ { skip = 1; next } skip && /^[^ #]/ { skip = 0 } !skip' "$GH_DIR/gatehouse.yaml" >"$GH_DIR/gatehouse.yaml.new"
  printf '%s\n' "$MASKING_RULES" >>"$GH_DIR/gatehouse.yaml.new"
  mv "$GH_DIR/gatehouse.yaml.new" "$GH_DIR/gatehouse.yaml"
  gh_restart "$name"
}
gh_stop_last() {
  local pid=${GH_SERVE_PIDS[-1]}
  kill "$pid" 2>/dev/null || true
  # Gone before its ports are reused (a loaded machine can take a while to stop a JVM).
  for _ in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; sleep 1; fi
  unset 'GH_SERVE_PIDS[-1]'
}
gh_restart() {
  local name=$1 cmd=${GATEHOUSE_CMD:-$GH_ROOT/gatehouse}
  JAVA_OPTS="${GATEHOUSE_JAVA_OPTS:-}" "$cmd" serve --config "$GH_DIR/gatehouse.yaml" >"$GH_DIR/gatehouse.log" 2>&1 &
  local pid=$!
  GH_SERVE_PIDS+=("$pid")
  local code=""
  for _ in $(seq 1 600); do
    kill -0 "$pid" 2>/dev/null || break
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$GATEHOUSE_CONTROL_PORT/readyz" 2>/dev/null || true)
    [ "$code" = 200 ] && break
    sleep 0.5
  done
  [ "$code" = 200 ] || { echo "masking.sh: gateway $name did not become ready" >&2; tail -20 "$GH_DIR/gatehouse.log" >&2; exit 1; }
  grep -q 'masking rules' "$GH_DIR/gatehouse.log" || { echo "masking.sh: gateway $name started without masking" >&2; exit 1; }
}

echo "starting Gatehouse with masking configured, not matching ..."
start_masked nomatch nomatch
NOMATCH_PORT=$GATEHOUSE_PORT
NOMATCH_PID=${GH_SERVE_PIDS[-1]}
echo "starting Gatehouse with detectors scanning every text column ..."
start_masked scan scan
SCAN_PORT=$GATEHOUSE_PORT
SCAN_PID=${GH_SERVE_PIDS[-1]}
TARGETS="direct haproxy gh-nomatch gh-scan"
if [ -n "${BENCH_COMPARE_CMD:-}" ]; then
  echo "starting the same two gateways with $BENCH_COMPARE_CMD ..."
  GATEHOUSE_CMD=$BENCH_COMPARE_CMD start_masked nomatch-b nomatch
  NOMATCH_B_PORT=$GATEHOUSE_PORT NOMATCH_B_PID=${GH_SERVE_PIDS[-1]}
  GATEHOUSE_CMD=$BENCH_COMPARE_CMD start_masked scan-b scan
  SCAN_B_PORT=$GATEHOUSE_PORT SCAN_B_PID=${GH_SERVE_PIDS[-1]}
  TARGETS="$TARGETS gh-nomatch-b gh-scan-b"
fi
pg_direct -d "$BENCH_DB" -c "GRANT SELECT ON big TO gh_bench" >/dev/null

# A check before measuring: the scanning gateway really masks what its detectors find.
probe=$(PGPASSWORD=$GATEHOUSE_TOKEN "$PSQL" -X -w -At -h 127.0.0.1 -p "$SCAN_PORT" -U bench -d bench \
  -c "SELECT 'mail ada@example.com'" 2>&1 || true)
case "$probe" in *ada@example.com*) echo "masking.sh: the scanning gateway did not mask (got: $probe)" >&2; exit 1 ;; esac

# ---- runs ---------------------------------------------------------------------------------------
run() {
  local target=$1 round=$2 port user=$PG_USER db=$BENCH_DB pass="" pid=""
  case "$target" in
    direct) port=$PG_PORT ;;
    haproxy) port=$HAPROXY_PORT pid=$HAPROXY_PID ;;
    gh-nomatch) port=$NOMATCH_PORT user=bench db=bench pass=$GATEHOUSE_TOKEN pid=$NOMATCH_PID ;;
    gh-scan) port=$SCAN_PORT user=bench db=bench pass=$GATEHOUSE_TOKEN pid=$SCAN_PID ;;
    gh-nomatch-b) port=$NOMATCH_B_PORT user=bench db=bench pass=$GATEHOUSE_TOKEN pid=$NOMATCH_B_PID ;;
    gh-scan-b) port=$SCAN_B_PORT user=bench db=bench pass=$GATEHOUSE_TOKEN pid=$SCAN_B_PID ;;
  esac
  local ticks0=0
  [ -n "$pid" ] && ticks0=$(cpu_ticks "$pid")
  local out="$WORK/$target-r$round.out"
  if ! PGPASSWORD=$pass PGCONNECT_TIMEOUT=10 timeout $(( DURATION + 120 )) "$PGBENCH" -n -M simple -c 1 -j 1 \
      -T "$DURATION" -f "$WORK/select-big.sql" -h 127.0.0.1 -p "$port" -U "$user" "$db" >"$out" 2>&1; then
    echo "masking.sh: pgbench failed against $target:" >&2
    tail -5 "$out" >&2
    exit 1
  fi
  local tps
  tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)$/\1/p' "$out")
  [ -n "$tps" ] || { echo "masking.sh: no tps in $out" >&2; cat "$out" >&2; exit 1; }
  # The relay's CPU time per row (user + system, all its threads): robust where rows/s is noisy.
  local nsrow=0 scans
  scans=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out")
  if [ -n "$pid" ] && [ "${scans:-0}" -gt 0 ]; then
    nsrow=$(awk -v a="$ticks0" -v b="$(cpu_ticks "$pid")" -v hz="$CLK_TCK" -v n="$scans" -v r="$ROWS" \
      'BEGIN { printf "%.0f", (b - a) * 1e9 / hz / (n * r) }')
  fi
  printf '%s\t%s\t%s\t%s\n' "$target" "$round" "$tps" "$nsrow" >>"$WORK/runs.tsv"
  printf '  %-10s round %s: %8.3f scans/s = %12.0f rows/s\n' "$target" "$round" "$tps" "$(awk -v t="$tps" -v r="$ROWS" 'BEGIN { print t * r }')"
}
vm_hwm() { awk '/^VmHWM:/ { printf "%d MiB", $2 / 1024 }' "/proc/$1/status" 2>/dev/null; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
CLK_TCK=$(getconf CLK_TCK)
median() {
  awk -F'\t' -v t="$1" -v c="${2:-3}" '$1 == t { print $c }' "$WORK/runs.tsv" | sort -n | awk '
    { v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "Gatehouse masking benchmark: SELECT * FROM big ($ROWS rows), 1 client, simple protocol, ${DURATION}s per run, $ROUNDS round(s)"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$WORK/runs.tsv"
for round in $(seq 1 "$ROUNDS"); do
  for target in $TARGETS; do run "$target" "$round"; done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

report() {
  local d h n s
  d=$(median direct); h=$(median haproxy); n=$(median gh-nomatch); s=$(median gh-scan)
  echo "Gatehouse masking benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ): SELECT * FROM big ($ROWS rows: int + 32-char text),"
  echo "1 client, pgbench -M simple, ${DURATION}s per run, median of $ROUNDS round(s); $(nproc) CPUs, load before $LOAD_BEFORE, after $LOAD_AFTER"
  printf '%-11s %14s %10s %14s\n' target rows/s x-direct 'relay ns/row'
  for t in $TARGETS; do
    local v c
    v=$(median "$t"); c=$(median "$t" 4)
    awk -v t="$t" -v v="$v" -v d="$d" -v r="$ROWS" -v c="$c" 'BEGIN {
      printf "%-11s %14.0f %10.3f %14s\n", t, v * r, (d > 0) ? v / d : 0, (t == "direct") ? "-" : c }'
  done
  echo "relay ns/row: the relay's CPU time (user + system) per row relayed, median of the rounds"
  echo "gateway peak RSS: gh-nomatch $(vm_hwm "$NOMATCH_PID"), gh-scan $(vm_hwm "$SCAN_PID")${NOMATCH_B_PID:+,\
 gh-nomatch-b $(vm_hwm "$NOMATCH_B_PID"), gh-scan-b $(vm_hwm "$SCAN_B_PID")}"
  awk -v n="$n" -v s="$s" -v d="$d" 'BEGIN {
    a = (d > 0) ? n / d : 0; b = (d > 0) ? s / d : 0
    printf "masking configured, not matching: %.3f x direct (target 0.90) %s\n", a, (a >= 0.90) ? "ok" : "BELOW TARGET"
    printf "detectors on every text column:   %.3f x direct (target 0.60) %s\n", b, (b >= 0.60) ? "ok" : "BELOW TARGET"
  }'
}
RESULTS_DIR=${BENCH_RESULTS:-$(cd "$(dirname "$0")" && pwd)/results}
mkdir -p "$RESULTS_DIR"
RESULTS_FILE="$RESULTS_DIR/masking-$(date -u +%Y%m%dT%H%M%SZ).txt"
echo
report | tee "$RESULTS_FILE"
echo "(saved to $RESULTS_FILE)"
