#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL cluster on a free loopback port, then removes it.
# PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` account.
# The command sees PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE for a superuser.
# Tests run with fsync off (speed, nothing to keep); BREAKGLASS_PG_DURABLE=1 keeps PostgreSQL's durable
# defaults, for benchmarks whose figures must mean what a production commit costs.
set -euo pipefail

bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
dir=$(mktemp -d /tmp/breakglass-pg.XXXXXX)
chmod 755 "$dir"
runas=()
if [ "$(id -u)" -eq 0 ]; then
    runas=(runuser -u postgres --)
    chown postgres "$dir"
fi
password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

cleanup() {
    "${runas[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT

printf '%s' "$password" > "$dir/pw"
[ "$(id -u)" -eq 0 ] && chown postgres "$dir/pw"
"${runas[@]}" "$bindir/initdb" -D "$dir/data" -U postgres --auth=scram-sha-256 --pwfile="$dir/pw" -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
rm -f "$dir/pw"
cat >> "$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = ''
max_connections = 300
CONF
# BREAKGLASS_PG_CONF: more settings for this cluster (e.g. a benchmark's pg_stat_statements), one per line.
[ -n "${BREAKGLASS_PG_CONF:-}" ] && printf '%s\n' "$BREAKGLASS_PG_CONF" >> "$dir/data/postgresql.conf"
if [ "${BREAKGLASS_PG_DURABLE:-0}" != 1 ]; then
    printf 'fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n' >> "$dir/data/postgresql.conf"
fi
"${runas[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/data/server.log" -w -t 60 start >/dev/null

export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres PGPASSWORD=$password PGDATABASE=postgres PGSSLMODE=disable
echo "throwaway PostgreSQL on 127.0.0.1:$port" >&2
"$@"
