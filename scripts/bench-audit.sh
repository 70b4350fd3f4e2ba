#!/usr/bin/env bash
# Measures offline audit verification: writes a valid export of BENCH_EVENTS events (default 1000000)
# with the chain code the broker uses (the breakglass-bench helper), then times the release CLI's
# `breakglass audit verify --file` on it, pinned to one core, and reports its peak resident memory; a run
# over a tenth of the events shows that memory does not grow with the log. No database, no network.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bench-lib.sh
events=${BENCH_EVENTS:-1000000}
bench_build breakglass breakglass-bench
bin=$BENCH_BIN
bench_workdir audit

pin=()
command -v taskset >/dev/null 2>&1 && pin=(taskset -c 0)

# verify FILE: runs the verifier once; sets seconds and peak_kb.
verify() {
    local started ended
    started=$(date +%s%N)
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f %M -o "$work/rss" "${pin[@]}" "$bin/breakglass" audit verify --file "$1" >"$work/out"
        peak_kb=$(tail -n 1 "$work/rss")
    else
        # Without GNU time, sample the kernel's high-water mark until the verifier exits.
        "${pin[@]}" "$bin/breakglass" audit verify --file "$1" >"$work/out" &
        local pid=$! hwm
        peak_kb=0
        while kill -0 "$pid" 2>/dev/null; do
            hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
            [ -n "$hwm" ] && peak_kb=$hwm
            sleep 0.05
        done
        wait "$pid"
    fi
    ended=$(date +%s%N)
    seconds=$(awk -v ns=$((ended - started)) 'BEGIN { printf "%.2f", ns / 1e9 }')
    grep -q "audit chain intact" "$work/out" || { echo "BENCH audit verify did not find the generated log intact:" >&2; cat "$work/out" >&2; exit 1; }
}

small=$((events / 10))
"$bin/breakglass-bench" audit-export "$small" "$work/small.jsonl"
verify "$work/small.jsonl"
small_kb=$peak_kb

"$bin/breakglass-bench" audit-export "$events" "$work/audit.jsonl"
size_mb=$(( $(stat -c %s "$work/audit.jsonl") / 1048576 ))
verify "$work/audit.jsonl"

echo "BENCH audit verify --file: $events events ($size_mb MiB) in $seconds s = $(awk -v n="$events" -v s="$seconds" 'BEGIN { printf "%d", n / s }') events/s on one core (${pin[*]:-unpinned}; nproc $(nproc))"
echo "BENCH audit verify peak RSS: $((peak_kb / 1024)) MiB for $events events, $((small_kb / 1024)) MiB for $small"
