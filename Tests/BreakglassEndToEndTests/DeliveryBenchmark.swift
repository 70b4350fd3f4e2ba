import BreakglassCore
import BreakglassTestSupport
import Foundation
import XCTest

/// Not a test: measurements run by `scripts/bench-delivery.sh` (skipped otherwise).
final class DeliveryBenchmark: BrokerTestCase {
    override var serverDelivers: Bool { false }

    func testOutboxDrainAndPageLatency() async throws {
        let env = ProcessInfo.processInfo.environment
        guard env["BREAKGLASS_BENCH"] == "1" else { throw XCTSkip("benchmark: run scripts/bench-delivery.sh") }
        let backlog = Int(env["BENCH_MESSAGES"] ?? "2000") ?? 2000
        let pages = Int(env["BENCH_PAGES"] ?? "100") ?? 100
        let receiver = LoopbackReceiver()
        try await receiver.start()
        defer { Task { await receiver.stop() } }
        let alice = try await enrolledUser("alice", roles: [.admin, .engineer])
        try await makeTarget("payments-db", admin: alice, maxTTL: "1h", maxTotal: "1h")
        let hook = try await adminSend(.PUT, "/v1/notify/channels/hook", as: alice, json: ["kind": "webhook", "url": receiver.url("/hook"), "events": ["bench.*", "session.activated"]])
        XCTAssertEqual(hook.status, 200)

        // 1. Drain: a backlog committed while no instance delivered, then one instance drains it.
        try await database.asSuperuser("""
            INSERT INTO outbox (id, event_type, session_id, payload, created_at)
            SELECT gen_random_uuid(), 'bench.message', 'bg_BENCH' || i, jsonb_build_object('user', 'alice', 'n', i::text), now()
            FROM generate_series(1, \(backlog)) AS i
            """)
        let deliverer = TestServer(database: database, clock: clock, masterKey: server.masterKey)
        let started = ContinuousClock.now
        try await deliverer.start()
        let drained = try await receiver.waitFor(backlog, at: "/hook", timeout: .seconds(300))
        let drainTime = ContinuousClock.now - started
        XCTAssertEqual(drained.count, backlog)

        // 2. Latency: activation committed (201 received) to page arriving at the receiver.
        var latencies: [Double] = []
        let client = HTTPTestClient(baseURL: deliverer.baseURL)
        for _ in 0..<pages {
            nextStep()
            let reply = try await client.send(.POST, "/v1/sessions", token: alice.token, json: [
                "target": "payments-db", "reason": "benchmark page latency", "incident": "BENCH-2", "totp": try code(alice.secret), "ttl": "5m",
            ])
            let committed = ContinuousClock.now
            XCTAssertEqual(reply.status, 201, reply.text)
            let id = (reply.json["session"] as! [String: Any])["id"] as! String
            while true {
                let arrived = await receiver.received("/hook").last { ($0.json["data"] as? [String: Any])?["session_id"] as? String == id }
                if let arrived {
                    let d = arrived.arrivedAt - committed
                    latencies.append(max(0, Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15))
                    break
                }
                try await Task.sleep(for: .milliseconds(1))
            }
        }
        await deliverer.stop()
        latencies.sort()
        let seconds = Double(drainTime.components.seconds) + Double(drainTime.components.attoseconds) / 1e18
        let report = String(format: "drain: %d messages in %.2f s = %.0f msg/s; page latency over %d activations (poll 20 ms): p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
                            backlog, seconds, Double(backlog) / seconds, pages, latencies[latencies.count / 2],
                            latencies[min(latencies.count - 1, Int(Double(latencies.count) * 0.99))], latencies.last!)
        FileHandle.standardError.write(Data(("BENCH " + report).utf8))
    }
}
