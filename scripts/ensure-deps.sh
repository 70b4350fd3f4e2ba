#!/usr/bin/env bash
# Installs the system packages breakglass needs when they are missing: PostgreSQL server binaries
# (the embedded default and the test clusters) and oathtool (the independent TOTP implementation the
# tests check against); with --for-tests also chromium, the headless browser the compliance page is
# tested in, qrencode, which draws the enrolment QR code, promtool, which checks the example Prometheus
# alert rules, and pgaudit for the PostgreSQL server (a test's target cluster loads it). Safe to run repeatedly.
set -euo pipefail

need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v oathtool >/dev/null 2>&1 || need+=(oathtool)
command -v runuser >/dev/null 2>&1 || need+=(util-linux)
if [ "${1:-}" = "--for-tests" ]; then
    command -v chromium >/dev/null 2>&1 || need+=(chromium)
    command -v qrencode >/dev/null 2>&1 || need+=(qrencode)
    # promtool checks the example alert rules (Debian ships it with the prometheus package; no daemon starts).
    command -v promtool >/dev/null 2>&1 || need+=(prometheus)
    # pgaudit, for the test whose target cluster preloads it (the session role's statements as AUDIT lines).
    pgmajor=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 | cut -d/ -f5)
    if [ -n "$pgmajor" ] && [ ! -e "/usr/lib/postgresql/$pgmajor/lib/pgaudit.so" ]; then need+=("postgresql-$pgmajor-pgaudit"); fi
fi

if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "breakglass needs: ${need[*]}; install them (sudo apt-get install -y ${need[*]}) and re-run" >&2
        exit 1
    fi
    echo "installing ${need[*]} ..." >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "${need[@]}" >/dev/null 2>&1 \
        || { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${need[@]}" >/dev/null; }
fi
command -v swift >/dev/null 2>&1 || { echo "swift is not on PATH (Swift 6 toolchain required)" >&2; exit 1; }
