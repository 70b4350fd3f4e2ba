#!/usr/bin/env bash
# Builds and starts the broker. With no DATABASE_URL / PG* settings it runs on its embedded PostgreSQL
# cluster in BREAKGLASS_DATA_DIR (/var/lib/breakglass as root, ~/.local/share/breakglass otherwise).
# Extra arguments go to `breakglassd serve` (e.g. --port 8420, --host, --tls-cert/--tls-key). The PostgreSQL
# proxy for `recorded` targets listens on BREAKGLASS_PROXY_PORT (default 8421 here; empty turns it off).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh
swift build -c release --product breakglassd >&2
swift build -c release --product breakglass >&2
bin=$(swift build -c release --show-bin-path)
echo "CLI: $bin/breakglass   server admin: $bin/breakglassd admin create NAME" >&2
export BREAKGLASS_PROXY_PORT="${BREAKGLASS_PROXY_PORT-8421}"
exec "$bin/breakglassd" serve "$@"
