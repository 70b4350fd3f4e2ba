# Shared set-up of the scripts/bench-*.sh measurements; sourced by them (from the repository root), not run.
# A benchmark calls `bench_start PRODUCT...` first: outside a cluster it builds those release products and
# runs the script again inside a throwaway PostgreSQL cluster with fsync on (scripts/with-postgres.sh,
# BREAKGLASS_PG_DURABLE=1), so its figures mean what a production commit costs; inside, it returns.
# shellcheck shell=bash

# bench_build PRODUCT...: installs missing system packages, builds the release products, sets BENCH_BIN.
bench_build() {
    scripts/ensure-deps.sh --for-bench >&2
    local product
    for product in "$@"; do swift build -c release --product "$product" >&2; done
    BENCH_BIN=$(swift build -c release --show-bin-path)
    export BENCH_BIN
}

# bench_start PRODUCT...: see above. The script's arguments are passed on ("$0" "$@" of the caller).
bench_start() {
    [ -n "${BENCH_IN_CLUSTER:-}" ] && return 0
    local products=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do products+=("$1"); shift; done
    shift
    bench_build "${products[@]}"
    # BENCH_STATEMENTS=1: the cluster loads pg_stat_statements, for scripts that print where PostgreSQL's time went.
    if [ "${BENCH_STATEMENTS:-0}" = 1 ]; then
        export BREAKGLASS_PG_CONF="shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track_planning = on"
    fi
    BENCH_IN_CLUSTER=1 BREAKGLASS_PG_DURABLE=1 exec scripts/with-postgres.sh "$@"
}

# bench_statements DATABASE: with BENCH_STATEMENTS=1, the statements that took PostgreSQL longest since the last
# call (execution includes lock waits), then a reset; without it, nothing.
bench_statements() {
    [ "${BENCH_STATEMENTS:-0}" = 1 ] || return 0
    psql -qX -d "$1" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"
    psql -X -d "$1" -c "SELECT calls, round(total_exec_time::numeric, 1) AS exec_ms, round(total_plan_time::numeric, 1) AS plan_ms, rows,
        left(regexp_replace(query, '\s+', ' ', 'g'), 100) AS statement
        FROM pg_stat_statements ORDER BY total_exec_time + total_plan_time DESC LIMIT 15" | sed 's/^/BENCH statements: /'
    psql -qX -d "$1" -c "SELECT pg_stat_statements_reset()" >/dev/null
}

# bench_workdir NAME: a private directory in $work, removed on exit with every broker bench_serve started.
bench_workdir() {
    work=$(mktemp -d "/tmp/breakglass-bench-$1.XXXXXX")
    BENCH_PIDS=()
    trap bench_cleanup EXIT
}

bench_cleanup() {
    local pid
    for pid in "${BENCH_PIDS[@]}"; do
        kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    done
    rm -rf "$work"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# bench_field NAME: the number after " NAME " in breakglass-bench's one-line reports (stdin).
bench_field() { sed -n "s/.* $1 \([0-9.]*\).*/\1/p"; }

# bench_superuser_database NAME: the broker's database NAME on this cluster, migrated, and served as the
# cluster's superuser (only because this is a benchmark; the deployed broker refuses such a role), with a
# fresh master key.
bench_superuser_database() {
    psql -qX -c "CREATE DATABASE $1"
    export DATABASE_URL="postgres://$PGUSER:$PGPASSWORD@127.0.0.1:$PGPORT/$1?sslmode=disable"
    export BREAKGLASS_MIGRATION_DATABASE_URL=$DATABASE_URL BREAKGLASS_ALLOW_PRIVILEGED_ROLE=1
    bench_master_key
    "$BENCH_BIN/breakglassd" migrate >&2
}

bench_master_key() {
    head -c 32 /dev/urandom | base64 > "$work/master.key"
    chmod 600 "$work/master.key"
    export BREAKGLASS_MASTER_KEY_FILE=$work/master.key BREAKGLASS_LOG_LEVEL=${BREAKGLASS_LOG_LEVEL:-warning}
}

# bench_serve LOG: starts `breakglassd serve` on a free port with the environment as set, and waits for it
# to answer; exports BREAKGLASS_URL for the CLI.
bench_serve() {
    BREAKGLASS_PORT=$(free_port)
    export BREAKGLASS_PORT BREAKGLASS_URL=http://127.0.0.1:$BREAKGLASS_PORT
    "$BENCH_BIN/breakglassd" serve > "$1" 2>&1 &
    BENCH_PIDS+=($!)
    local _
    for _ in $(seq 1 200); do
        curl -sf "$BREAKGLASS_URL/healthz" >/dev/null && return 0
        sleep 0.05
    done
    echo "breakglassd did not start:" >&2
    cat "$1" >&2
    return 1
}

# bench_totp SECRET OFFSET: the TOTP code OFFSET steps from now. A code works once per user and the broker
# accepts one step either side, so one user's successive changes use successive steps.
bench_totp() { oathtool --totp -b "$1" -N "now $(($2 * 30)) seconds"; }

# bench_enroll NAME ROLE...: creates the account with `breakglassd admin create` and enrols it through the
# CLI's scripted enrolment, confirming with the previous step's code so that this step and the next are
# left for two changes without waiting for the clock. Sets BENCH_SECRET and BENCH_TOKEN and exports
# BREAKGLASS_CREDENTIALS (the account's file in $work).
bench_enroll() {
    local name=$1 code role roles=()
    shift
    for role in "$@"; do roles+=(--role "$role"); done
    export BREAKGLASS_CREDENTIALS=$work/$name.json
    code=$("$BENCH_BIN/breakglassd" admin create "$name" "${roles[@]}" | sed -n 's/.*enrolment code: *\([^ ]*\).*/\1/p')
    "$BENCH_BIN/breakglass" enroll "$code" --secret-out "$work/$name.secret" >&2
    BENCH_SECRET=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["secret"])' "$work/$name.secret")
    "$BENCH_BIN/breakglass" enroll --confirm "$code" --totp "$(bench_totp "$BENCH_SECRET" -1)" >&2
    BENCH_TOKEN=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["token"])' "$BREAKGLASS_CREDENTIALS")
}

# bench_cpu_ticks PID...: CPU time (user + system, in clock ticks, all threads) the processes and their reaped
# children have used so far (a PostgreSQL backend that exits is added to the postmaster's); a process that is
# gone counts 0. CPU per operation is steadier than throughput on a shared box.
bench_cpu_ticks() {
    local pid total=0
    for pid in "$@"; do
        [ -r "/proc/$pid/stat" ] || continue
        # The fields after the parenthesised command name: utime, stime, cutime, cstime are the 12th to 15th.
        total=$((total + $(sed 's/.*) //' "/proc/$pid/stat" | awk '{print $12 + $13 + $14 + $15}')))
    done
    echo "$total"
}

# bench_postgres_pids: the cluster's postmaster and every process it started (backends, WAL writer...).
bench_postgres_pids() {
    local postmaster
    postmaster=$(head -n 1 "$(psql -AtqX -c 'SHOW data_directory')/postmaster.pid")
    echo "$postmaster" $(ps -o pid= --ppid "$postmaster")
}

# bench_ms_per TICKS COUNT: milliseconds of CPU per operation.
bench_ms_per() { python3 -c "print(f'{$1 * 1000 / $(getconf CLK_TCK) / $2:.2f}')"; }
