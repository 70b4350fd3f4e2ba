#!/usr/bin/env bash
# Measures the retro PR escalation scheduler: the cost of an idle tick over BENCH_HISTORY settled
# obligations (default 100000), whether the claim uses the next-due index, and how fast a burst of
# BENCH_DUE obligations (default 2000) a day past their deadline is caught up. Real PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh
swift build --build-tests >&2
BREAKGLASS_BENCH=1 scripts/with-postgres.sh swift test --skip-build --filter EscalationBenchmark 2>&1 | grep -E "^BENCH|error|failed" || true
