#!/usr/bin/env bash
# Measures page delivery from outside, as a user sees it: a release `breakglassd` on a throwaway PostgreSQL
# cluster with fsync on, a loopback webhook receiver, and BENCH_PAGES engineers (default 100) each breaking
# glass once over HTTP. Prints the time from an activation's 201 to its page reaching the receiver (p50/p99),
# then how fast the broker drains a backlog of BENCH_MESSAGES pages (default 2000) committed at once.
# BENCH_NO_NOTIFY=1 takes pg_notify away from the broker's role, leaving the delivery poll alone (the figures
# before pages were woken by NOTIFY).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bench-lib.sh
bench_start breakglassd breakglass -- "$0" "$@"
pages=${BENCH_PAGES:-100}
backlog=${BENCH_MESSAGES:-2000}
bin=$BENCH_BIN
bench_workdir delivery

# The broker as deployed: migrations as the schema owner, served as an unprivileged role granted breakglass_app.
psql -qc "CREATE DATABASE bench"
owner="postgres://$PGUSER:$PGPASSWORD@$PGHOST:$PGPORT/bench?sslmode=disable"
export BREAKGLASS_MIGRATION_DATABASE_URL=$owner
export DATABASE_URL="postgres://bench_app:bench-app-password@$PGHOST:$PGPORT/bench?sslmode=disable"
bench_master_key
# The engineers below enrol and break glass from one address; as behind a reverse proxy, each is told apart by
# X-Forwarded-For, so the per-address sign-in budget (a person typing) does not throttle the benchmark.
export BREAKGLASS_TRUSTED_PROXIES=127.0.0.1
"$bin/breakglassd" migrate >/dev/null
psql -d bench -qc "CREATE ROLE bench_app LOGIN PASSWORD 'bench-app-password'; GRANT breakglass_app TO bench_app"
wakes="woken by NOTIFY, poll 500 ms"
if [ "${BENCH_NO_NOTIFY:-0}" = 1 ]; then
    psql -d bench -qc "REVOKE EXECUTE ON FUNCTION pg_notify(text, text) FROM PUBLIC"
    wakes="poll 500 ms alone (BENCH_NO_NOTIFY)"
fi

receiver_port=$(free_port)
bench_serve "$work/server.log"

# The admin, through the CLI's scripted enrolment; its two changes use this TOTP step and the next.
enrolment_code() { awk '/enrolment code:/ { print $3 }'; }
bench_enroll bench-admin admin
"$bin/breakglass" admin set-target bench-db --max-ttl 1h --max-total 1h --retro-deadline 24h --audience bench-api \
    --totp "$(bench_totp "$BENCH_SECRET" 0)" >/dev/null
"$bin/breakglass" notify set-channel hook --kind webhook --endpoint "http://127.0.0.1:$receiver_port/hook" \
    --event session.activated --event 'bench.*' --totp "$(bench_totp "$BENCH_SECRET" 1)" >/dev/null

for i in $(seq 1 "$pages"); do
    "$bin/breakglassd" admin create "engineer$i" --role engineer | enrolment_code
done >"$work/codes"

BENCH_NPROC=$(nproc) BENCH_WAKES=$wakes BENCH_RECEIVER_PORT=$receiver_port BENCH_BACKLOG=$backlog BENCH_CODES=$work/codes python3 - <<'PY'
# One process holds the receiver and the client, so arrival and answer times come from one clock.
import hashlib, hmac, http.client, http.server, json, os, struct, subprocess, sys, threading, time

broker = os.environ["BREAKGLASS_URL"].removeprefix("http://")
backlog = int(os.environ["BENCH_BACKLOG"])
arrivals = {}          # session id (or bench message number) -> monotonic arrival time
lock = threading.Condition()

class Receiver(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        now = time.monotonic()
        data = body.get("data", {})
        key = ("bench", data["n"]) if "n" in data else data.get("session_id")
        with lock:
            arrivals.setdefault(key, now)
            lock.notify_all()
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args): pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["BENCH_RECEIVER_PORT"])), Receiver)
threading.Thread(target=server.serve_forever, daemon=True).start()

def totp(secret, offset):
    return subprocess.run(["oathtool", "--totp", "-b", secret, "-N", f"now {offset * 30} seconds"],
                          check=True, capture_output=True, text=True).stdout.strip()

def call(conn, path, body, address, token=None):
    headers = {"Content-Type": "application/json", "X-Forwarded-For": address}
    if token: headers["Authorization"] = "Bearer " + token
    conn.request("POST", path, json.dumps(body), headers)
    reply = conn.getresponse()
    text = reply.read()
    return reply.status, json.loads(text or b"{}")

conn = http.client.HTTPConnection(broker)
engineers = []
for i, code in enumerate(open(os.environ["BENCH_CODES"]).read().split(), start=1):
    address = f"10.{i // 65536}.{i // 256 % 256}.{i % 256}"
    status, start = call(conn, "/v1/enrollment/start", {"code": code}, address)
    assert status == 200, start
    status, done = call(conn, "/v1/enrollment/confirm", {"code": code, "totp": totp(start["secret"], -1)}, address)
    assert status == 201, done
    engineers.append((address, start["secret"], done["api_token"]))

latencies = []
for address, secret, token in engineers:
    body = {"target": "bench-db", "reason": "benchmark page latency", "incident": "BENCH-1", "ttl": "5m", "totp": totp(secret, 1)}
    status, reply = call(conn, "/v1/sessions", body, address, token)
    answered = time.monotonic()
    assert status == 201, reply
    session = reply["session"]["id"]
    with lock:
        if not lock.wait_for(lambda: session in arrivals, timeout=30):
            sys.exit(f"BENCH the page of {session} did not arrive within 30 s")
        # A page may beat the 201 to the receiver: it is sent once the activation commits.
        latencies.append(max(0.0, arrivals[session] - answered) * 1000)

# A backlog committed in one transaction, behind the broker's back (psql), so no notification announces it:
# the drain is timed from its first page to its last.
subprocess.run(["psql", "-d", "bench", "-qc", f"""
    INSERT INTO outbox (id, event_type, session_id, payload, created_at)
    SELECT gen_random_uuid(), 'bench.message', 'bg_BENCH' || i, jsonb_build_object('n', i::text), now()
    FROM generate_series(1, {backlog}) AS i"""], check=True)
keys = [("bench", str(i)) for i in range(1, backlog + 1)]
with lock:
    if not lock.wait_for(lambda: all(k in arrivals for k in keys), timeout=600):
        sys.exit(f"BENCH the backlog was not drained within 600 s")
    times = sorted(arrivals[k] for k in keys)
seconds = times[-1] - times[0]

latencies.sort()
pct = lambda p: latencies[min(len(latencies) - 1, int(len(latencies) * p))]
print(f"BENCH page latency, activation answered (201) to page received, over {len(latencies)} activations: "
      f"p50 {pct(0.5):.1f} ms, p99 {pct(0.99):.1f} ms, max {latencies[-1]:.1f} ms ({os.environ['BENCH_WAKES']}; nproc {os.environ['BENCH_NPROC']})")
print(f"BENCH drain: {backlog} pages in {seconds:.2f} s = {backlog / seconds:.0f} pages/s to one webhook receiver")
PY
