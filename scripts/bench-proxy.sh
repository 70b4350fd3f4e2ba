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
source scripts/bench-lib.sh
bench_start breakglassd breakglass -- "$0" "$@"

clients=${BENCH_CLIENTS:-8}
seconds=${BENCH_SECONDS:-15}
scale=${BENCH_SCALE:-10}
bin=$BENCH_BIN
bench_workdir proxy

# The target: pgbench's tables, the role sessions are granted, the broker's managing role, and a role of the
# same shape for the direct run.
mgr_password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
direct_password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
psql -qX -c "CREATE DATABASE bench"
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

# The broker, on the same cluster. The admin's two changes use this TOTP step and the next (see bench_enroll).
bench_superuser_database breakglass
proxy_port=$(free_port)
export BREAKGLASS_PROXY_PORT=$proxy_port
bench_serve "$work/broker.log"
bench_enroll alice admin engineer
"$bin/breakglass" admin set-target bench-pg --kind postgres --max-ttl 1h --pg-host 127.0.0.1 --pg-port "$PGPORT" --pg-database bench \
    --managing-role bench_mgr --managing-password-file "$work/mgr.password" --grant-role bench_ro --connection-limit 50 \
    --access recorded --totp "$(bench_totp "$BENCH_SECRET" 0)" >&2
session=$("$bin/breakglass" request bench-pg --reason "benchmark the recording proxy" --incident BENCH-1 --ttl 1h \
    --totp "$(bench_totp "$BENCH_SECRET" 1)" --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["session"]["id"])')
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
