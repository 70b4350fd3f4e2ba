import BreakglassCore
import BreakglassStore
import BreakglassTestSupport
import Foundation
import XCTest

/// `/metrics` of the real `breakglassd` after scripted activity (an activation, wrong codes up to a
/// lockout, a delivered page and a dead letter, made through another instance on the same database): every
/// figure is there with the value the activity implies, read from the database, so any instance reports it.
final class MetricsExportTests: BrokerTestCase {
    /// Samples by series (`name{labels}`), from the Prometheus text format.
    static func samples(_ text: String) -> [String: Double] {
        var out: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            out[String(line[..<space])] = value
        }
        return out
    }

    func wrongCode(_ secret: String) async throws -> String { String(format: "%06d", (Int(try await code(secret))! + 500_000) % 1_000_000) }

    func testEveryBrokerFigureIsExportedAfterScriptedActivity() async throws {
        let receiver = LoopbackReceiver()
        try await receiver.start()
        addTeardownBlock { await receiver.stop() }
        await receiver.setDefault("/dead", .init(status: 400, body: "no such hook"))
        let alice = try await enrolledUser("alice", roles: [.admin, .engineer])
        let bob = try await enrolledUser("bob", roles: [.engineer])
        try await makeTarget("payments-db", admin: alice)
        for (name, path) in [("hook", "/hook"), ("broken", "/dead")] {
            let saved = try await adminSend(.PUT, "/v1/notify/channels/\(name)", as: alice,
                                            json: ["kind": "webhook", "url": receiver.url(path), "events": ["session.activated"]])
            XCTAssertEqual(saved.status, 200, saved.text)
        }
        let granted = try await requestSession(target: "payments-db", token: alice.token, secret: alice.secret)
        XCTAssertEqual(granted.status, 201, granted.text)
        nextStep()
        for attempt in 1...5 {
            let denied = try await http.send(.POST, "/v1/sessions", token: bob.token, json: [
                "target": "payments-db", "reason": "INC-9 guessing", "incident": "INC-9", "totp": try wrongCode(bob.secret)])
            XCTAssertEqual(denied.status, attempt < 5 ? 403 : 423, denied.text)
        }
        try await waitUntil {
            let dead = try await self.database.count("SELECT count(*)::bigint FROM deliveries WHERE state = 'dead'")
            let delivered = try await self.database.count("SELECT count(*)::bigint FROM deliveries WHERE state = 'delivered'")
            return dead >= 1 && delivered >= 1
        }

        let broker = try await BrokerProcess.start(try processEnvironment(["BREAKGLASS_LOG_LEVEL": "critical"]))
        defer { broker.process.stop(SIGTERM) }
        let client = HTTPTestClient(baseURL: broker.url)
        let health = try await client.send(.GET, "/healthz")
        XCTAssertEqual(health.status, 200)
        // The request histogram is recorded once a response is written, and /metrics is cached for 2 s.
        var metrics: [String: Double] = [:]
        try await waitUntil {
            metrics = Self.samples(try await client.send(.GET, "/metrics").text)
            return metrics.keys.contains { $0.hasPrefix("breakglass_http_request_duration_seconds_count{") && $0.contains("route=\"/healthz\"") }
        }
        XCTAssertEqual(metrics["breakglass_activations_total{target=\"payments-db\",outcome=\"granted\"}"], 1)
        XCTAssertEqual(metrics["breakglass_activations_total{target=\"payments-db\",outcome=\"denied\"}"], 5)
        XCTAssertEqual(metrics["breakglass_totp_failures_total"], 5)
        XCTAssertEqual(metrics["breakglass_lockouts_total"], 1)
        XCTAssertEqual(metrics["breakglass_sessions_active"], 1)
        XCTAssertNotNil(metrics["breakglass_outbox_pending"])
        XCTAssertGreaterThanOrEqual(metrics["breakglass_outbox_oldest_pending_seconds"] ?? -1, 0)
        XCTAssertGreaterThanOrEqual(metrics["breakglass_deliveries_total{channel_kind=\"webhook\",result=\"delivered\"}"] ?? 0, 1)
        XCTAssertEqual(metrics["breakglass_deliveries_total{channel_kind=\"webhook\",result=\"dead\"}"], 1)
        XCTAssertEqual(metrics["breakglass_dead_letters"], 1)
        XCTAssertEqual(metrics["breakglass_expiry_lag_seconds"], 0)
        // Existing names keep working.
        XCTAssertNotNil(metrics["breakglass_retro_overdue"])
        XCTAssertNotNil(metrics["breakglass_github_deliveries_rejected_total"])
        // Routes are templates, never raw paths (no session ids in label values).
        XCTAssertFalse(metrics.keys.contains { $0.contains("bg_") }, metrics.keys.sorted().joined(separator: "\n"))
    }

    func testPendingPagesAndExpiryLagAreMeasuredFromTheDatabase() async throws {
        let alice = try await enrolledUser("alice", roles: [.admin, .engineer])
        try await makeTarget("payments-db", admin: alice)
        let port = try await LoopbackReceiver.unusedPort()
        let saved = try await adminSend(.PUT, "/v1/notify/channels/down", as: alice,
                                        json: ["kind": "webhook", "url": "http://127.0.0.1:\(port)/hook", "events": ["session.activated"]])
        XCTAssertEqual(saved.status, 200, saved.text)
        let granted = try await requestSession(target: "payments-db", token: alice.token, secret: alice.secret, ttl: "5m")
        XCTAssertEqual(granted.status, 201, granted.text)
        // Read as of ten minutes later (the services keep the present): the page still waits, its receiver
        // being down, and the session is five minutes past its expiry.
        let later = clock.now() + 600
        let figures = try await server.broker.database.read { try await BrokerFigures.read($0, now: later) }
        XCTAssertGreaterThanOrEqual(figures.outboxPending, 1)
        XCTAssertEqual(figures.outboxOldestPendingSeconds, 600, accuracy: 2)
        XCTAssertEqual(figures.expiryLagSeconds, 300, accuracy: 2)
        XCTAssertEqual(figures.sessionsActive, 0, "a session past its expiry is not counted as active")
    }
}
