#!/usr/bin/env bash
# Measures activation throughput: BENCH_USERS engineers (default 400) break glass over real HTTP with
# BENCH_CONCURRENCY requests in flight (default 32), each proving its own TOTP code, against a throwaway
# PostgreSQL cluster. Prints activations/s and latency percentiles, then checks the audit chain.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh
swift build --build-tests >&2
BREAKGLASS_BENCH=1 scripts/with-postgres.sh swift test --skip-build --filter ActivationBenchmark 2>&1 | grep -E "^BENCH|error|failed" || true
