#!/usr/bin/env bash
# pgbench select-only through three targets, interleaved in one run:
#   direct    PostgreSQL itself
#   haproxy   Debian's haproxy as a plain TCP relay (the reference for what any extra hop costs)
#   gatehouse the gateway under test, started by this script (bench/gatehouse.sh) with the policy
#             of --policy, or an already running one named by GATEHOUSE_PORT/DB/TOKEN
#   gh-real   with --policy both: a second gateway with the realistic 22-rule policy (issue #3)
# For each protocol mode (simple, extended, prepared) and client count (1, 16) it runs
# direct, haproxy, gatehouse, direct, haproxy, gatehouse ... and prints TPS, the ratios
# gatehouse/haproxy and gatehouse/direct, and median/p99 latency at 1 client from `pgbench -l`.
#
# Everything runs on loopback, each pgbench is bounded by `timeout`, haproxy is stopped and the
# temporary files removed on exit. See bench/README.md for the targets of issue #2.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/pgbench.sh [--duration S] [--scale N] [--rounds N] [--modes "simple extended prepared"]
                        [--clients "1 16"] [--policy minimal|realistic|both|FILE] [--warmup S]
                        [--warmup-runs N]
                        [--smoke] [--keep-logs]

By default the script starts a real Gatehouse itself (bench/gatehouse.sh: development issuer,
least-privileged role gh_bench, gatehouse.yaml on loopback, audit on) and stops it afterwards.
  --policy minimal     one rule allowing group bench everything the guardrails allow (default)
  --policy realistic   the policy module's 22-rule realistic policy
  --policy both        two gateways, minimal ("gatehouse") and realistic ("gh-real"), interleaved;
                       reports issue #3's check: gh-real >= 0.9 x gatehouse in every mode
  --warmup S           unmeasured load through each gateway before the runs, S seconds per mode at
                       16 clients (default 32; 0: none), so the JIT has compiled the data path: a JVM
                       reaches its steady state after some 30-40 s of load, haproxy needs none
  --warmup-runs N      the warm-up's seconds are split into N pgbench runs per mode (default 4),
                       each opening and closing its 16 connections like a measured run: the first
                       sessions to end after the JIT compiled the data path deoptimize it (branches
                       and types it never saw), and it is recompiled with them; without this the
                       measured runs pay for that, mostly the first (bench/README.md, session 7)

Environment (all optional):
  BENCH_PG_HOST/BENCH_PG_PORT/BENCH_PG_USER   PostgreSQL for the direct target (127.0.0.1/5432/postgres, trust)
  BENCH_DB                                    database pgbench initialises there (gatehouse_bench)
  BENCH_SSLMODE                               disable (default: all plaintext) or require (all TLS; the
                                              server must have ssl=on; haproxy relays TLS untouched)
  BENCH_HAPROXY_PORT                          loopback port for haproxy (a free one if unset)
  GATEHOUSE_HOST/GATEHOUSE_PORT/GATEHOUSE_DB  set GATEHOUSE_PORT to use an already running gateway instead:
  GATEHOUSE_TOKEN                             its listener, resource name, the token sent as password
  GATEHOUSE_USER                              (PGPASSWORD) and the user name (informational; bench)
  GATEHOUSE_JAVA_OPTS                         JVM options for the gateway the script starts
  GATEHOUSE_CMD                               the gatehouse launcher (default: ./gatehouse)
  --smoke                                     no gateway: point the gatehouse target at PostgreSQL itself,
                                              to test this script only (the output says so)
EOF
}

DURATION=${BENCH_DURATION:-10}
SCALE=${BENCH_SCALE:-10}
ROUNDS=${BENCH_ROUNDS:-1}
MODES=${BENCH_MODES:-"simple extended prepared"}
CLIENTS=${BENCH_CLIENTS:-"1 16"}
POLICY=${BENCH_POLICY:-minimal}
SMOKE=0
KEEP_LOGS=0
WARMUP=${BENCH_WARMUP:-32}
WARMUP_RUNS=${BENCH_WARMUP_RUNS:-4}
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION=$2; shift 2 ;;
    --scale) SCALE=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --modes) MODES=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --policy) POLICY=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --warmup-runs) WARMUP_RUNS=$2; shift 2 ;;
    --smoke) SMOKE=1; shift ;;
    --keep-logs) KEEP_LOGS=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "pgbench.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
case "$POLICY" in minimal|realistic|both) ;; *) [ -f "$POLICY" ] || { echo "pgbench.sh: --policy: minimal, realistic, both or a file" >&2; exit 2; } ;; esac
for n in "$DURATION" "$SCALE" "$ROUNDS"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "pgbench.sh: duration, scale and rounds must be positive integers" >&2; exit 2; }
done
[[ "$WARMUP" =~ ^[0-9]+$ ]] || { echo "pgbench.sh: --warmup must be a number of seconds" >&2; exit 2; }
[[ "$WARMUP_RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "pgbench.sh: --warmup-runs must be a positive integer" >&2; exit 2; }

PG_HOST=${BENCH_PG_HOST:-127.0.0.1}
PG_PORT=${BENCH_PG_PORT:-5432}
PG_USER=${BENCH_PG_USER:-postgres}
BENCH_DB=${BENCH_DB:-gatehouse_bench}
SSLMODE=${BENCH_SSLMODE:-disable}
case "$SSLMODE" in disable|require) ;; *) echo "pgbench.sh: BENCH_SSLMODE must be disable or require" >&2; exit 2 ;; esac
# A developer's PG* variables must not redirect or authenticate any of the runs.
unset PGHOST PGPORT PGUSER PGDATABASE PGPASSWORD PGSERVICE PGOPTIONS PGSSLMODE
. "$(cd "$(dirname "$0")" && pwd)/gatehouse.sh"

PGBENCH=$(gh_pg_bin pgbench)
PSQL=$(gh_pg_bin psql)
command -v haproxy >/dev/null 2>&1 || { echo "pgbench.sh: haproxy not found (Debian: apt-get install haproxy)" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-bench.XXXXXX")
HAPROXY_PID=""
cleanup() {
  if [ -n "$HAPROXY_PID" ] && kill -0 "$HAPROXY_PID" 2>/dev/null; then
    kill "$HAPROXY_PID" 2>/dev/null || true
    wait "$HAPROXY_PID" 2>/dev/null || true
  fi
  stop_gatehouse || true
  if [ "$KEEP_LOGS" = 1 ]; then echo "logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  local p
  for p in $(seq 25432 25532); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  echo "pgbench.sh: no free port in 25432-25532" >&2
  exit 1
}

# ---- the gateway ------------------------------------------------------------------------------
# start_gatehouse: starts the gateway(s) with bench/gatehouse.sh against $PG_HOST:$PG_PORT/$BENCH_DB,
# unless GATEHOUSE_PORT names one already running (then GATEHOUSE_DB and GATEHOUSE_TOKEN too).
TARGETS="direct haproxy gatehouse"
EXTERNAL=0
GH_POLICY_NOTE=""
GH_DIRS=()
start_gatehouse() {
  if [ "$SMOKE" = 1 ]; then
    GATEHOUSE_HOST=$PG_HOST GATEHOUSE_PORT=$PG_PORT GATEHOUSE_DB=$BENCH_DB GATEHOUSE_TOKEN="" GATEHOUSE_USER=$PG_USER
    return
  fi
  if [ -n "${GATEHOUSE_PORT:-}" ]; then
    EXTERNAL=1
    : "${GATEHOUSE_HOST:=127.0.0.1}"
    if [ -z "${GATEHOUSE_DB:-}" ] || [ -z "${GATEHOUSE_TOKEN:-}" ]; then
      echo "pgbench.sh: with GATEHOUSE_PORT set, set GATEHOUSE_DB and GATEHOUSE_TOKEN too (or unset it to let the script start one)" >&2
      exit 2
    fi
    : "${GATEHOUSE_USER:=bench}"
    GH_POLICY_NOTE="gatehouse: an external gateway (policy unknown to this script)"
    return
  fi
  local tls=off first=$POLICY
  [ "$SSLMODE" = require ] && tls=auto
  [ "$POLICY" = both ] && first=minimal
  echo "starting Gatehouse (policy $first, TLS $tls) ..."
  gh_start "$WORK" main "$PG_HOST" "$PG_PORT" "$BENCH_DB" "$first" "$tls" 200 "${GATEHOUSE_JAVA_OPTS:-}" || exit 1
  GH_DIRS+=("$GH_DIR")
  GH_POLICY_NOTE="gatehouse: policy $GATEHOUSE_POLICY_NAME, audit on (SQLite, durability process), pid $GATEHOUSE_PID"
  if [ "$POLICY" = both ]; then
    local p=$GATEHOUSE_PORT pid=$GATEHOUSE_PID
    echo "starting a second Gatehouse (policy realistic, TLS $tls) ..."
    gh_start "$WORK" real "$PG_HOST" "$PG_PORT" "$BENCH_DB" realistic "$tls" 200 "${GATEHOUSE_JAVA_OPTS:-}" || exit 1
    GH_DIRS+=("$GH_DIR")
    GHR_PORT=$GATEHOUSE_PORT
    GH_POLICY_NOTE="$GH_POLICY_NOTE
gh-real:   policy $GATEHOUSE_POLICY_NAME, audit on (SQLite, durability process), pid $GATEHOUSE_PID"
    GATEHOUSE_PORT=$p GATEHOUSE_PID=$pid
    TARGETS="direct haproxy gatehouse gh-real"
  fi
}
stop_gatehouse() {
  gh_stop
}

# ---- set-up -----------------------------------------------------------------------------------
pg_direct() { PGSSLMODE=$SSLMODE "$PSQL" -X -w -At -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" "$@"; }

pg_direct -d postgres -c 'SELECT 1' >/dev/null || { echo "pgbench.sh: cannot reach PostgreSQL at $PG_HOST:$PG_PORT as $PG_USER" >&2; exit 1; }
if [ "$(pg_direct -d postgres -c "SELECT count(*) FROM pg_database WHERE datname = '$BENCH_DB'")" = 0 ]; then
  pg_direct -d postgres -c "CREATE DATABASE \"$BENCH_DB\"" >/dev/null
fi
have_scale=$(pg_direct -d "$BENCH_DB" -c "SELECT CASE WHEN to_regclass('pgbench_branches') IS NULL THEN 0 ELSE (SELECT count(*) FROM pgbench_branches) END" 2>/dev/null || echo 0)
if [ "$have_scale" != "$SCALE" ]; then
  echo "initialising pgbench tables at scale $SCALE in $BENCH_DB ..."
  PGSSLMODE=$SSLMODE timeout 900 "$PGBENCH" -i -q -s "$SCALE" -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" "$BENCH_DB" >"$WORK/init.log" 2>&1 \
    || { cat "$WORK/init.log" >&2; exit 1; }
fi

HAPROXY_PORT=${BENCH_HAPROXY_PORT:-$(free_port)}
cat >"$WORK/haproxy.cfg" <<EOF
global
    maxconn 4096
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
  kill -0 "$HAPROXY_PID" 2>/dev/null || { cat "$WORK/haproxy.log" >&2; echo "pgbench.sh: haproxy did not start" >&2; exit 1; }
  sleep 0.1
done

start_gatehouse
SMOKE_NOTE=""
if [ "$GATEHOUSE_PORT" = "$PG_PORT" ] || [ "$GATEHOUSE_PORT" = "$HAPROXY_PORT" ]; then
  SMOKE_NOTE="SMOKE TEST ONLY: the 'gatehouse' target is $GATEHOUSE_HOST:$GATEHOUSE_PORT, not a gateway; the figures test this script, not Gatehouse."
fi

# ---- runs -------------------------------------------------------------------------------------
# run TARGET MODE CLIENTS ROUND: one pgbench run; appends "target mode clients round tps" to runs.tsv
run() {
  local target=$1 mode=$2 clients=$3 round=$4 host port db user pass=""
  case "$target" in
    direct) host=$PG_HOST port=$PG_PORT db=$BENCH_DB user=$PG_USER ;;
    haproxy) host=127.0.0.1 port=$HAPROXY_PORT db=$BENCH_DB user=$PG_USER ;;
    gatehouse) host=$GATEHOUSE_HOST port=$GATEHOUSE_PORT db=$GATEHOUSE_DB user=$GATEHOUSE_USER pass=$GATEHOUSE_TOKEN ;;
    gh-real) host=$GATEHOUSE_HOST port=$GHR_PORT db=$GATEHOUSE_DB user=$GATEHOUSE_USER pass=$GATEHOUSE_TOKEN ;;
  esac
  local threads=$(( clients < 2 ? clients : 2 ))
  local dir="$WORK/$mode-c$clients-$target-r$round"
  local log=()
  mkdir -p "$dir"
  [ "$clients" = 1 ] && log=(-l "--log-prefix=$dir/tx")
  local out="$dir/pgbench.out"
  if ! PGPASSWORD=$pass PGSSLMODE=$SSLMODE PGCONNECT_TIMEOUT=10 timeout $(( DURATION + 60 )) \
      "$PGBENCH" -n -S -M "$mode" -c "$clients" -j "$threads" -T "$DURATION" "${log[@]}" \
      -h "$host" -p "$port" -U "$user" "$db" >"$out" 2>&1; then
    echo "pgbench.sh: pgbench failed against $target ($mode, $clients clients):" >&2
    tail -5 "$out" >&2
    exit 1
  fi
  local tps
  tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)$/\1/p' "$out")
  [ -n "$tps" ] || { echo "pgbench.sh: no tps in $out" >&2; cat "$out" >&2; exit 1; }
  printf '%s\t%s\t%s\t%s\t%s\n' "$target" "$mode" "$clients" "$round" "$tps" >>"$WORK/runs.tsv"
  printf '  %-9s %-8s c=%-2s round %s: %10.1f tps\n' "$target" "$mode" "$clients" "$round" "$tps"
}

# percentiles TARGET MODE: "median_ms p99_ms count" over every 1-client transaction of the target.
# pgbench -l lines: client_id transaction_no latency_us script_no epoch_s epoch_us
percentiles() {
  local target=$1 mode=$2
  cat "$WORK/$mode-c1-$target"-r*/tx* 2>/dev/null | awk '{print $3}' | sort -n | awk '
    { v[NR] = $1 }
    END {
      if (NR == 0) { print "n/a n/a 0"; exit }
      m = int((NR + 1) / 2); p = int(NR * 0.99); if (p < 1) p = 1; if (p > NR) p = NR
      printf "%.3f %.3f %d\n", v[m] / 1000, v[p] / 1000, NR
    }'
}

median_tps() {
  awk -F'\t' -v t="$1" -v m="$2" -v c="$3" '$1 == t && $2 == m && $3 == c { print $5 }' "$WORK/runs.tsv" | sort -n | awk '
    { v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "Gatehouse pgbench: select-only, scale $SCALE, ${DURATION}s per run, $ROUNDS round(s), sslmode=$SSLMODE"
echo "  direct    $PG_HOST:$PG_PORT/$BENCH_DB"
echo "  haproxy   127.0.0.1:$HAPROXY_PORT (tcp mode) -> $PG_HOST:$PG_PORT"
echo "  gatehouse $GATEHOUSE_HOST:$GATEHOUSE_PORT/$GATEHOUSE_DB"
[ -n "${GHR_PORT:-}" ] && echo "  gh-real   $GATEHOUSE_HOST:$GHR_PORT/$GATEHOUSE_DB"
[ -n "$GH_POLICY_NOTE" ] && echo "$GH_POLICY_NOTE" | sed 's/^/  /'
[ -n "$SMOKE_NOTE" ] && echo "  $SMOKE_NOTE"
NTARGETS=$(echo $TARGETS | wc -w)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
runs=0
for _ in $MODES; do for _ in $CLIENTS; do runs=$(( runs + NTARGETS * ROUNDS )); done; done
echo "  $runs runs, about $(( runs * (DURATION + 1) / 60 + 1 )) min"
: >"$WORK/runs.tsv"
if [ "$WARMUP" -gt 0 ] && [ "$SMOKE" = 0 ]; then
  for target in $TARGETS; do
    case "$target" in gatehouse|gh-real) ;; *) continue ;; esac
    each=$(( (WARMUP + WARMUP_RUNS - 1) / WARMUP_RUNS ))
    echo "  warming up $target: ${WARMUP_RUNS} runs of ${each}s per mode at 16 clients, each with new connections (not measured)"
    for _ in $(seq 1 "$WARMUP_RUNS"); do
      for mode in $MODES; do DURATION=$each run "$target" "$mode" 16 0 >/dev/null; done
    done
  done
  : >"$WORK/runs.tsv"
fi
# rotated TARGETS ROUND: the targets in the order round ROUND runs them: each round starts one
# further along the list, so with as many rounds as targets each target runs once in each place
# (the runs right after another one can come out ahead or behind: a fixed order biased the ratios)
rotated() {
  local -a t
  read -r -a t <<<"$1"
  local n=${#t[@]} i
  for (( i = 0; i < n; i++ )); do printf '%s ' "${t[$(( (i + $2 - 1) % n ))]}"; done
}
for mode in $MODES; do
  for clients in $CLIENTS; do
    for round in $(seq 1 "$ROUNDS"); do
      for target in $(rotated "$TARGETS" "$round"); do
        run "$target" "$mode" "$clients" "$round"
      done
    done
  done
done

# ---- report -----------------------------------------------------------------------------------
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
AUDIT_NOTE=""
for d in "${GH_DIRS[@]}"; do
  AUDIT_NOTE="$AUDIT_NOTE $(basename "$d"): $(gh_audit_count "$d") audit events;"
done

report() {
  local met=yes real=no
  [[ " $TARGETS " == *" gh-real "* ]] && real=yes
  echo "Gatehouse pgbench $(date -u +%Y-%m-%dT%H:%M:%SZ): select-only, scale $SCALE, ${DURATION}s per run, $ROUNDS round(s), sslmode=$SSLMODE"
  echo "$("$PGBENCH" --version), $(haproxy -v | head -1 | cut -d' ' -f1-3), $(nproc) CPUs, load average before $LOAD_BEFORE, after $LOAD_AFTER"
  [ -n "$GH_POLICY_NOTE" ] && echo "$GH_POLICY_NOTE"
  [ -n "$AUDIT_NOTE" ] && echo "audit:$AUDIT_NOTE"
  [ -n "$SMOKE_NOTE" ] && echo "$SMOKE_NOTE"
  echo
  echo "TPS (median of rounds); target: gatehouse >= 0.85 x haproxy at 16 clients in every mode"
  [ "$real" = yes ] && echo "issue #3: gh-real (realistic policy) >= 0.9 x gatehouse (minimal policy), i.e. its ratio to haproxy no more than 10% lower"
  if [ "$real" = yes ]; then
    printf '%-9s %7s %10s %10s %10s %10s %10s %10s %10s %9s\n' mode clients direct haproxy gatehouse gh-real gh/haproxy gh/direct real/hapr real/gh
  else
    printf '%-9s %7s %10s %10s %10s %10s %10s\n' mode clients direct haproxy gatehouse gh/haproxy gh/direct
  fi
  for mode in $MODES; do
    for clients in $CLIENTS; do
      local d h g r rh rd rr rg mark mark3
      d=$(median_tps direct "$mode" "$clients"); h=$(median_tps haproxy "$mode" "$clients"); g=$(median_tps gatehouse "$mode" "$clients")
      read -r rh rd <<<"$(awk -v d="$d" -v h="$h" -v g="$g" 'BEGIN { printf "%.3f %.3f", (h > 0) ? g / h : 0, (d > 0) ? g / d : 0 }')"
      mark=""
      if [ "$clients" = 16 ]; then
        if awk -v r="$rh" 'BEGIN { exit !(r >= 0.85) }'; then mark="ok"; else mark="BELOW TARGET"; met=no; fi
      fi
      if [ "$real" = yes ]; then
        r=$(median_tps gh-real "$mode" "$clients")
        read -r rr rg <<<"$(awk -v h="$h" -v g="$g" -v r="$r" 'BEGIN { printf "%.3f %.3f", (h > 0) ? r / h : 0, (g > 0) ? r / g : 0 }')"
        if awk -v x="$rg" 'BEGIN { exit !(x >= 0.9) }'; then mark3="#3 ok"; else mark3="#3 BELOW TARGET"; met=no; fi
        printf '%-9s %7s %10.1f %10.1f %10.1f %10.1f %10s %10s %10s %9s  %s\n' "$mode" "$clients" "$d" "$h" "$g" "$r" "$rh" "$rd" "$rr" "$rg" "$mark${mark:+ }$mark3"
      else
        printf '%-9s %7s %10.1f %10.1f %10.1f %10s %10s  %s\n' "$mode" "$clients" "$d" "$h" "$g" "$rh" "$rd" "$mark"
      fi
    done
  done
  if [ "$ROUNDS" -gt 1 ]; then
    # information: each round's own ratio (its two runs within one round, at most one run apart), which the machine's
    # drift between rounds does not move; the verdict above stays the ratio of the medians
    echo "gh/haproxy of each round (information):"
    for mode in $MODES; do
      for clients in $CLIENTS; do
        printf '  %-9s c=%-3s' "$mode" "$clients"
        awk -F'\t' -v m="$mode" -v c="$clients" '$2 == m && $3 == c && ($1 == "haproxy" || $1 == "gatehouse") { tps[$1, $4] = $5; if ($4 > n) n = $4 }
          END { for (r = 1; r <= n; r++) printf " %.3f", (tps["haproxy", r] > 0) ? tps["gatehouse", r] / tps["haproxy", r] : 0; print "" }' "$WORK/runs.tsv"
      done
    done
  fi
  if [[ " $CLIENTS " == *" 1 "* ]]; then
    echo
    echo "Latency at 1 client in ms (pgbench -l, every transaction); target: gatehouse median <= haproxy median + 0.1 ms"
    printf '%-9s %-9s %9s %9s %9s\n' mode target median p99 samples
    for mode in $MODES; do
      local med p99 n hmed gmed rmed
      for target in $TARGETS; do
        read -r med p99 n <<<"$(percentiles "$target" "$mode")"
        printf '%-9s %-9s %9s %9s %9s\n' "$mode" "$target" "$med" "$p99" "$n"
      done
      read -r hmed _ _ <<<"$(percentiles haproxy "$mode")"
      read -r gmed _ _ <<<"$(percentiles gatehouse "$mode")"
      if awk -v h="$hmed" -v g="$gmed" 'BEGIN { exit !(h != "n/a" && g != "n/a" && g - h <= 0.1) }'; then mark="ok"; else mark="ABOVE TARGET"; met=no; fi
      awk -v h="$hmed" -v g="$gmed" -v m="$mode" -v k="$mark" 'BEGIN {
        if (h == "n/a" || g == "n/a") { printf "  %s: no samples\n", m; exit }
        printf "  %s: gatehouse median - haproxy median = %+.3f ms  %s\n", m, g - h, k }'
      if [ "$real" = yes ]; then
        read -r rmed _ _ <<<"$(percentiles gh-real "$mode")"
        awk -v h="$hmed" -v g="$rmed" -v m="$mode" 'BEGIN {
          if (h == "n/a" || g == "n/a") exit
          printf "  %s: gh-real median - haproxy median = %+.3f ms (information)\n", m, g - h }'
      fi
    done
  fi
  echo
  echo "targets met: $met"
  [ -n "$SMOKE_NOTE" ] && echo "$SMOKE_NOTE"
  return 0
}

RESULTS_DIR=${BENCH_RESULTS:-$(cd "$(dirname "$0")" && pwd)/results}
mkdir -p "$RESULTS_DIR"
RESULTS_FILE="$RESULTS_DIR/pgbench-$(date -u +%Y%m%dT%H%M%SZ).txt"
echo
report | tee "$RESULTS_FILE"
cp "$WORK/runs.tsv" "${RESULTS_FILE%.txt}.tsv"
echo "(saved to $RESULTS_FILE)"
exit 0
