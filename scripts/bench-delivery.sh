#!/usr/bin/env bash
# Measures the notification outbox: how fast one broker drains a backlog of BENCH_MESSAGES (default 2000)
# to a fast loopback webhook receiver, and the time from an activation's commit to its page arriving
# (p50/p99 over BENCH_PAGES activations, default 100). Real PostgreSQL, real HTTP on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh
swift build --build-tests >&2
BREAKGLASS_BENCH=1 scripts/with-postgres.sh swift test --skip-build --filter DeliveryBenchmark 2>&1 | grep -E "^BENCH|error|failed" || true
