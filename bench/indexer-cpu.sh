#!/usr/bin/env bash
# The audit indexer's CPU per stored event, in every gateway a benchmark command starts: runs the
# command (bench/ab.sh, pgbench.sh, profile.sh ...) and meanwhile, every 2 s, reads each gateway's
# "gatehouse-audit-indexer" thread CPU time (/proc/PID/task/TID/schedstat, nanoseconds, user +
# system) and its store's newest row (sqlite3, read-only), then prints per build the indexer's CPU
# per event over the intervals in which at least 5,000 events were stored (under load; idle time
# and start-up are left out). A build is named by the folder of its launcher (a snapshot of
# bench/snapshot.sh), so bench/ab.sh's two builds are reported apart.
#
#   bench/indexer-cpu.sh bench/ab.sh /tmp/gh-a /tmp/gh-b --modes prepared --clients 16 --rounds 3
#
# Needs sqlite3 and gateways with a SQLite store (the scripts' default). A tool, not a benchmark:
# it measures the one thread the store's cost lands on, which TPS and whole-gateway CPU blur.
set -euo pipefail
[ $# -ge 1 ] || { sed -n '2,13p' "$0"; exit 2; }
command -v sqlite3 >/dev/null || { echo "indexer-cpu.sh: needs sqlite3" >&2; exit 1; }
LOG=$(mktemp "${TMPDIR:-/tmp}/gatehouse-indexer.XXXXXX")
sample() {
  while true; do
    for pid in $(pgrep -f 'dev.gatehouse.cli.Main serve' || true); do
      cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || continue
      build=$(echo "$cmd" | grep -o -- '-cp [^ ]*' | awk '{print $2}' | sed 's#/gatehouse-cli.jar:.*##; s#:.*##')
      cfg=$(echo "$cmd" | grep -o -- '--config [^ ]*' | awk '{print $2}')
      [ -n "$cfg" ] || continue
      ns=""
      for t in /proc/"$pid"/task/*; do
        # The kernel keeps 15 characters of a thread's name: "gatehouse-audit-indexer" reads "gatehouse-audit".
        if grep -q '^gatehouse-audit' "$t/comm" 2>/dev/null; then
          ns=$(awk '{print $1}' "$t/schedstat" 2>/dev/null)
        fi
      done
      [ -n "$ns" ] || continue
      db="file:$(dirname "$cfg")/data/gatehouse.db?mode=ro"
      # events stored: schema 6 keeps blocks (first_seq..last_seq), earlier ones a row per event
      rows=$(sqlite3 "$db" 'SELECT coalesce(sum(last_seq - first_seq + 1), 0) FROM audit_events' 2>/dev/null \
        || sqlite3 "$db" 'SELECT coalesce(max(pos), 0) FROM audit_events' 2>/dev/null) || continue
      echo "$build $pid $ns $rows"
    done
    sleep 2
  done >>"$LOG"
}
sample &
SAMPLER=$!
trap 'kill "$SAMPLER" 2>/dev/null || true; rm -f "$LOG"' EXIT
status=0
"$@" || status=$?
kill "$SAMPLER" 2>/dev/null || true
wait "$SAMPLER" 2>/dev/null || true
echo
echo "audit indexer CPU per stored event (intervals of 2 s with >= 5,000 events stored):"
awk '{
  key = $1 " " $2
  if (key in rows && $4 - rows[key] >= 5000) { cpu[$1] += $3 - ns[key]; events[$1] += $4 - rows[key] }
  ns[key] = $3; rows[key] = $4
} END {
  for (b in events) printf "  %-40s %9d events  %6.2f us CPU per event\n", b, events[b], cpu[b] / events[b] / 1000
}' "$LOG"
exit "$status"
