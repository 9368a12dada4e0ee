# Sourced by bench/pgbench.sh and bench/idle-sessions.sh: starts a real Gatehouse on loopback for a
# benchmark and stops it afterwards. Not a script of its own.
#
#   gh_start WORK NAME TARGET_HOST TARGET_PORT TARGET_DB POLICY TLS MAX_SESSIONS [JAVA_OPTS]
#     NAME:   names the instance (its files are WORK/gatehouse-NAME); several may run at once,
#             sharing one development issuer and one target role
#     POLICY: minimal | realistic | /path/to/policy.yaml
#     TLS:    off (plaintext listener on 127.0.0.1) | auto (TLS with a generated CA; the client
#             may use sslmode=require, or verify-full with $GATEHOUSE_CA)
#   sets GATEHOUSE_HOST GATEHOUSE_PORT GATEHOUSE_DB GATEHOUSE_TOKEN GATEHOUSE_USER GATEHOUSE_PID
#        GATEHOUSE_CA GATEHOUSE_CONTROL_PORT GATEHOUSE_POLICY_NAME GH_DIR
#   gh_stop: stops every gateway started (SIGTERM, then SIGKILL after 20 s) and the issuer.
#
# What it sets up, all of it disposable:
#   - `gatehouse dev-issuer` (a loopback OIDC provider FOR TESTS ONLY) with user bench in group
#     bench, its token written 0600 under WORK/issuer;
#   - a least-privileged login role gh_bench on the target (created by its superuser `postgres`
#     over trust authentication; NOSUPERUSER, no predefined roles, SELECT/INSERT/UPDATE on the
#     tables of schema public only), with a fresh random password for every WORK, kept in a 0600
#     file that gatehouse.yaml references as ${file:...};
#   - WORK/gatehouse-NAME/gatehouse.yaml: listener on 127.0.0.1 (free port), control plane on
#     127.0.0.1 (free port), the dev issuer trusted with audience gatehouse, session caps
#     MAX_SESSIONS, one resource "bench" (the name the realistic policy's rules use), the policy,
#     the audit log in SQLite under WORK with the default durability (process: every event
#     committed before its statement is forwarded).
#
# The gateway is started with `./gatehouse serve` (GATEHOUSE_CMD overrides the launcher, e.g. to
# pin a build) and JAVA_OPTS; its JSON log is WORK/gatehouse-NAME/gatehouse.log.

GH_BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GH_ROOT=$(cd "$GH_BENCH_DIR/.." && pwd)
GH_REALISTIC_POLICY=${BENCH_REALISTIC_POLICY:-$GH_ROOT/policy/src/test/resources/dev/gatehouse/policy/realistic-policy.yaml}
GH_ISSUER_PID=""
GH_ISSUER_DIR=""
GH_ISSUER_URL=""
GH_SERVE_PIDS=()
GH_DIR=""

# gh_free_port FROM: the first loopback port from FROM (100 tries) nobody listens on.
gh_free_port() {
  local p
  for p in $(seq "$1" $(( $1 + 100 ))); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  echo "gatehouse.sh: no free port in $1-$(( $1 + 100 ))" >&2
  return 1
}

# gh_wait_file FILE PID SECONDS: waits for FILE to be non-empty while PID lives.
gh_wait_file() {
  local i
  for i in $(seq 1 $(( $3 * 10 ))); do
    [ -s "$1" ] && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# gh_target_role HOST PORT DB PASSWORD_FILE: (re)creates role gh_bench with a fresh password.
gh_target_role() {
  local host=$1 port=$2 db=$3 pwfile=$4 psql
  psql=$(command -v psql || ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | tail -1)
  (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$pwfile")
  # The password goes through stdin, never a command line.
  {
    echo "\\set ON_ERROR_STOP on"
    echo "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gh_bench') THEN CREATE ROLE gh_bench; END IF; END \$\$;"
    echo "ALTER ROLE gh_bench LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD '$(cat "$pwfile")';"
    echo "GRANT CONNECT ON DATABASE \"$db\" TO gh_bench;"
    echo "GRANT USAGE ON SCHEMA public TO gh_bench;"
    echo "GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO gh_bench;"
  } | PGCONNECT_TIMEOUT=10 "$psql" -X -q -w -h "$host" -p "$port" -U postgres -d "$db" -f - >/dev/null
}

# gh_write_policy FILE: the minimal policy, one rule.
gh_write_policy() {
  cat >"$1" <<'POLICY'
# Minimal bench policy: group bench may connect to resource bench and run anything the built-in
# guardrails allow (unclassified statements are still refused).
version: 1
rules:
  - name: bench-all
    effect: allow
    applies_to: [connect, commands]
    subjects: {groups: [bench]}
    resources: {names: [bench]}
POLICY
}

# gh_issuer WORK: starts the development issuer once per WORK; sets GH_ISSUER_URL.
gh_issuer() {
  local work=$1 cmd=${GATEHOUSE_CMD:-$GH_ROOT/gatehouse}
  if [ -n "$GH_ISSUER_PID" ] && kill -0 "$GH_ISSUER_PID" 2>/dev/null; then return 0; fi
  GH_ISSUER_DIR="$work/issuer"
  mkdir -p "$GH_ISSUER_DIR"
  chmod 700 "$GH_ISSUER_DIR"
  JAVA_OPTS="-Xmx64m" "$cmd" dev-issuer --port 0 --audience gatehouse --user bench:bench --ttl 8h \
    --out "$GH_ISSUER_DIR/out" >"$GH_ISSUER_DIR/issuer.log" 2>&1 &
  GH_ISSUER_PID=$!
  if ! gh_wait_file "$GH_ISSUER_DIR/out/issuer.url" "$GH_ISSUER_PID" 300 \
      || ! gh_wait_file "$GH_ISSUER_DIR/out/bench.token" "$GH_ISSUER_PID" 5; then
    echo "gatehouse.sh: the development issuer did not start:" >&2
    tail -20 "$GH_ISSUER_DIR/issuer.log" >&2
    return 1
  fi
  GH_ISSUER_URL=$(tr -d '\n' <"$GH_ISSUER_DIR/out/issuer.url")
}

gh_start() {
  local work=$1 name=$2 thost=$3 tport=$4 tdb=$5 policy=$6 tls=$7 maxsess=$8 javaopts=${9:-}
  local cmd=${GATEHOUSE_CMD:-$GH_ROOT/gatehouse}
  GH_DIR="$work/gatehouse-$name"
  mkdir -p "$GH_DIR/data"
  chmod 700 "$GH_DIR"

  # 1. the development issuer and the bench token
  gh_issuer "$work" || return 1

  # 2. the target role, once per WORK (a new password would lock out a gateway already running)
  if [ ! -s "$work/target.password" ]; then
    gh_target_role "$thost" "$tport" "$tdb" "$work/target.password" \
      || { echo "gatehouse.sh: cannot create role gh_bench on $thost:$tport/$tdb" >&2; return 1; }
  fi

  # 3. the policy
  local policy_file="$GH_DIR/policy.yaml"
  case "$policy" in
    minimal)
      gh_write_policy "$policy_file"
      GATEHOUSE_POLICY_NAME="minimal (1 rule)" ;;
    realistic)
      cp "$GH_REALISTIC_POLICY" "$policy_file"
      GATEHOUSE_POLICY_NAME="realistic ($(grep -c '^  - name:' "$policy_file") rules, ${GH_REALISTIC_POLICY#"$GH_ROOT"/})" ;;
    *)
      [ -f "$policy" ] || { echo "gatehouse.sh: no policy file $policy" >&2; return 1; }
      cp "$policy" "$policy_file"
      GATEHOUSE_POLICY_NAME="$policy ($(grep -c '^  - name:' "$policy_file") rules)" ;;
  esac

  # 4. the configuration
  GATEHOUSE_PORT=$(gh_free_port 26432) || return 1
  GATEHOUSE_CONTROL_PORT=$(gh_free_port 28080) || return 1
  cat >"$GH_DIR/gatehouse.yaml" <<CONFIG
# Written by bench/gatehouse.sh for one benchmark run; deleted afterwards.
node:
  id: 0
  dataDir: $GH_DIR/data
listeners:
  postgres:
    bind: 127.0.0.1
    port: $GATEHOUSE_PORT
    tls: {mode: $tls}
  controlPlane:
    bind: 127.0.0.1
    port: $GATEHOUSE_CONTROL_PORT
identity:
  issuers:
    - name: bench-dev
      issuer: $GH_ISSUER_URL
      audiences: [gatehouse]
    # The realistic policy pins its CI rule to this issuer (a rule may name only trusted issuers);
    # no token of it comes, so it is never contacted.
    - name: github
      issuer: https://token.actions.githubusercontent.com
      audiences: [gatehouse]
      kind: machine
sessions:
  maxPerUser: $maxsess
  maxPerResource: $maxsess
resources:
  - name: bench
    type: postgres
    host: $thost
    port: $tport
    database: $tdb
    user: gh_bench
    password: \${file:$work/target.password}
    tls: {mode: disable}
    tags: {env: bench}
policy:
  files: [$policy_file]
# The masking rules the realistic policy applies. They name customer columns the pgbench tables do
# not have: masking is configured but matches nothing, so rows are relayed without decoding.
masking:
  rules:
    - {name: email, columns: ["*.customers.email"], style: {type: redact}}
    - {name: phone, columns: ["*.customers.phone"], style: {type: redact}}
    - {name: card_number, columns: ["*.customers.card_number"], style: {type: keep_last, keep: 4}}
audit:
  store: jdbc:sqlite:$GH_DIR/data/gatehouse.db
  durability: process
CONFIG

  # 5. the gateway
  JAVA_OPTS="$javaopts" "$cmd" serve --config "$GH_DIR/gatehouse.yaml" >"$GH_DIR/gatehouse.log" 2>&1 &
  local pid=$!
  GH_SERVE_PIDS+=("$pid")
  local code=""
  for _ in $(seq 1 600); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$GATEHOUSE_CONTROL_PORT/readyz" 2>/dev/null || true)
    [ "$code" = 200 ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if [ "$code" != 200 ]; then
    echo "gatehouse.sh: the gateway did not become ready (readyz: ${code:-no answer}):" >&2
    tail -20 "$GH_DIR/gatehouse.log" >&2
    return 1
  fi
  # The launcher execs java, so its pid is the JVM's (jcmd/jstat need exactly that one).
  GATEHOUSE_PID=$pid
  GATEHOUSE_HOST=127.0.0.1
  GATEHOUSE_DB=bench
  GATEHOUSE_USER=bench
  GATEHOUSE_TOKEN=$(cat "$GH_ISSUER_DIR/out/bench.token")
  GATEHOUSE_CA="$GH_DIR/data/tls/ca.crt"
  return 0
}

gh_stop() {
  local pid
  for pid in "${GH_SERVE_PIDS[@]}" "$GH_ISSUER_PID"; do
    [ -n "$pid" ] || continue
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null || true
  done
  GH_SERVE_PIDS=()
  GH_ISSUER_PID=""
}

# gh_audit_count DIR: events in the audit log of the instance in DIR (proof the run was audited).
gh_audit_count() {
  if [ -f "$1/data/gatehouse.db" ] && command -v sqlite3 >/dev/null 2>&1; then
    # schema 6 keeps blocks of events (first_seq..last_seq), earlier ones a row per event
    sqlite3 "file:$1/data/gatehouse.db?mode=ro" 'SELECT coalesce(sum(last_seq - first_seq + 1), 0) FROM audit_events' 2>/dev/null \
      || sqlite3 "file:$1/data/gatehouse.db?mode=ro" 'SELECT count(*) FROM audit_events' 2>/dev/null || echo "n/a"
  else
    echo "n/a"
  fi
}

# gh_pg_bin NAME: the PostgreSQL client program NAME (pgbench, psql): from PATH, else the newest
# /usr/lib/postgresql/*/bin. Prints an install hint and fails when there is none.
gh_pg_bin() {
  local name=$1 d
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return; fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -rn); do
    [ -x "$d/$name" ] && { echo "$d/$name"; return; }
  done
  echo "$(basename "$0"): $name not found (Debian: apt-get install postgresql-client postgresql-contrib)" >&2
  exit 1
}
