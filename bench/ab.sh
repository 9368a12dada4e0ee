#!/usr/bin/env bash
# A/B comparison of two gateway builds (bench/snapshot.sh) under the same pgbench load, interleaved:
# A, B, B, A, A, B ... per mode and client count. Reports per build the median TPS and, more robust on a
# shared machine, the gateway's own CPU time per transaction (from /proc, user + system), which
# does not depend on how much CPU the other processes leave it, and its user time alone (the
# gateway's code without the system calls, which swing most with the rest of the machine).
#
#   bench/ab.sh A_DIR B_DIR [--modes "simple extended prepared"] [--clients "1 16"] [--duration S]
#                           [--rounds N] [--policy minimal|realistic|FILE]
#
# Both gateways run at once (each with its own audit log), against the pgbench tables of
# bench/pgbench.sh (run that once first). GATEHOUSE_JAVA_OPTS sets both gateways' JVM options;
# A_JAVA_OPTS and B_JAVA_OPTS, when set, one side's (to compare settings of one build: A and B the same).
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,13p' "$0" >&2; exit 2; }
A=$1 B=$2; shift 2
MODES="simple extended prepared" CLIENTS="1 16" DURATION=10 ROUNDS=3 POLICY=minimal
while [ $# -gt 0 ]; do
  case "$1" in
    --modes) MODES=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --policy) POLICY=$2; shift 2 ;;
    *) echo "ab.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
unset PGHOST PGPORT PGUSER PGDATABASE PGPASSWORD PGSERVICE PGOPTIONS PGSSLMODE
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/gatehouse.sh"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-ab.XXXXXX")
trap 'gh_stop; rm -rf "$WORK"' EXIT

GATEHOUSE_CMD=$A/gatehouse gh_start "$WORK" a 127.0.0.1 5432 "${BENCH_DB:-gatehouse_bench}" "$POLICY" off 200 "${A_JAVA_OPTS:-${GATEHOUSE_JAVA_OPTS:-}}"
PORT_A=$GATEHOUSE_PORT PID_A=$GATEHOUSE_PID
GATEHOUSE_CMD=$B/gatehouse gh_start "$WORK" b 127.0.0.1 5432 "${BENCH_DB:-gatehouse_bench}" "$POLICY" off 200 "${B_JAVA_OPTS:-${GATEHOUSE_JAVA_OPTS:-}}"
PORT_B=$GATEHOUSE_PORT PID_B=$GATEHOUSE_PID
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# user time only: the gateway's own code, without the system calls (the same ones haproxy makes),
# whose cost swings most with what the rest of a shared machine does
cpu_user() { awk '{print $14}' "/proc/$1/stat"; }

run() { # run NAME PORT PID MODE CLIENTS ROUND
  local out="$WORK/$1-$4-c$5-r$6" c0 c1 u0 u1 tps n log=()
  [ "$5" = 1 ] && { mkdir -p "$out.tx"; log=(-l "--log-prefix=$out.tx/tx"); }
  c0=$(cpu "$3") u0=$(cpu_user "$3")
  PGPASSWORD=$GATEHOUSE_TOKEN timeout $(( DURATION + 60 )) pgbench -n -S -M "$4" -c "$5" -j $(( $5 < 2 ? $5 : 2 )) -T "$DURATION" \
    "${log[@]}" -h 127.0.0.1 -p "$2" -U bench bench >"$out" 2>&1 || { grep -m3 -E "aborted|ERROR|FATAL" "$out" >&2; tail -3 "$out" >&2; exit 1; }
  c1=$(cpu "$3") u1=$(cpu_user "$3")
  tps=$(sed -n 's/^tps = \([0-9.]*\) (without.*/\1/p' "$out")
  n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$4" "$5" "$6" "$tps" \
    "$(awk -v c=$(( (c1 - c0) * 10 )) -v n="$n" 'BEGIN { printf "%.1f", n ? c * 1000 / n : 0 }')" \
    "$(awk -v c=$(( (u1 - u0) * 10 )) -v n="$n" 'BEGIN { printf "%.1f", n ? c * 1000 / n : 0 }')" >>"$WORK/runs.tsv"
  printf '  %s %-8s c=%-2s round %s: %9.1f tps, %6s us gateway CPU per transaction (%s us user)\n' "$1" "$4" "$5" "$6" "$tps" \
    "$(tail -1 "$WORK/runs.tsv" | cut -f6)" "$(tail -1 "$WORK/runs.tsv" | cut -f7)"
}
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
p50() { cat "$1"-*.tx/tx* 2>/dev/null | awk '{print $3}' | median | awk '{ printf "%.3f", $1 / 1000 }'; }

# warm both up so the JIT has compiled the data path before anything is measured: several runs,
# each with new connections, as pgbench.sh's warm-up (after one run, the next run's new sessions
# make the JIT recompile the relay, and the first measured rounds paid for it: session 10)
for m in $MODES; do for w in 1 2 3; do
  run A "$PORT_A" "$PID_A" "$m" 16 0 >/dev/null; run B "$PORT_B" "$PID_B" "$m" 16 0 >/dev/null
done; done
: >"$WORK/runs.tsv"
echo "A: $A ${A_JAVA_OPTS:-}"; echo "B: $B ${B_JAVA_OPTS:-}"; echo "load average $(cut -d' ' -f1-3 /proc/loadavg)"
# Odd rounds run A first, even rounds B first: the second of two back-to-back runs can come out
# ahead (an A/B and the same A/B with the builds swapped gave 1.049x and 0.998x: session 12), so an
# even number of rounds puts each build first equally often.
for m in $MODES; do for c in $CLIENTS; do for r in $(seq 1 "$ROUNDS"); do
  if [ $(( r % 2 )) = 1 ]; then
    run A "$PORT_A" "$PID_A" "$m" "$c" "$r"; run B "$PORT_B" "$PID_B" "$m" "$c" "$r"
  else
    run B "$PORT_B" "$PID_B" "$m" "$c" "$r"; run A "$PORT_A" "$PID_A" "$m" "$c" "$r"
  fi
done; done; done
echo
echo "A/B $(date -u +%Y-%m-%dT%H:%M:%SZ), ${DURATION}s x $ROUNDS rounds, policy $POLICY, load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-9s %7s %10s %10s %7s %10s %10s %7s %9s %9s %7s %9s %9s\n' mode clients "A tps" "B tps" "B/A" "A us/tx" "B us/tx" "B/A" \
  "A user" "B user" "B/A" "A p50 ms" "B p50 ms"
for m in $MODES; do for c in $CLIENTS; do
  ta=$(awk -F'\t' -v m="$m" -v c="$c" '$1 == "A" && $2 == m && $3 == c { print $5 }' "$WORK/runs.tsv" | median)
  tb=$(awk -F'\t' -v m="$m" -v c="$c" '$1 == "B" && $2 == m && $3 == c { print $5 }' "$WORK/runs.tsv" | median)
  ua=$(awk -F'\t' -v m="$m" -v c="$c" '$1 == "A" && $2 == m && $3 == c { print $6 }' "$WORK/runs.tsv" | median)
  ub=$(awk -F'\t' -v m="$m" -v c="$c" '$1 == "B" && $2 == m && $3 == c { print $6 }' "$WORK/runs.tsv" | median)
  sa=$(awk -F'\t' -v m="$m" -v c="$c" '$1 == "A" && $2 == m && $3 == c { print $7 }' "$WORK/runs.tsv" | median)
  sb=$(awk -F'\t' -v m="$m" -v c="$c" '$1 == "B" && $2 == m && $3 == c { print $7 }' "$WORK/runs.tsv" | median)
  la="-" lb="-"
  [ "$c" = 1 ] && { la=$(p50 "$WORK/A-$m-c1"); lb=$(p50 "$WORK/B-$m-c1"); }
  awk -v m="$m" -v c="$c" -v ta="$ta" -v tb="$tb" -v ua="$ua" -v ub="$ub" -v sa="$sa" -v sb="$sb" -v la="$la" -v lb="$lb" 'BEGIN {
    printf "%-9s %7s %10.1f %10.1f %7.3f %10.1f %10.1f %7.3f %9.1f %9.1f %7.3f %9s %9s\n", m, c, ta, tb, ta ? tb / ta : 0,
      ua, ub, ua ? ub / ua : 0, sa, sb, sa ? sb / sa : 0, la, lb }'
done; done
