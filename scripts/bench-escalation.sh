#!/usr/bin/env bash
# Measures the retro PR escalation scheduler with the release build on a throwaway PostgreSQL cluster with
# fsync on: the cost of an idle tick over BENCH_HISTORY settled obligations (default 100000), whether the claim
# uses the next-due index, and how fast a burst of BENCH_DUE obligations (default 2000) a day past their
# deadline is caught up. The ticks are the broker's own, run in process by `breakglass-bench escalation`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bench-lib.sh
bench_start breakglassd breakglass-bench -- "$0" "$@"

bench_workdir escalation
bench_superuser_database breakglass
echo "BENCH escalation: $(nproc) cores, release build, fsync on"
"$BENCH_BIN/breakglass-bench" escalation "${BENCH_HISTORY:-100000}" "${BENCH_DUE:-2000}"
