#!/usr/bin/env bash
# Measures whether the broker stays as fast with a long history as without: in one run, on one throwaway
# PostgreSQL cluster with fsync on and one release `breakglassd serve`, it measures
#   (a) activation over HTTP, as bench-activation.sh does (BENCH_USERS distinct engineers, default 4000: with
#       16 requests in flight one stall is 16 slow answers, so p99 needs thousands; each breaking glass once,
#       BENCH_CLIENTS in flight, default 16): activations/s, p50, p99;
#   (b) the compliance queue as a compliance user reads it, one request after another (BENCH_READS, default
#       1000): GET /v1/compliance/queue and its CSV form, and a tenth as many of the /compliance page (the
#       queue with the area's figures);
# first on a database holding only a few hundred sessions that wait for review (BENCH_QUEUE, default 300),
# then again after loading BENCH_EVENTS audit events (default 1000000) and BENCH_SESSIONS sessions (default
# 100000) with what real ones leave behind (retro obligations settled in mixed states, escalations, reviews,
# pages and deliveries, expired, ended and revoked sessions, a few recent ones still owed). The history is
# loaded by `breakglass-bench seed-history` with COPY, sealed as the next links of the live audit chains, so
# the broker keeps appending to it and `breakglass audit verify` checks it all at the end. Prints both sets
# of figures, their ratios and whether each stays within 20% of the empty database.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bench-lib.sh
bench_start breakglassd breakglass breakglass-bench -- "$0" "$@"

users=${BENCH_USERS:-4000}
clients=${BENCH_CLIENTS:-16}
reads=${BENCH_READS:-1000}
queue=${BENCH_QUEUE:-300}
sessions=${BENCH_SESSIONS:-100000}
events=${BENCH_EVENTS:-1000000}
bin=$BENCH_BIN
bench_workdir scale
bench_superuser_database breakglass
bench_serve "$work/broker.log"

# The admin sets up the target; the pages' channel is created as an admin would and then retired, as after
# its receiver answered 410 Gone: the history's pages were delivered to it, and the live runs page nowhere,
# as bench-activation's broker does, so both figures compare with that benchmark's.
bench_enroll alice admin
"$bin/breakglass" admin set-target bench-token --kind token --max-ttl 1h --retro-deadline 24h --totp "$(bench_totp "$BENCH_SECRET" 0)" >&2
"$bin/breakglass" notify set-channel pager --kind webhook --endpoint "http://127.0.0.1:$(free_port)/hook" --event 'session.*' \
    --event 'retro.*' --totp "$(bench_totp "$BENCH_SECRET" 1)" >&2
psql -qX -d breakglass -c "UPDATE channels SET enabled = false, disabled_reason = 'the endpoint answered 410 Gone' WHERE name = 'pager'"
admin_credentials=$BREAKGLASS_CREDENTIALS
bench_enroll carol compliance
reviewer_token=$BENCH_TOKEN
export BREAKGLASS_CREDENTIALS=$admin_credentials

# Two sets of engineers: an engineer breaks glass once per TOTP step, and each run is a fresh crowd.
"$bin/breakglass-bench" enroll-many $((2 * users)) "$work/engineers.txt"
head -n "$users" "$work/engineers.txt" > "$work/engineers-empty.txt"
tail -n "$users" "$work/engineers.txt" > "$work/engineers-loaded.txt"

# Both runs read the same queue: the sessions waiting for review are there before the first.
"$bin/breakglass-bench" seed-history bench-token "$queue" $((queue * 10)) "$queue" >/dev/null

# settle: what autovacuum and the checkpointer do to a live database between bulk changes, done now, so that
# neither run measures the other's leftovers.
settle() { psql -qX -d breakglass -c "VACUUM ANALYZE" -c "CHECKPOINT"; }

# measure NAME ENGINEERS: (b) then (a), each figure stored as NAME_FIGURE.
measure() {
    local name=$1 out
    out=$("$bin/breakglass-bench" read "$BREAKGLASS_URL/v1/compliance/queue" "$reviewer_token" "$reads")
    printf -v "${name}_queue_p50" %s "$(bench_field p50_ms <<<"$out")"
    printf -v "${name}_queue_p99" %s "$(bench_field p99_ms <<<"$out")"
    printf -v "${name}_queue_bytes" %s "$(bench_field bytes <<<"$out")"
    out=$("$bin/breakglass-bench" read "$BREAKGLASS_URL/v1/compliance/queue?format=csv" "$reviewer_token" "$reads")
    printf -v "${name}_csv_p50" %s "$(bench_field p50_ms <<<"$out")"
    printf -v "${name}_csv_p99" %s "$(bench_field p99_ms <<<"$out")"
    out=$("$bin/breakglass-bench" read "$BREAKGLASS_URL/compliance" "$reviewer_token" $(((reads + 9) / 10)))
    printf -v "${name}_page_p50" %s "$(bench_field p50_ms <<<"$out")"
    printf -v "${name}_page_p99" %s "$(bench_field p99_ms <<<"$out")"
    out=$("$bin/breakglass-bench" activate "$BREAKGLASS_URL" bench-token "$2" "$clients")
    printf -v "${name}_rate" %s "$(bench_field rate <<<"$out")"
    printf -v "${name}_p50" %s "$(bench_field p50_ms <<<"$out")"
    printf -v "${name}_p99" %s "$(bench_field p99_ms <<<"$out")"
    printf -v "${name}_max" %s "$(bench_field max_ms <<<"$out")"
}
sizes() {
    psql -qAtX -d breakglass -c "SELECT format('%s audit events, %s sessions, %s in the compliance queue, database %s',
        (SELECT count(*) FROM audit_events), (SELECT count(*) FROM sessions),
        (SELECT count(*) FROM retro_obligations WHERE (status = 'owed' AND due_at <= now()) OR status = 'linked'),
        pg_size_pretty(pg_database_size('breakglass')))"
}

settle
empty_sizes=$(sizes)
measure empty "$work/engineers-empty.txt"

started=$(date +%s%N)
seeded=$("$bin/breakglass-bench" seed-history bench-token "$sessions" "$events" 0)
seeded_at=$(date +%s%N)
settle
settled_at=$(date +%s%N)
loaded_sizes=$(sizes)
measure loaded "$work/engineers-loaded.txt"

seconds() { awk -v ns="$1" 'BEGIN { printf "%.1f", ns / 1e9 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b / a }'; }
verdict() { awk -v a="$1" -v b="$2" 'BEGIN { print (b <= a * 1.2 ? "within 20%" : "MORE than 20% worse") }'; }
echo "BENCH scale: $(nproc) cores, release build, fsync on, $clients clients, $users engineers and $reads reads ($(((reads + 9) / 10)) of the page) per run"
echo "BENCH scale: empty:  $empty_sizes"
echo "BENCH scale: loaded: $loaded_sizes"
echo "BENCH scale: seeded $sessions sessions and $events audit events ($(bench_field rows <<<"$seeded") rows) by COPY in $(seconds $((seeded_at - started))) s; VACUUM ANALYZE and CHECKPOINT $(seconds $((settled_at - seeded_at))) s"
for run in empty loaded; do
    r=${run}_rate p50=${run}_p50 p99=${run}_p99 max=${run}_max
    q50=${run}_queue_p50 q99=${run}_queue_p99 qb=${run}_queue_bytes c50=${run}_csv_p50 c99=${run}_csv_p99 g50=${run}_page_p50 g99=${run}_page_p99
    printf 'BENCH scale: %-6s activation %s/s, p50 %s ms, p99 %s ms, max %s ms; queue p50 %s ms, p99 %s ms (%s bytes); CSV p50 %s ms, p99 %s ms; /compliance page p50 %s ms, p99 %s ms\n' \
        "$run" "${!r}" "${!p50}" "${!p99}" "${!max}" "${!q50}" "${!q99}" "${!qb}" "${!c50}" "${!c99}" "${!g50}" "${!g99}"
done
for figure in p99:activation_p99 queue_p50:queue_p50 queue_p99:queue_p99 csv_p50:csv_p50 page_p50:compliance_page_p50; do
    var=${figure%%:*} label=${figure#*:}
    e=empty_$var l=loaded_$var
    echo "BENCH scale: $label loaded/empty $(ratio "${!e}" "${!l}") ($(verdict "${!e}" "${!l}"))"
done
"$bin/breakglass" audit verify | sed 's/^/BENCH scale: /'
