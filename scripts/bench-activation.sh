#!/usr/bin/env bash
# Measures activation: BENCH_USERS distinct engineers (default 2000) each break glass once over HTTP against a
# release `breakglassd serve`, BENCH_CLIENTS requests in flight (default 16), each proving a fresh TOTP code,
# on a throwaway PostgreSQL cluster with fsync on. In the same run and on the same cluster, pgbench runs a
# transaction of the same shape (one row locked and updated, four rows inserted) at the same client count:
# the ratio of the two is how close the broker gets to what its database allows. Then the audit chain is
# verified by the CLI, which need not trust the server. BENCH_PERF=FILE records a profile of the run;
# BENCH_STATEMENTS=1 prints the statements PostgreSQL spent the activations on.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bench-lib.sh
bench_start breakglassd breakglass breakglass-bench -- "$0" "$@"

users=${BENCH_USERS:-2000}
clients=${BENCH_CLIENTS:-16}
seconds=${BENCH_SECONDS:-15}
bin=$BENCH_BIN
bench_workdir activation
psql -qX -c "CREATE DATABASE shape"
bench_superuser_database breakglass
export BREAKGLASS_PROXY_PORT=$(free_port)
bench_serve "$work/broker.log"

# An admin, enrolled the scripted way, sets up the target.
bench_enroll alice admin
"$bin/breakglass" admin set-target bench-token --kind token --max-ttl 1h --totp "$(bench_totp "$BENCH_SECRET" 0)" >&2

"$bin/breakglass-bench" enroll-many "$users" "$work/engineers.txt"
bench_statements breakglass >/dev/null
# BENCH_PERF=FILE profiles the whole machine (perf record, call graphs) while the broker serves the activations:
# the broker, PostgreSQL and the load share its cores.
perf_pid=
if [ -n "${BENCH_PERF:-}" ]; then
    perf record -q -a -F 499 -g -o "$BENCH_PERF" >/dev/null 2>&1 &
    perf_pid=$!
    sleep 1
fi
broker_pid=${BENCH_PIDS[0]}
broker_cpu=$(bench_cpu_ticks "$broker_pid") postgres_cpu=$(bench_cpu_ticks $(bench_postgres_pids))
activation=$(/usr/bin/time -f "%U %S" -o "$work/load.cpu" \
    "$bin/breakglass-bench" activate "$BREAKGLASS_URL" bench-token "$work/engineers.txt" "$clients")
broker_cpu=$(($(bench_cpu_ticks "$broker_pid") - broker_cpu)) postgres_cpu=$(($(bench_cpu_ticks $(bench_postgres_pids)) - postgres_cpu))
load_cpu=$(awk -v hz="$(getconf CLK_TCK)" '{printf "%d", ($1 + $2) * hz}' "$work/load.cpu")
if [ -n "$perf_pid" ]; then kill -INT "$perf_pid" && wait "$perf_pid" || true; fi
statements=$(bench_statements breakglass)

# The same shape straight on PostgreSQL: one row locked and updated (the engineer's spent TOTP step), four
# rows inserted (session, retro obligation, outbox page, audit event), one durable commit.
psql -qX -d shape -v ON_ERROR_STOP=1 <<SQL
CREATE TABLE engineers (id int PRIMARY KEY, last_step bigint NOT NULL DEFAULT 0, name text NOT NULL);
INSERT INTO engineers SELECT n, 0, 'engineer' || n FROM generate_series(1, $users) n;
CREATE TABLE sessions (id text PRIMARY KEY, engineer int NOT NULL, reason text NOT NULL, expires_at timestamptz NOT NULL);
CREATE INDEX ON sessions (expires_at);
CREATE TABLE obligations (session_id text PRIMARY KEY, due_at timestamptz NOT NULL, ladder jsonb NOT NULL);
CREATE TABLE outbox (id uuid PRIMARY KEY, session_id text, payload jsonb NOT NULL, created_at timestamptz NOT NULL);
CREATE TABLE audit (id bigserial PRIMARY KEY, session_id text, body text NOT NULL, hash text NOT NULL);
CREATE INDEX ON audit (session_id);
SQL
cat > "$work/shape.sql" <<'SQL'
\set engineer random(1, :users)
BEGIN;
UPDATE engineers SET last_step = last_step + 1 WHERE id = :engineer;
INSERT INTO sessions VALUES ('bg_' || md5(random()::text), :engineer, 'benchmark activation under load', now() + interval '30 minutes') RETURNING id \gset
INSERT INTO obligations VALUES (:id, now() + interval '1 day', '{"rungs": [{"after": 0, "channel": "slack"}, {"after": 3600, "channel": "pagerduty"}]}');
INSERT INTO outbox VALUES (gen_random_uuid(), :id, jsonb_build_object('session_id', :id::text, 'target', 'bench-token', 'reason', 'benchmark activation under load'), now());
INSERT INTO audit (session_id, body, hash) VALUES (:id, repeat('x', 600), md5(random()::text));
END;
SQL
# The floor: the least a broker on this stack could do per activation (breakglass-bench floor: Hummingbird decoding
# the same body, the same shape as one prepared statement over postgres-nio, a 201), under the same load. It bounds
# the broker's rate on this machine from above, whatever the broker's own code costs.
floor_port=$(free_port)
"$bin/breakglass-bench" floor "$floor_port" "$users" > "$work/floor.log" 2>&1 &
floor_pid=$!
BENCH_PIDS+=("$floor_pid")
for _ in $(seq 1 200); do
    curl -s -o /dev/null "http://127.0.0.1:$floor_port/" && break
    sleep 0.05
done
floor_cpu=$(bench_cpu_ticks "$floor_pid") floor_postgres_cpu=$(bench_cpu_ticks $(bench_postgres_pids))
floor=$(/usr/bin/time -f "%U %S" -o "$work/floor-load.cpu" \
    "$bin/breakglass-bench" activate "http://127.0.0.1:$floor_port" bench-token "$work/engineers.txt" "$clients" 5)
floor_cpu=$(($(bench_cpu_ticks "$floor_pid") - floor_cpu)) floor_postgres_cpu=$(($(bench_cpu_ticks $(bench_postgres_pids)) - floor_postgres_cpu))
floor_load_cpu=$(awk -v hz="$(getconf CLK_TCK)" '{printf "%d", ($1 + $2) * hz}' "$work/floor-load.cpu")

shape_postgres_cpu=$(bench_cpu_ticks $(bench_postgres_pids))
pgbench_out=$(/usr/bin/time -f "%U %S" -o "$work/pgbench.cpu" pgbench -n -M prepared -c "$clients" -j 2 -T "$seconds" -D users="$users" -f "$work/shape.sql" shape 2>&1) \
    || { echo "$pgbench_out" >&2; exit 1; }
shape_postgres_cpu=$(($(bench_cpu_ticks $(bench_postgres_pids)) - shape_postgres_cpu))
pgbench_cpu=$(awk -v hz="$(getconf CLK_TCK)" '{printf "%d", ($1 + $2) * hz}' "$work/pgbench.cpu")
transactions=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$pgbench_out")
tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$pgbench_out" | head -n 1)
pg_latency=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' <<<"$pgbench_out" | head -n 1)

rate=$(bench_field rate <<<"$activation")
echo "BENCH activation: $(nproc) cores, release build, fsync on, $users engineers, $clients clients"
echo "BENCH activation: over HTTP $rate activations/s, p50 $(bench_field p50_ms <<<"$activation") ms, p99 $(bench_field p99_ms <<<"$activation") ms, max $(bench_field max_ms <<<"$activation") ms"
echo "BENCH activation: pgbench same shape $tps tps, latency average $pg_latency ms"
floor_rate=$(bench_field rate <<<"$floor")
echo "BENCH activation: floor (same body over HTTP, same shape in one prepared statement, no broker logic) $floor_rate/s, p50 $(bench_field p50_ms <<<"$floor") ms, p99 $(bench_field p99_ms <<<"$floor") ms"
echo "BENCH activation: ratio $(python3 -c "print(f'{$rate / $tps:.2f}')") (goal >= 0.8, p99 < 25 ms); the floor's ratio $(python3 -c "print(f'{$floor_rate / $tps:.2f}')"); broker / floor $(python3 -c "print(f'{$rate / $floor_rate:.2f}')")"
activations=$(sed -n 's/^activations \([0-9]*\) .*/\1/p' <<<"$activation")
echo "BENCH activation: CPU per activation: broker $(bench_ms_per "$broker_cpu" "$activations") ms, postgres $(bench_ms_per "$postgres_cpu" "$activations") ms, load generator $(bench_ms_per "$load_cpu" "$activations") ms"
floor_activations=$(sed -n 's/^activations \([0-9]*\) .*/\1/p' <<<"$floor")
echo "BENCH activation: CPU per floor activation: server $(bench_ms_per "$floor_cpu" "$floor_activations") ms, postgres $(bench_ms_per "$floor_postgres_cpu" "$floor_activations") ms, load generator $(bench_ms_per "$floor_load_cpu" "$floor_activations") ms"
echo "BENCH activation: CPU per pgbench transaction: postgres $(bench_ms_per "$shape_postgres_cpu" "$transactions") ms, pgbench $(bench_ms_per "$pgbench_cpu" "$transactions") ms"
"$bin/breakglass" audit verify | sed 's/^/BENCH activation: /'
[ -z "$statements" ] || echo "$statements"
