#!/usr/bin/env bash
# Measures the recording proxy: `pgbench -S` (BENCH_CLIENTS clients, default 8, for BENCH_SECONDS each,
# default 15) through breakglassd's PostgreSQL proxy, where every statement is committed to the audit log
# before it reaches the database, and the same pgbench straight to the same database, in one run on one
# throwaway cluster with fsync on (the broker's own database lives there too). Both connections use a role
# with `log_statement = 'all'`, as every session role has, so the ratio is the cost of the proxy alone.
# Prints both rates and their ratio (read-only `-S` in the simple and prepared protocol, and the write
# transaction `-N`), the cluster's own rate of durable commits (the ceiling: each recorded statement waits
# for one group commit), then verifies the audit chain.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" != --inner ]; then
    scripts/ensure-deps.sh --for-tests >&2
    swift build -c release --product breakglassd >&2
    swift build -c release --product breakglass >&2
    BENCH_BIN=$(swift build -c release --show-bin-path) BREAKGLASS_PG_DURABLE=1 exec scripts/with-postgres.sh "$0" --inner
fi

clients=${BENCH_CLIENTS:-8}
seconds=${BENCH_SECONDS:-15}
scale=${BENCH_SCALE:-10}
bin=$BENCH_BIN
work=$(mktemp -d /tmp/breakglass-bench-proxy.XXXXXX)
broker_pid=
cleanup() {
    [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# TOTP codes are one-time: each step-up waits for the next 30-second step.
next_code() {
    sleep $((31 - $(date +%s) % 30))
    oathtool --totp -b "$secret"
}

# The target: pgbench's tables, the role sessions are granted, the broker's managing role, and a role of the
# same shape for the direct run.
mgr_password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
direct_password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
psql -qX -c "CREATE DATABASE bench" -c "CREATE DATABASE breakglass"
pgbench -i -q -s "$scale" bench >&2
psql -qX -d bench -v ON_ERROR_STOP=1 <<SQL
CREATE ROLE bench_ro NOLOGIN;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO bench_ro;
GRANT UPDATE ON pgbench_accounts TO bench_ro;
GRANT INSERT ON pgbench_history TO bench_ro;
CREATE TABLE commit_probe (n int);
GRANT INSERT ON commit_probe TO bench_ro;
CREATE ROLE bench_mgr LOGIN CREATEROLE PASSWORD '$mgr_password';
GRANT bench_ro TO bench_mgr WITH ADMIN OPTION;
GRANT SET ON PARAMETER log_statement TO bench_mgr;
CREATE ROLE bench_direct LOGIN PASSWORD '$direct_password' IN ROLE bench_ro;
ALTER ROLE bench_direct SET log_statement = 'all';
SQL
printf '%s\n' "$mgr_password" > "$work/mgr.password"

# The broker, on the same cluster (a superuser here only because this is a benchmark).
head -c 32 /dev/urandom | base64 > "$work/master.key"
chmod 600 "$work/master.key"
http_port=$(free_port)
proxy_port=$(free_port)
export DATABASE_URL="postgres://$PGUSER:$PGPASSWORD@127.0.0.1:$PGPORT/breakglass?sslmode=disable"
export BREAKGLASS_MIGRATION_DATABASE_URL=$DATABASE_URL BREAKGLASS_ALLOW_PRIVILEGED_ROLE=1 BREAKGLASS_MASTER_KEY_FILE=$work/master.key
export BREAKGLASS_PORT=$http_port BREAKGLASS_PROXY_PORT=$proxy_port BREAKGLASS_LOG_LEVEL=warning
"$bin/breakglassd" migrate >&2
"$bin/breakglassd" serve > "$work/broker.log" 2>&1 &
broker_pid=$!
for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$http_port/healthz" >/dev/null && break
    sleep 0.1
done

export BREAKGLASS_URL=http://127.0.0.1:$http_port BREAKGLASS_CREDENTIALS=$work/credentials.json
code=$("$bin/breakglassd" admin create alice --role admin --role engineer | sed -n 's/.*enrolment code: *\([^ ]*\).*/\1/p')
"$bin/breakglass" enroll "$code" --secret-out "$work/secret.json" >&2
secret=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["secret"])' "$work/secret.json")
"$bin/breakglass" enroll --confirm "$code" --totp "$(oathtool --totp -b "$secret")" >&2
"$bin/breakglass" admin set-target bench-pg --kind postgres --max-ttl 1h --pg-host 127.0.0.1 --pg-port "$PGPORT" --pg-database bench \
    --managing-role bench_mgr --managing-password-file "$work/mgr.password" --grant-role bench_ro --connection-limit 50 \
    --access recorded --totp "$(next_code)" >&2
session=$("$bin/breakglass" request bench-pg --reason "benchmark the recording proxy" --incident BENCH-1 --ttl 1h \
    --totp "$(next_code)" --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["session"]["id"])')
token=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["token"])' "$work/sessions/$session.json")

tps() { sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | head -n 1; }
run() { # host port user password pgbench-options...
    local host=$1 port=$2 user=$3 password=$4
    shift 4
    PGPASSWORD=$password pgbench -n "$@" -c "$clients" -j 2 -T "$seconds" -h "$host" -p "$port" -U "$user" bench 2>&1 | tps
}
echo "BENCH proxy: pgbench, $clients clients, ${seconds}s each, scale $scale, fsync on, $(nproc) cores, release build"
echo 'INSERT INTO commit_probe VALUES (1);' > "$work/commit.sql"
ceiling=$(run 127.0.0.1 "$PGPORT" bench_direct "$direct_password" -f "$work/commit.sql")
echo "BENCH proxy: this cluster commits $ceiling durable one-row transactions/s at $clients clients (a recorded statement waits for one group commit)"
for workload in "-S -M simple" "-S -M prepared" "-N -M prepared"; do
    # shellcheck disable=SC2086 # the workload is a list of options
    direct=$(run 127.0.0.1 "$PGPORT" bench_direct "$direct_password" $workload)
    # shellcheck disable=SC2086
    proxied=$(run 127.0.0.1 "$proxy_port" "$session" "$token" $workload)
    ratio=$(python3 -c "print(f'{$proxied / $direct:.2f}')")
    echo "BENCH proxy (pgbench $workload): direct $direct tps, through the recording proxy $proxied tps, ratio $ratio (goal >= 0.5)"
done
recorded=$(psql -qAtX -d breakglass -c "SELECT count(*) FROM audit_events WHERE session_id = '$session' AND event_type = 'session.statement'")
batches=$(psql -qAtX -d breakglass -c "SELECT count(DISTINCT xmin::text) FROM audit_events WHERE session_id = '$session' AND event_type = 'session.statement'")
echo "BENCH proxy: $recorded statements recorded before they ran, in $batches transactions"
"$bin/breakglass" audit verify | sed 's/^/BENCH proxy: /'
