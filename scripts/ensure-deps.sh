#!/usr/bin/env bash
# Installs the system packages breakglass needs when they are missing: PostgreSQL server binaries
# (the embedded default and the test clusters) and oathtool (the independent TOTP implementation the
# tests check against); with --for-tests also chromium, the headless browser the compliance page is
# tested in, qrencode, which draws the enrolment QR code, promtool, which checks the example Prometheus
# alert rules, pgaudit for the PostgreSQL server (a test's target cluster loads it), and schemathesis (from
# PyPI), which fuzzes the running broker from its OpenAPI document; with --for-bench also GNU time, which the
# benchmarks read the load's and pgbench's CPU time from. Safe to run repeatedly.
set -euo pipefail

need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v oathtool >/dev/null 2>&1 || need+=(oathtool)
command -v runuser >/dev/null 2>&1 || need+=(util-linux)
if [ "${1:-}" = "--for-bench" ]; then
    [ -x /usr/bin/time ] || need+=(time)
fi
if [ "${1:-}" = "--for-tests" ]; then
    command -v chromium >/dev/null 2>&1 || need+=(chromium)
    command -v qrencode >/dev/null 2>&1 || need+=(qrencode)
    # promtool checks the example alert rules (Debian ships it with the prometheus package; no daemon starts).
    command -v promtool >/dev/null 2>&1 || need+=(prometheus)
    # pgaudit, for the test whose target cluster preloads it (the session role's statements as AUDIT lines).
    pgmajor=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 | cut -d/ -f5)
    if [ -n "$pgmajor" ] && [ ! -e "/usr/lib/postgresql/$pgmajor/lib/pgaudit.so" ]; then need+=("postgresql-$pgmajor-pgaudit"); fi
    # Debian's python3 makes virtual environments only with python3-venv.
    python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)
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

if [ "${1:-}" = "--for-tests" ]; then
    # Debian's Python refuses system-wide pip installs: schemathesis gets a virtual environment of its own in the
    # user's cache, outside the repository, where APIContractTests finds it. Pinned: the test uses its CLI flags.
    version=4.32.5
    home="${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}"
    venv="${XDG_CACHE_HOME:-$home/.cache}/breakglass/schemathesis"
    if [ "$("$venv/bin/schemathesis" --version 2>/dev/null)" != "schemathesis, version $version" ]; then
        echo "installing schemathesis $version into $venv ..." >&2
        { python3 -m venv "$venv" && "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"; } >/dev/null \
            || { echo "could not install schemathesis $version into $venv" >&2; exit 1; }
    fi
fi
